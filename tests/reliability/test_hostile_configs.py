"""A `--config` from a stranger (a shared run.json, a YAML file) cannot pick local files outside
its own folder, nor where outputs go; what it will send where is shown before anything is sent.
The run.json of a run made on this machine is trusted as before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.pipeline.test_run_command import _instructions, responder


@pytest.fixture
def server() -> StubServer:
    with StubServer(responder) as srv:
        yield srv


def _shared_run_json(folder: Path, server: StubServer, **judge: object) -> Path:
    """A run.json as someone else's machine wrote it (no origin mark of ours)."""
    folder.mkdir(parents=True)
    judge_settings = {"judge": {"spec": "openai:the-judge", "base_urls": [server.base_url]}, **judge}
    data = {"format_version": 2, "generate": {"settings": {
        "model": {"spec": "openai:the-model", "base_urls": [server.base_url]}, "instructions": "inst.jsonl"}},
        "judging": {"openai:the-judge": {"settings": judge_settings}}}
    path = folder / "run.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.mark.parametrize("template", ["../secret.j2", "/etc/hostname", "link.j2"])
def test_a_shared_run_json_cannot_read_files_outside_its_folder(tmp_path: Path, server: StubServer, cli: CliRun,
                                                                template: str) -> None:
    secret = tmp_path / "secret.j2"
    secret.write_text("my private notes {{ candidate }}", encoding="utf-8")
    config = _shared_run_json(tmp_path / "shared", server, template_multi=template)
    _instructions(tmp_path).rename(tmp_path / "shared" / "inst.jsonl")
    (tmp_path / "shared" / "link.j2").symlink_to(secret)  # a link out of the folder is outside too
    code, _, err = cli("run", "--config", str(config), "--no-progress")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "outside the config's folder" in err and "--template-multi" in err
    assert server.count == 0  # nothing was sent


def test_a_shared_run_json_resolves_its_files_beside_it_and_shows_what_it_sends(
        tmp_path: Path, server: StubServer, cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _shared_run_json(tmp_path / "shared", server)
    _instructions(tmp_path).rename(tmp_path / "shared" / "inst.jsonl")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "inst.jsonl").write_text('{"id": 1, "instruction": "not this one"}\n', encoding="utf-8")
    monkeypatch.chdir(elsewhere)  # a relative path means beside the config, not in the working folder
    code, _, err = cli("run", "--config", str(config), "--no-progress", "--bootstrap", "10")
    assert code == 0, err
    assert "was not written by a run on this machine" in err
    assert f"model openai:the-model at {server.base_url} (key: $OPENAI_API_KEY (if set))" in err
    assert f"judge openai:the-judge at {server.base_url}" in err
    assert f"reads {tmp_path / 'shared' / 'inst.jsonl'}" in err
    assert err.index("was not written") < err.index("Generation")  # shown before anything was sent
    assert server.count == 16  # the 8 items of the file beside the config, generated and judged


def test_a_foreign_config_cannot_choose_where_outputs_go(tmp_path: Path, server: StubServer, cli: CliRun) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    _instructions(tmp_path).rename(folder / "inst.jsonl")
    config = folder / "eval.yaml"
    config.write_text(f"model: openai:the-model\nbase_url: {server.base_url}\njudge: openai:the-judge\n"
                      f"judge_base_url: {server.base_url}\ninstructions: inst.jsonl\nout: {tmp_path / 'victim'}\n",
                      encoding="utf-8")
    code, _, err = cli("run", "--config", str(config), "--no-progress")
    assert code == 2 and "--out" in err and "outside the config's folder" in err
    assert not (tmp_path / "victim").exists() and server.count == 0
    with config.open("a", encoding="utf-8") as fh:
        fh.write("cache_dir: ../cache\n")
    code, _, err = cli("run", "--config", str(config), "--no-progress", "--out", str(tmp_path / "mine"))
    assert code == 2 and "--cache-dir" in err and server.count == 0
    # the user's own command-line choice is theirs to make
    code, _, err = cli("run", "--config", str(config), "--no-progress", "--out", str(tmp_path / "mine"),
                       "--cache-dir", str(tmp_path / "cache"), "--bootstrap", "10")
    assert code == 0, err
    assert (tmp_path / "mine" / "judgments.jsonl").exists()


def test_the_run_json_of_a_run_made_here_is_trusted(tmp_path: Path, server: StubServer, cli: CliRun) -> None:
    instructions = _instructions(tmp_path)
    run = tmp_path / "run"
    code, _, err = cli("run", "--model", "openai:the-model", "--base-url", server.base_url, "--judge",
                       "openai:the-judge", "--judge-base-url", server.base_url, "--instructions", str(instructions),
                       "--out", str(run), "--no-progress", "--bootstrap", "10")
    assert code == 0, err
    code, _, err = cli("run", "--config", str(run / "run.json"), "--bootstrap", "10")
    assert code == 0, err
    assert "not written by a run on this machine" not in err
    # copied elsewhere, the same file is a stranger's
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "run.json").write_bytes((run / "run.json").read_bytes())
    code, _, err = cli("run", "--config", str(copy / "run.json"), "--bootstrap", "10")
    assert code == 2 and "outside the config's folder" in err
