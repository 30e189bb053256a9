"""The progress bar shows counts, retries and failures, and stays silent off a terminal."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from justeval.engine.progress import NullProgress, RichProgress, make_progress


def test_progress_bar_reports_done_retries_and_failures() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    with RichProgress("judging", total=3, console=console) as bar:
        bar.advance()
        bar.retried()
        bar.retried()
        bar.advance(failed=True)
        bar.advance(cached=True)
    text = out.getvalue()
    assert "judging" in text and "3/3" in text
    assert "retries 2" in text and "failed 1" in text and "cached 1" in text


def test_no_bar_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    assert isinstance(make_progress(True, "x", 3), NullProgress)
    assert not isinstance(make_progress(True, "x", 3), RichProgress)
    assert capsys.readouterr().err == ""
