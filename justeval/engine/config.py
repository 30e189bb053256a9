"""How the engine sends a stage's calls: one typed model, built once from the command line or a
config, used by every stage, and written as the `engine` part of that stage's section of
run.json (presentation fields excluded), so a run records how it was sent."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class EngineConfig(BaseModel):
    """Concurrency, pacing, retries, deadline, cache and budget of one engine pass."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    concurrency: int = Field(8, ge=1)
    """Calls in flight at most, per server (`--concurrency`): a fleet of N servers (several
    `BackendSpec.base_urls`) gets N times as many, unless `total_concurrency` is set."""

    total_concurrency: int | None = Field(None, ge=1)
    """Calls in flight at most over all servers together (`--total-concurrency`); set, it
    replaces the per-server `concurrency` and each call goes to the least busy server."""

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

    retry_after_cap_s: float = Field(120.0, gt=0)
    """Longest Retry-After obeyed (`--max-retry-after`): a server asking for longer is taken out
    for that long, and when no other server is left the run stops with that reason (exit 1)
    instead of sleeping for hours."""

    breaker_failures: int = Field(8, ge=0)
    """Calls in a row that got no answer (connection failed, timed out, a gateway's 502/504)
    after which a server is taken out (`--breaker`); when every server is out the run stops
    and reports what it did not send. 0: never."""

    breaker_cooldown_s: float = Field(10.0, gt=0)
    """Seconds a server stays out before it is probed again; one that answers comes back."""

    probe_timeout_s: float | None = Field(10.0, gt=0)
    """Before the first call, and before taking a server back, check that it answers at all
    (an HTTP request that costs nothing, e.g. `GET /models`) within this many seconds, so a dead
    host fails in seconds, not after every item's retries. None: no probes."""

    stall_probe_s: float | None = Field(15.0, gt=0)
    """A server with calls in flight that has not answered anything for this many seconds is
    probed (a probe costs nothing, so a slow but live server loses nothing); if the probe gets
    no answer either, the server is out and its calls end at once: a host that hangs mid-run
    costs this plus `probe_timeout_s`, not the full `timeout_s` of every call. None: never."""

    batch: bool = False
    """Send through the provider's batch interface (`--batch`: OpenAI Batch API and compatible
    providers; about half the price, results within the provider's completion window)."""

    batch_wait: bool = True
    """With `batch`: wait for the batches, polling with backoff (`--wait`, the default), or
    submit them and return (`--no-wait`); the same command later collects them."""

    batch_fallback: Literal["batch", "sync"] = "batch"
    """Where items go that a batch could not finish (expired, failed for a passing reason):
    into a new batch, or sent at once as ordinary calls (`--batch-fallback sync`)."""

    batch_retries: int = Field(2, ge=0)
    """New batches tried for such items before they are recorded as errors."""

    batch_max_requests: int = Field(50_000, ge=1)
    """Requests per batch at most (OpenAI: 50,000)."""

    batch_max_bytes: int = Field(190_000_000, ge=1024)
    """Bytes of one batch input file at most (OpenAI: 200 MB; a margin is kept)."""

    batch_poll_s: float = Field(10.0, gt=0)
    """First wait between two looks at a pending batch; it grows by half each time."""

    batch_poll_max_s: float = Field(120.0, gt=0)
    """Longest wait between two looks at a pending batch."""

    batch_completion_window: Literal["24h"] = "24h"
    """The provider's deadline for a batch (OpenAI accepts only 24h)."""

    batch_dir: Path | None = Field(None, exclude=True)
    """Folder of the batch state file (`batches.jsonl`: each batch's id and contents, written as
    soon as it is created, so another process can collect it). The stage passes its run
    directory; required with `batch`. Where, not how: not recorded."""

    progress: bool = Field(True, exclude=True)
    """Show a progress line (`--no-progress` hides it). Presentation only: not recorded."""

    description: str = Field("calls", exclude=True)
    """What the progress line calls the calls ("judge openai:gpt-4o"). Not recorded."""

    raise_on_stop: bool = Field(True, exclude=True)
    """When the circuit breaker stops the run (no server answers), `Engine.run` raises
    `RunStopped` (exit code 1) after delivering every finished result; False: it returns the
    summary, whose `stop_reason` says why, and the caller raises (`summary.raise_for_stop()`)
    once it has printed its own summary. How the caller is told, not how calls are sent: not
    recorded."""

    progress_interval_s: float = Field(5.0, gt=0, exclude=True)
    """When stderr is not a terminal (nohup, CI, `| tee`), print a plain progress line this
    often instead of the bar. Presentation only: not recorded."""

    def but(self, **changes: object) -> EngineConfig:
        """A copy with `changes`, validated like the original."""
        unrecorded = {name: getattr(self, name) for name, info in type(self).model_fields.items() if info.exclude}
        return EngineConfig.model_validate({**self.model_dump(), **unrecorded, **changes})
