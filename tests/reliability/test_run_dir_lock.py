"""`RunDir.lock()`: one writing process per run directory. Two real processes: while one holds
the lock, the other is refused at once with a JustevalError (exit code 1) naming the holder's
process; a holder killed with SIGKILL frees it; the same process may take it again (nested
stages); the lock file is private and stays in place."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from justeval.errors import InputError, JustevalError
from justeval.rundir import LOCK_FILE, RunDir

pytest.importorskip("fcntl")

HOLD = ("import sys; from justeval.rundir import RunDir\n"
        "with RunDir(sys.argv[1]).lock():\n"
        "    print('locked', flush=True)\n"
        "    sys.stdin.readline()\n")
TRY = ("import sys; from justeval.rundir import RunDir; from justeval.errors import JustevalError\n"
       "try:\n"
       "    with RunDir(sys.argv[1]).lock():\n"
       "        print('got it')\n"
       "except JustevalError as exc:\n"
       "    print(f'error: {exc}', file=sys.stderr); sys.exit(exc.exit_code)\n")


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[tuple[Path, subprocess.Popen[str]]]:
    """A child process holding the lock of a fresh run directory until its stdin closes."""
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run), "generate", "--model", "openai:m"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    try:
        yield run, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_a_second_process_is_refused_naming_the_holder(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    run, proc = holder
    done = subprocess.run([sys.executable, "-c", TRY, str(run)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "got it" not in done.stdout
    line = done.stderr.strip()
    assert line.startswith(f"error: {run} is in use by process {proc.pid} (justeval ") and "\n" not in line
    assert "run the same command again" in line
    with pytest.raises(JustevalError) as info, RunDir(run).lock():  # and in this process too
        pass
    assert info.value.exit_code == 1 and f"process {proc.pid}" in str(info.value)


def test_the_lock_is_free_once_the_holder_ends_even_when_killed(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    run, proc = holder
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    done = subprocess.run([sys.executable, "-c", TRY, str(run)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "got it", done.stderr
    assert (run / LOCK_FILE).exists()  # left in place: removing it would let two processes lock two files


def test_a_holder_that_finishes_frees_it_and_clears_its_name(holder: tuple[Path, subprocess.Popen[str]]) -> None:
    run, proc = holder
    assert str(proc.pid) in (run / LOCK_FILE).read_text()
    assert stat.S_IMODE(os.stat(run / LOCK_FILE).st_mode) == 0o600
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(10) == 0
    assert (run / LOCK_FILE).read_text() == ""
    with RunDir(run).lock():
        assert f"process {os.getpid()} " in (run / LOCK_FILE).read_text()


def test_the_same_process_may_take_it_again(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run").ensure()
    with run.lock(), RunDir(tmp_path / "run").lock():  # a pipeline holding it for its stages
        done = subprocess.run([sys.executable, "-c", TRY, str(run.path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1
    done = subprocess.run([sys.executable, "-c", TRY, str(run.path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_a_missing_run_directory_is_not_created(tmp_path: Path) -> None:
    with pytest.raises(InputError), RunDir(tmp_path / "typo").lock():
        pass
    assert not (tmp_path / "typo").exists()
