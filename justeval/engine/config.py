"""How the engine sends a stage's calls: one typed model, built once from the command line or a
config, used by every stage, and written as the `engine` part of that stage's section of
run.json (presentation fields excluded), so a run records how it was sent."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field


class EngineConfig(BaseModel):
    """Concurrency, pacing, retries, deadline, cache and budget of one engine pass."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    concurrency: int = Field(8, ge=1)
    """Calls in flight at most (`--concurrency`)."""

    rpm: float | None = Field(None, gt=0)
    """Requests per minute at most (`--rpm`); None: unpaced."""

    tpm: float | None = Field(None, gt=0)
    """Tokens per minute at most (`--tpm`), estimated before and settled after each call."""

    max_retries: int = Field(6, ge=0)
    """Further tries of a call that failed for a passing reason: 429, 5xx, timeout, dropped
    connection (`--max-retries`). 400/401/403/404 are never retried."""

    timeout_s: float = Field(120.0, gt=0)
    """Seconds one call may take before it counts as timed out (`--timeout`); waiting for a
    rate-limit slot is not counted."""

    cache: bool = True
    """Read and write the content-addressed reply cache (`--no-cache` turns it off)."""

    cache_dir: Path | None = None
    """Where the reply cache lives (`--cache-dir`); None: $JUSTEVAL_CACHE_DIR or ~/.cache/justeval."""

    budget_usd: float | None = Field(None, ge=0)
    """Stop sending calls once this many USD are spent (`--budget`); calls in flight finish."""

    parse_retries: int = Field(0, ge=0)
    """Repeats of a call whose reply the stage cannot read (`--parse-retries`)."""

    retry_base_s: float = Field(1.0, ge=0)
    """First backoff step in seconds; waits grow exponentially with jitter."""

    retry_max_wait_s: float = Field(60.0, ge=0)
    """Longest backoff wait in seconds; a server's Retry-After can ask for longer."""

    progress: bool = Field(True, exclude=True)
    """Show a progress line (`--no-progress` hides it). Presentation only: not recorded."""

    description: str = Field("calls", exclude=True)
    """What the progress line calls the calls ("judge openai:gpt-4o"). Not recorded."""

    def but(self, **changes: object) -> EngineConfig:
        """A copy with `changes`, validated like the original."""
        return EngineConfig.model_validate({**self.model_dump(), "progress": self.progress,
                                            "description": self.description, **changes})
