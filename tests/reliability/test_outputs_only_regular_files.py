"""Outputs are written only to regular files: a FIFO, a device or a link to one given as `--out`,
or standing where a record file goes, is refused in one line (exit 2) and left as it was; never
blocked on (a FIFO without a reader), never replaced by a regular file (as a rename would do to
`/dev/full` when run as root). Commands run in a child process, so a hang fails the test."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from justeval.jsonl import write_jsonl
from justeval.testing.stub_server import StubServer
from tests.reliability.bad_input_cases import N, instruction, output

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX special files")


def _justeval(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OPENAI_API_KEY": "sk-test-not-a-real-key"}
    return subprocess.run([sys.executable, "-m", "justeval", *args], capture_output=True, text=True, env=env,
                          timeout=60)


def _run_dir(tmp: Path) -> Path:
    run = tmp / "run"
    run.mkdir()
    write_jsonl(run / "generations.jsonl", [output(i) for i in range(N)])
    return run


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _char_device(path: Path) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # what /dev/null is
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def _link_to_dev_null(path: Path) -> Path:
    path.symlink_to("/dev/null")
    return path


SPECIAL: dict[str, Callable[[Path], Path]] = {"fifo": _fifo, "char_device": _char_device,
                                              "symlink_to_dev_null": _link_to_dev_null}


def _kind(path: Path) -> tuple[bool, int]:
    info = os.lstat(path)
    return stat.S_ISLNK(info.st_mode), stat.S_IFMT(os.stat(path).st_mode)


def _assert_refused(done: subprocess.CompletedProcess[str], target: Path) -> None:
    lines = [ln for ln in done.stderr.splitlines() if ln.strip()]
    assert done.returncode == 2, done.stderr
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(target) in lines[0]
    assert "not a regular file" in lines[0] and "Traceback" not in done.stderr


@pytest.mark.parametrize("special", list(SPECIAL))
@pytest.mark.parametrize("command", ["export", "instructions export", "leaderboard"])
def test_out_onto_a_special_file_is_refused_and_left_alone(command: str, special: str, tmp_path: Path) -> None:
    target = SPECIAL[special](tmp_path / "target.jsonl")
    before = _kind(target)
    ins = tmp_path / "ins.jsonl"
    write_jsonl(ins, [instruction(i) for i in range(N)])
    run = _run_dir(tmp_path)
    args = {"export": ["export", str(run), "--out", str(target)],
            "instructions export": ["instructions", "export", "--instructions", str(ins), "--out", str(target)],
            "leaderboard": ["leaderboard", str(run), "--format", "json", "--out", str(target)]}[command]
    _assert_refused(_justeval(*args), target)
    assert _kind(target) == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".target")]


@pytest.mark.parametrize("special", ["fifo", "symlink_to_dev_null"])
@pytest.mark.parametrize("stage", ["generate", "judge"])
def test_a_record_file_that_is_a_special_file_is_refused(stage: str, special: str, tmp_path: Path,
                                                         stub_server: StubServer) -> None:
    ins = tmp_path / "ins.jsonl"
    write_jsonl(ins, [instruction(i) for i in range(N)])
    if stage == "generate":
        run = tmp_path / "run"
        run.mkdir()
        target = SPECIAL[special](run / "generations.jsonl")
        args = ["generate", "--model", "openai:m", "--instructions", str(ins), "--out", str(run)]
    else:
        run = _run_dir(tmp_path)
        target = SPECIAL[special](run / "judgments.jsonl")
        args = ["judge", str(run), "--judge", "openai:j"]
    before = _kind(target)
    _assert_refused(_justeval(*args, "--base-url", stub_server.base_url, "--no-progress", "--no-cache"), target)
    assert _kind(target) == before and stub_server.count == 0
