"""`leaderboard`, `compare` and `publish` on the command line: a run directory that a failed
`run` left empty is skipped with a one-line note, and option values that cannot work are
usage errors (one line, exit 2) before anything is read."""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import pytest

from tests.conftest import CliRun

from .runs import uniform_run


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there once the socket is closed


@pytest.fixture
def failed_run(cli: CliRun, tmp_path: Path) -> Path:
    """What `justeval run` leaves when its model server is down: run.json and error records."""
    inst = tmp_path / "instructions.jsonl"
    inst.write_text("".join(json.dumps({"id": i, "instruction": f"q{i}", "category": "regular"}) + "\n"
                            for i in range(2)), encoding="utf-8")
    out = tmp_path / "runs" / "failed"
    code, _, _ = cli("run", "--model", "openai:m", "--judge", "openai:j", "--base-url",
                     f"http://127.0.0.1:{_closed_port()}/v1", "--instructions", str(inst), "--out", str(out),
                     "--no-progress", "--max-retries", "0")
    assert code != 0 and (out / "run.json").exists()
    return out


def _only_run_json(failed: Path, path: Path) -> Path:
    """A run that died before its first record: the failed run's run.json alone."""
    path.mkdir(parents=True)
    shutil.copy(failed / "run.json", path / "run.json")
    return path


@pytest.mark.parametrize("empty", ["run_json_only", "empty_folder", "empty_files"])
def test_a_run_directory_without_records_is_skipped_with_a_note(cli: CliRun, tmp_path: Path, empty: str,
                                                               failed_run: Path) -> None:
    good = uniform_run(tmp_path / "runs" / "a", "alpha", [4.0, 5.0], safety=[5.0])
    bad = tmp_path / "runs" / "b"
    if empty == "run_json_only":
        _only_run_json(failed_run, bad)
    else:
        bad.mkdir(parents=True)
        if empty == "empty_files":
            (bad / "generations.jsonl").write_text("", encoding="utf-8")
            (bad / "judgments").mkdir()
    code, out, err = cli("leaderboard", str(good), str(bad), "--format", "json", "--bootstrap", "10")
    assert code == 0, err
    assert [m["model"] for m in json.loads(out)["models"]] == ["alpha"]
    notes = [line for line in err.splitlines() if line.startswith("note: skipped")]
    assert len(notes) == 1 and str(bad) in notes[0]
    code, _, err = cli("publish", str(good), str(bad), "--out", str(tmp_path / "site"), "--bootstrap", "10")
    assert code == 0, err
    assert (tmp_path / "site" / "index.html").exists() and f"note: skipped {bad}" in err


def test_a_failed_run_shows_as_a_model_whose_generations_failed(cli: CliRun, tmp_path: Path) -> None:
    """A server that answers every call with an error: each item gets an error record (a dead
    server gets none: nothing is sent, and the run is skipped as above)."""
    from justeval.testing.stub_server import Reply, StubServer

    inst = tmp_path / "instructions.jsonl"
    inst.write_text("".join(json.dumps({"id": i, "instruction": f"q{i}", "category": "regular"}) + "\n"
                            for i in range(2)), encoding="utf-8")
    failed = tmp_path / "runs" / "failed"
    with StubServer(lambda req: Reply(status=400, text="model not loaded")) as srv:
        code, _, _ = cli("run", "--model", "openai:m", "--judge", "openai:j", "--base-url", srv.base_url,
                         "--instructions", str(inst), "--out", str(failed), "--no-progress")
    assert code == 1
    good = uniform_run(tmp_path / "runs" / "a", "alpha", [4.0, 5.0])
    code, out, err = cli("leaderboard", str(good), str(failed), "--format", "json", "--bootstrap", "10")
    assert code == 0, err
    models = {m["model"]: m for m in json.loads(out)["models"]}
    assert models["openai:m"]["counts"]["generation_errors"] == 2 and models["openai:m"]["average"]["mean"] is None


def test_only_empty_run_directories_is_an_error_naming_them(cli: CliRun, tmp_path: Path, failed_run: Path) -> None:
    a, b = _only_run_json(failed_run, tmp_path / "a"), _only_run_json(failed_run, tmp_path / "b")
    code, out, err = cli("leaderboard", str(a), str(b))
    assert code == 1 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: nothing to put on the leaderboard") and str(a) in last and str(b) in last


def test_a_path_that_is_not_a_directory_is_still_an_error(cli: CliRun, tmp_path: Path) -> None:
    good = uniform_run(tmp_path / "a", "alpha", [4.0])
    code, _, err = cli("leaderboard", str(good), str(tmp_path / "typo"))
    assert code == 2 and "typo" in err and "not a run directory" in err


@pytest.mark.parametrize(("args", "says"), [
    (["--na-as", "7"], "--na-as 7 is off the 1-5 score scale"),
    (["--na-as", "0"], "--na-as 0 is off the 1-5 score scale"),
    (["--format", "xml"], "unknown --format 'xml'"),
    (["--by", "nonsense"], "unknown --by 'nonsense'"),
    (["--by", "dataset,nonsense"], "unknown --by 'nonsense'"),
    (["--subset", "most"], "unknown subset 'most'"),
])
def test_option_values_that_cannot_work_exit_2_with_one_line(cli: CliRun, tmp_path: Path, args: list[str],
                                                             says: str) -> None:
    run = uniform_run(tmp_path / "a", "alpha", [4.0, 3.0])
    code, out, err = cli("leaderboard", str(run), *args)
    assert code == 2
    assert out == ""
    assert err.strip().splitlines() == [f"error: {err.strip().removeprefix('error: ')}"]
    assert says in err


@pytest.mark.parametrize("command", ["publish", "compare"])
def test_na_as_off_the_scale_is_refused_by_every_board_command(cli: CliRun, tmp_path: Path, command: str) -> None:
    a, b = uniform_run(tmp_path / "a", "alpha", [4.0]), uniform_run(tmp_path / "b", "beta", [3.0])
    extra = ["--out", str(tmp_path / "site")] if command == "publish" else []
    code, _, err = cli(command, str(a), str(b), *extra, "--na-as", "6")
    assert code == 2 and "off the 1-5 score scale" in err
    assert not (tmp_path / "site").exists()


def test_na_as_on_the_scale_counts_na_as_that_score(cli: CliRun, tmp_path: Path) -> None:
    run = uniform_run(tmp_path / "a", "alpha", [2.0, 2.0])
    judgments = run / "judgments.jsonl"
    lines = [json.loads(line) for line in judgments.read_text(encoding="utf-8").splitlines()]
    lines[1]["scores"] = {a: None for a in lines[1]["scores"]}  # the judge said N/A on item 1
    judgments.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    code, out, _ = cli("leaderboard", str(run), "--format", "json", "--na-as", "4", "--bootstrap", "0")
    assert code == 0
    assert json.loads(out)["models"][0]["aspects"]["helpfulness"]["mean"] == 3.0  # (2 + 4) / 2
