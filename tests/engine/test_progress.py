"""Progress: a bar on a terminal; a plain line every few seconds anywhere else (nohup, CI,
`| tee`) with done / total, ok, errors, cost so far and ETA; nothing when turned off."""

from __future__ import annotations

import io
import time

import pytest
from rich.console import Console

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import Engine, EngineConfig
from justeval.engine.progress import NullProgress, PlainProgress, RichProgress, make_progress
from justeval.testing.stub_server import StubServer
from tests.engine.conftest import chat_request


def test_progress_bar_reports_done_retries_and_failures() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    with RichProgress("judging", total=3, console=console) as bar:
        bar.advance(cost_usd=0.5)
        bar.retried()
        bar.retried()
        bar.advance(failed=True)
        bar.advance(cached=True)
    text = out.getvalue()
    assert "judging" in text and "3/3" in text
    assert "retries 2" in text and "failed 1" in text and "cached 1" in text and "$0.5000" in text


def test_off_a_terminal_the_progress_is_a_plain_line_not_a_bar(capsys: pytest.CaptureFixture[str]) -> None:
    progress = make_progress(True, "x", 3)
    assert isinstance(progress, PlainProgress) and not isinstance(progress, RichProgress)
    assert type(make_progress(False, "x", 3)) is NullProgress
    assert capsys.readouterr().err == ""  # nothing printed until an interval has passed


def test_the_plain_line_says_done_total_ok_errors_cost_and_eta() -> None:
    out = io.StringIO()
    progress = PlainProgress("judge openai:gpt-4o", 100, interval_s=3600, stream=out)
    for i in range(40):
        progress.advance(failed=i < 3, cost_usd=0.001)
    progress.retried()
    line = progress.line()
    assert line.startswith("judge openai:gpt-4o: 40/100 done, ok 37, errors 3, retries 1, $0.0400 so far, ")
    assert "/s, ETA " in line
    assert out.getvalue() == ""  # the interval has not passed
    unpriced = PlainProgress("generate", None, stream=io.StringIO())
    unpriced.advance()
    assert unpriced.line().startswith("generate: 1 done, ok 1, errors 0, cost unknown")


def test_a_plain_line_is_printed_every_interval_and_a_last_one_at_the_end() -> None:
    out = io.StringIO()
    with PlainProgress("gen", 10, interval_s=0.05, stream=out) as progress:
        progress.advance()
        time.sleep(0.06)
        progress.tick()
        progress.advance()
        time.sleep(0.06)
        progress.advance()
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("gen: 1/10 done") and lines[1].startswith("gen: 3/10 done")
    assert lines[-1].startswith("gen: 3/10 done")  # the final state


def test_a_short_run_prints_no_progress_at_all() -> None:
    out = io.StringIO()
    with PlainProgress("gen", 2, interval_s=60, stream=out) as progress:
        progress.advance()
        progress.advance()
    assert out.getvalue() == ""


def test_the_engine_prints_plain_lines_under_a_pipe(stub_server: StubServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    stub_server.latency = 0.1
    backend = BackendSpec(spec="openai:m", base_urls=[stub_server.base_url]).build()
    config = EngineConfig(concurrency=2, progress=True, progress_interval_s=0.3, description="judge m")
    summary = Engine(backend, config).run_sync([chat_request(str(i)) for i in range(24)], lambda r: None)
    assert summary.ok == 24
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("judge m: ")]
    assert len(lines) >= 2
    assert lines[-1].startswith("judge m: 24/24 done, ok 24, errors 0, cost unknown")
