"""The engine every stage calls through: concurrency, rate limits, retries, caching, cost,
budget and progress live here once, around a Backend.

CONTRACT (public to the stages; implementation may grow but keep these names):

    config = EngineConfig(concurrency=8, rpm=None, tpm=None, max_retries=6, timeout_s=120,
                          cache=True, cache_dir=None, budget_usd=None, parse_retries=0,
                          progress=True, description="generate")
    engine = Engine(backend, config)
    summary = await engine.run(requests, on_result, validate=None)
    summary = engine.run_sync(requests, on_result, validate=None)   # asyncio.run wrapper

- `requests`: an iterable of `Request`; they are dispatched with at most `concurrency` in
  flight, paced by `rpm`/`tpm`.
- `on_result(result: CallResult)` is called (in the event-loop thread) as each call finishes,
  so the stage can append its record at once.
- `validate(completion) -> parsed` may raise `ParseFailure(reason)`: the reply is then not
  cached, and the call is repeated up to `parse_retries` times; after that the result has
  status "parse_error" with the last completion kept (raw text) and `error` = the reason.
- Retries (tenacity): 429, 5xx, timeouts and dropped connections, exponential backoff with
  jitter, honouring Retry-After; never 400/401/403/404. After `max_retries` the result has
  status "error" and the message.
- Cache: SQLite under `cache_dir` (default $JUSTEVAL_CACHE_DIR or the user cache folder),
  keyed on backend.identity(), params and the full prompt/messages; only ok (validated)
  completions are stored; a hit makes no backend call (result.cached = True, cost 0).
- Budget: once the summed cost reaches `budget_usd`, no new call is sent; calls in flight
  finish and are reported; unsent requests are counted in `summary.skipped_budget`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from justeval.engine.types import Backend, Completion, Request


class ParseFailure(Exception):
    """Raised by a validator when a reply cannot be used; the message is the reason."""


@dataclass
class EngineConfig:
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    max_retries: int = 6
    timeout_s: float = 120.0
    cache: bool = True
    cache_dir: Path | None = None
    budget_usd: float | None = None
    parse_retries: int = 0
    progress: bool = True
    description: str = "calls"


@dataclass
class CallResult:
    request: Request
    status: Literal["ok", "parse_error", "error"]
    completion: Completion | None = None
    parsed: Any = None
    error: str | None = None
    latency_s: float = 0.0
    attempts: int = 1
    cached: bool = False
    cost_usd: float | None = None


@dataclass
class RunSummary:
    ok: int = 0
    errors: int = 0
    parse_errors: int = 0
    cached: int = 0
    skipped_budget: int = 0
    cost_usd: float = 0.0
    stopped_by_budget: bool = False
    wall_s: float = 0.0


Validator = Callable[[Completion], Any]
OnResult = Callable[[CallResult], None]


class Engine:
    def __init__(self, backend: Backend, config: EngineConfig | None = None) -> None:
        self.backend = backend
        self.config = config or EngineConfig()

    async def run(self, requests: Iterable[Request], on_result: OnResult, *,
                  validate: Validator | None = None) -> RunSummary:
        raise NotImplementedError  # implemented by the engine work (issue 3)

    def run_sync(self, requests: Iterable[Request], on_result: OnResult, *,
                 validate: Validator | None = None) -> RunSummary:
        import asyncio

        return asyncio.run(self.run(requests, on_result, validate=validate))
