"""SIGTERM (kill, a scheduler stopping a job) and SIGHUP (the terminal closed) stop a run as
Ctrl-C does: what finished is kept, the process says so, exits 128 + the signal (143, 129) so a
chained command stops, and the same command again sends exactly the items not yet done. A real
signal to a child process running a slow `generate` against the loopback server."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from justeval.generation import latest_generations
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.generation.test_generation_cli import N_SLOW, _interrupt_a_slow_generate


@pytest.mark.parametrize(("sig", "code", "name"), [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")])
def test_a_stop_signal_keeps_what_finished_and_the_rerun_sends_the_rest(
        sig: signal.Signals, code: int, name: str, tmp_path: Path, stub_server: StubServer, cli: CliRun) -> None:
    args, proc, run = _interrupt_a_slow_generate(tmp_path, stub_server, sig, after=6)
    _, err = proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == code, text
    assert f"stopped by {name}: finished items are saved; run the same command again to resume" in text
    assert "Traceback" not in text
    done_before = set(latest_generations(RunDir(run)))
    assert 6 <= len(done_before) < N_SLOW
    assert all(g.status == "ok" for g in latest_generations(RunDir(run)).values())
    stub_server.reset()
    stub_server.latency = 0.0
    assert cli(*args)[0] == 0
    asked = {int(r.prompt_text.rsplit(" ", 1)[1]) for r in stub_server.requests}
    assert asked == set(range(N_SLOW)) - done_before and stub_server.count == len(asked)


def test_a_signal_the_parent_ignores_stays_ignored() -> None:
    """Under `nohup` SIGHUP is ignored: a closed terminal must not stop the run."""
    code = ("import signal, os, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); sys.argv = ['justeval', 'version'];"
            "from justeval.cli import main, _stop_on_signals; replaced = _stop_on_signals();"
            "assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN and signal.SIGHUP not in replaced;"
            "assert signal.SIGTERM in replaced; print('ok')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_main_gives_back_the_handlers_it_replaced(cli: CliRun) -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    assert cli("version")[0] == 0
    assert {s: signal.getsignal(s) for s in before} == before
