"""A mistyped command line ends with the usual usage message or one `error:` line, and exit 2,
never a traceback: through the real entry point (`python -m justeval` in a child process, with
the typer that is installed, which may carry its own copy of click), and through `main()` for
every option error the README promises exit 2 for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from justeval.jsonl import write_jsonl
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.reliability.bad_input_cases import N, instruction, output


def _entry_point(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key", "JUSTEVAL_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "justeval", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """An instruction set, an example pool and two run directories (five items each)."""
    ins = tmp_path / "ins.jsonl"
    write_jsonl(ins, [instruction(i) for i in range(N)])
    pool = tmp_path / "pool.jsonl"
    write_jsonl(pool, [{"instruction": f"q{i}", "output": f"a{i}"} for i in range(3)])
    runs = {}
    for name in ("a", "b"):
        run = tmp_path / name
        run.mkdir()
        write_jsonl(RunDir(run).generations, [{**output(i), "generator": name, "output": f"{name} {i}"}
                                              for i in range(N)])
        runs[name] = run
    return {"ins": ins, "pool": pool, **runs}


USAGE_TYPOS = [
    pytest.param(["generate", "--modle", "openai:m", "--out", "r"], "No such option: --modle", id="unknown-option"),
    pytest.param(["genrate", "--model", "openai:m"], "No such command 'genrate'", id="unknown-command"),
    pytest.param(["generate", "--out", "r"], "Missing option '--model'", id="missing-option"),
    pytest.param(["generate", "--model", "openai:m", "--out", "r", "--concurrency", "many"],
                 "Invalid value for '--concurrency'", id="not-a-number"),
    pytest.param(["generate", "--model", "openai:m", "--out", "r", "--concurrency", "0"],
                 "Invalid value for '--concurrency'", id="below-minimum"),
    pytest.param(["judge"], "Missing argument", id="missing-argument"),
]


@pytest.mark.parametrize(("args", "message"), USAGE_TYPOS)
def test_a_typo_prints_the_usage_message_and_exits_2(args: list[str], message: str, tmp_path: Path) -> None:
    done = _entry_point(*args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and not done.stdout
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    # the usual click message: the usage line, the hint, then the error
    assert lines[0].startswith("Usage: ") and lines[1].startswith("Try '") and lines[1].endswith("--help' for help.")
    assert lines[2] == f"Error: {lines[2][7:]}" and message in lines[2] and len(lines) == 3


def test_the_usage_message_comes_from_the_installed_typer_and_its_click() -> None:
    """The case the old check missed: typer's own copy of click, whose exceptions are not click's."""
    import typer

    from justeval.cli import _click_kind

    try:
        from typer._click import exceptions as vendored  # typer 0.2x vendors click
    except ImportError:
        import click.exceptions as vendored
    assert _click_kind(vendored.UsageError("x")) == "usage" and _click_kind(ValueError("x")) is None
    assert _click_kind(typer.Abort()) == "abort" and typer.__version__
    click = pytest.importorskip("click")  # click itself, where something else installed it
    assert _click_kind(click.UsageError("x")) == "usage" and _click_kind(click.Abort()) == "abort"


def _one_error_line(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


BIG_IDS = "0-2000000000"


def _commands_with_ids(f: dict[str, Path], srv: StubServer) -> dict[str, list[str]]:
    return {
        "generate": ["generate", "--model", "openai:m", "--out", str(f["a"].parent / "g"), "--instructions",
                     str(f["ins"]), "--base-url", srv.base_url],
        "run": ["run", "--model", "openai:m", "--judge", "openai:j", "--out", str(f["a"].parent / "p"),
                "--instructions", str(f["ins"]), "--base-url", srv.base_url, "--judge-base-url", srv.base_url],
        "instructions stats": ["instructions", "stats", "--instructions", str(f["ins"])],
        "instructions export": ["instructions", "export", "--instructions", str(f["ins"]), "--out",
                                str(f["a"].parent / "e.jsonl")],
        "pairwise": ["pairwise", str(f["a"]), str(f["b"]), "--judge", "openai:j", "--base-url", srv.base_url],
        "judge": ["judge", str(f["a"]), "--judge", "openai:j", "--base-url", srv.base_url],
        "sweep": ["sweep", "--out", str(f["a"].parent / "s"), "--model", "openai:m", "--judge", "openai:j",
                  "--instructions", str(f["ins"]), "--base-url", srv.base_url, "--judge-base-url", srv.base_url],
        "icl-select": ["icl-select", "--pool", str(f["pool"]), "--start", "default", "--dev", str(f["ins"]), "--out",
                       str(f["a"].parent / "p.txt"), "--model", "openai:m", "--judge", "openai:j", "--base-url",
                       srv.base_url, "--judge-base-url", srv.base_url],
        "token-shift": ["token-shift", str(f["a"]), "--base", "openai:m", "--base-url", srv.base_url],
    }


@pytest.mark.parametrize("command", [
    "generate", "judge", "run", "instructions stats", "instructions export", "pairwise", "sweep", "icl-select",
    "token-shift",
])
def test_a_huge_id_range_is_refused_by_every_command_with_ids(command: str, files: dict[str, Path], cli: CliRun,
                                                              stub_server: StubServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("JUSTEVAL_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(name, "1")  # nothing may be fetched (a tokenizer, a dataset) before the check
    code, _out, err = cli(*_commands_with_ids(files, stub_server)[command], "--ids", BIG_IDS)
    assert code == 2 and "--ids" in _one_error_line(err) and "2,000,000,001 ids" in err
    assert stub_server.count == 0


def _engine_commands(f: dict[str, Path], srv: StubServer) -> dict[str, list[str]]:
    base = _commands_with_ids(f, srv)
    return {"generate": base["generate"], "run": base["run"], "pairwise": base["pairwise"],
            "judge": ["judge", str(f["a"]), "--judge", "openai:j", "--base-url", srv.base_url]}


@pytest.mark.parametrize("command", ["generate", "judge", "run", "pairwise"])
@pytest.mark.parametrize(("option", "value", "says"), [
    ("--timeout", "0", "greater than 0"),
    ("--timeout", "-5", "greater than 0"),
    ("--base-url", "htp:/localhost", "malformed server URL"),
    ("--base-url", "http://[::1", "malformed server URL"),
    ("--base-url", "http://localhost:99999/v1", "malformed server URL"),
])
def test_a_bad_engine_option_is_one_line_exit_2(command: str, option: str, value: str, says: str,
                                                files: dict[str, Path], cli: CliRun, stub_server: StubServer) -> None:
    args = _engine_commands(files, stub_server)[command]
    if option == "--base-url":  # replace the good one
        at = args.index("--base-url")
        args = [*args[:at], *args[at + 2:]]
    code, _out, err = cli(*args, option, value)
    assert code == 2 and says in _one_error_line(err)
    assert stub_server.count == 0


def test_a_bad_judge_server_url_of_run_is_one_line_exit_2(files: dict[str, Path], cli: CliRun,
                                                           stub_server: StubServer) -> None:
    args = _commands_with_ids(files, stub_server)["run"]
    at = args.index("--judge-base-url")
    code, _out, err = cli(*args[:at], *args[at + 2:], "--judge-base-url", "ftp://judge")
    assert code == 2 and "malformed server URL" in _one_error_line(err) and stub_server.count == 0


@pytest.mark.parametrize(("args", "says"), [
    pytest.param(["export", "{a}", "--out", "{tmp}/x.json", "--format", "xml"], "--format", id="export-format"),
    pytest.param(["generate", "--model", "openai:m", "--out", "{tmp}/g", "--instructions", "{ins}", "--task",
                  "codng"], "unknown --task 'codng'", id="generate-task"),
    pytest.param(["instructions", "stats", "--instructions", "{ins}", "--subset", "regulr"], "unknown --subset",
                 id="stats-subset"),
    pytest.param(["generate", "--model", "openai:m", "--out", "{tmp}/g", "--instructions", "{ins}",
                  "--icl-examples", "{pool}", "--select", "bm99"], "select", id="generate-select"),
    pytest.param(["run", "--model", "openai:m", "--judge", "openai:j", "--out", "{tmp}/p", "--instructions", "{ins}",
                  "--select", "bm99"], "'select'", id="run-select"),
    pytest.param(["instructions", "export", "--instructions", "{ins}", "--out", "{tmp}/e.jsonl", "--limit", "-1"],
                 "limit", id="export-limit"),
    pytest.param(["leaderboard", "{a}", "--format", "xml"], "--format", id="leaderboard-format"),
])
def test_an_unknown_choice_is_one_line_exit_2(args: list[str], says: str, files: dict[str, Path], tmp_path: Path,
                                              cli: CliRun) -> None:
    filled = [a.format(tmp=tmp_path, **{k: str(v) for k, v in files.items()}) for a in args]
    code, _out, err = cli(*filled)
    assert code == 2 and says in _one_error_line(err), err


def test_a_settings_error_stays_one_line_naming_the_setting(files: dict[str, Path], tmp_path: Path,
                                                           cli: CliRun) -> None:
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"model": "openai:m", "judge": "openai:j", "concurrency": "many"}))
    code, _out, err = cli("run", "--config", str(config), "--out", str(tmp_path / "p"), "--instructions",
                          str(files["ins"]))
    assert code == 2 and "concurrency" in _one_error_line(err)
