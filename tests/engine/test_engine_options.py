"""The new engine options parse into the EngineConfig and BackendSpec fields they name."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from pydantic import ValidationError
from typer.testing import CliRunner

from justeval.cli.options import (
    BaseUrlsOpt,
    BatchFallbackOpt,
    BatchOpt,
    BreakerOpt,
    MaxRetryAfterOpt,
    TotalConcurrencyOpt,
    WaitOpt,
    engine_config,
)
from justeval.engine.backend_spec import BackendSpec
from justeval.engine.config import EngineConfig


def parsed(*args: str) -> tuple[EngineConfig, BackendSpec]:
    seen: list[tuple[EngineConfig, BackendSpec]] = []
    app = typer.Typer()

    @app.command()
    def cmd(base_url: BaseUrlsOpt = None, total_concurrency: TotalConcurrencyOpt = None, breaker: BreakerOpt = 8,
            max_retry_after: MaxRetryAfterOpt = 120.0, batch: BatchOpt = False, wait: WaitOpt = True,
            batch_fallback: BatchFallbackOpt = "batch") -> None:
        config = engine_config(concurrency=4, rpm=None, tpm=None, timeout=60.0, max_retries=3, no_cache=False,
                               cache_dir=None, no_progress=True, total_concurrency=total_concurrency,
                               breaker=breaker, max_retry_after=max_retry_after, batch=batch, wait=wait,
                               batch_fallback=batch_fallback, batch_dir=Path("runs/x"))
        seen.append((config, BackendSpec(spec="openai:m", base_urls=base_url)))

    result = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return seen[0]


def test_repeated_and_comma_separated_base_urls_make_a_fleet() -> None:
    _, spec = parsed("--base-url", "http://a:8000/v1", "--base-url", "http://b:8000/v1,http://c:8000/v1/")
    assert spec.base_urls == ["http://a:8000/v1", "http://b:8000/v1", "http://c:8000/v1"]


def test_batch_wait_fallback_and_limits_reach_the_engine_config() -> None:
    config, _ = parsed("--batch", "--no-wait", "--batch-fallback", "sync", "--total-concurrency", "12",
                       "--breaker", "5", "--max-retry-after", "30")
    assert (config.batch, config.batch_wait, config.batch_fallback) == (True, False, "sync")
    assert (config.total_concurrency, config.breaker_failures, config.retry_after_cap_s) == (12, 5, 30.0)
    assert config.batch_dir == Path("runs/x") and "batch_dir" not in config.model_dump()  # where, not how
    defaults, _ = parsed()
    assert (defaults.batch, defaults.batch_wait, defaults.total_concurrency) == (False, True, None)


def test_an_unknown_batch_fallback_is_refused() -> None:
    with pytest.raises(ValidationError):
        parsed("--batch-fallback", "later")


def test_a_copy_keeps_the_unrecorded_fields() -> None:
    config = EngineConfig(batch=True, batch_dir=Path("r"), progress_interval_s=2.0, description="d", progress=False)
    copy = config.but(concurrency=3)
    assert (copy.batch_dir, copy.progress_interval_s, copy.description, copy.progress) == (Path("r"), 2.0, "d", False)
