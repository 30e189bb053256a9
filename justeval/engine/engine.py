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
  A result's completion carries the usage of every reply its call paid for (parse retries too).
- Retries (tenacity): 429, 5xx, timeouts and dropped connections, exponential backoff with
  jitter, honouring Retry-After; never 400/401/403/404. After `max_retries` the result has
  status "error" and the message.
- Cache: SQLite under `cache_dir` (default $JUSTEVAL_CACHE_DIR or the user cache folder),
  keyed on backend.identity(), params and the full prompt/messages; only ok (validated)
  completions are stored; a hit makes no backend call (result.cached = True, cost 0).
- Budget: once the summed cost reaches `budget_usd`, no new call is sent; calls in flight
  finish and are reported; unsent requests are counted in `summary.skipped_budget`.

Additions (beyond the contract above):
- `EngineConfig.retry_base_s` / `retry_max_wait_s`: the backoff scale (tests make it small).
- `RunSummary.retries`, `.calls` (HTTP calls sent), `.unpriced_calls` (calls with no known
  price: the budget cannot count them), `.skipped_keys` (request keys not sent for budget).
- `CallResult.latency_s` is the duration of the call that produced the completion.
- Cache hits are still served after the budget is reached (they cost nothing).
- At the end of `run` the engine awaits `backend.aclose()`; the built-in backends reopen
  their connections on next use, so one backend may serve several runs (an `hf:` backend
  keeps its loaded model).
- `on_result` raising stops the run: the error propagates after in-flight calls are cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass, field
from typing import Any, Literal

from justeval.engine.config import EngineConfig
from justeval.engine.progress import NullProgress, make_progress
from justeval.engine.ratelimit import RateLimiter
from justeval.engine.retry import RETRY_AFTER_CAP_S, call_with_retries, with_timeout
from justeval.engine.types import Backend, BackendError, Completion, Request
from justeval.records import Usage

__all__ = ["CallResult", "Engine", "EngineConfig", "ParseFailure", "RunSummary"]


class ParseFailure(Exception):
    """Raised by a validator when a reply cannot be used; the message is the reason."""


@dataclass
class CallResult:
    """One finished request. `latency_s` is the duration of the call that produced the
    completion (0 for a cache hit); `attempts` counts every call sent, retries included."""

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
    retries: int = 0
    calls: int = 0
    unpriced_calls: int = 0
    skipped_keys: list[str] = field(default_factory=list)


Validator = Callable[[Completion], Any]
RequestValidator = Callable[[Request, Completion], Any]
OnResult = Callable[[CallResult], None]


class Engine:
    def __init__(self, backend: Backend, config: EngineConfig | None = None) -> None:
        self.backend = backend
        self.config = config or EngineConfig()

    async def run(self, requests: Iterable[Request], on_result: OnResult, *,
                  validate: Validator | None = None,
                  validate_request: RequestValidator | None = None) -> RunSummary:
        """`validate_request(request, completion)` is `validate` for callers whose check depends
        on the request (a judge run mixing templates with different aspects)."""
        if validate is not None and validate_request is not None:
            raise ValueError("pass validate or validate_request, not both")
        check: RequestValidator | None = validate_request
        if validate is not None:
            plain = validate
            check = lambda _request, completion: plain(completion)  # noqa: E731
        run = _Run(self.backend, self.config, on_result, check)
        return await run.execute(requests)

    def run_sync(self, requests: Iterable[Request], on_result: OnResult, *,
                 validate: Validator | None = None,
                 validate_request: RequestValidator | None = None) -> RunSummary:
        return asyncio.run(self.run(requests, on_result, validate=validate, validate_request=validate_request))


class _Run:
    """State of one `Engine.run`: workers pull from one shared iterator, so at most
    `concurrency` requests are in flight and the iterable is consumed lazily."""

    def __init__(self, backend: Backend, config: EngineConfig, on_result: OnResult,
                 validate: RequestValidator | None) -> None:
        self.backend = backend
        self.config = config
        self.on_result = on_result
        self.validate = validate
        self.summary = RunSummary()
        self.limiter = RateLimiter(config.rpm, config.tpm)
        self.progress: NullProgress = NullProgress()
        self.cache: Any = None
        self.identity: dict[str, Any] = {}
        self.in_flight: dict[str, asyncio.Event] = {}

    @property
    def over_budget(self) -> bool:
        budget = self.config.budget_usd
        return budget is not None and self.summary.cost_usd >= budget

    async def execute(self, requests: Iterable[Request]) -> RunSummary:
        start = time.perf_counter()
        if self.config.cache:
            from justeval.engine.cache import ReplyCache

            self.cache = ReplyCache(self.config.cache_dir)
            self.identity = self.backend.identity()
        total = len(requests) if isinstance(requests, Sized) else None
        iterator = iter(requests)
        workers = max(1, int(self.config.concurrency))
        try:
            with make_progress(self.config.progress, self.config.description, total) as progress:
                self.progress = progress
                tasks = [asyncio.ensure_future(self._worker(iterator)) for _ in range(workers)]
                try:
                    await asyncio.gather(*tasks)
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                progress.skipped(self.summary.skipped_budget)
        finally:
            if self.cache is not None:
                self.cache.close()
            await self.backend.aclose()
        self.summary.stopped_by_budget = self.summary.skipped_budget > 0
        self.summary.wall_s = time.perf_counter() - start
        return self.summary

    async def _worker(self, iterator: Iterator[Request]) -> None:
        for request in iterator:  # one shared iterator: each request is taken by exactly one worker
            result = await self._process(request)
            if result is None:
                continue
            self._record(result)

    def _record(self, result: CallResult) -> None:
        s = self.summary
        if result.status == "ok":
            s.ok += 1
        elif result.status == "parse_error":
            s.parse_errors += 1
        else:
            s.errors += 1
        s.cached += result.cached
        self.progress.advance(failed=result.status != "ok", cached=result.cached)
        self.on_result(result)

    def _from_cache(self, request: Request, key: str) -> CallResult | None:
        hit = self.cache.get(key)
        if hit is None:
            return None
        try:
            parsed = self.validate(request, hit) if self.validate else None
        except ParseFailure:
            return None  # the validator no longer accepts it: ask again
        return CallResult(request, "ok", completion=hit, parsed=parsed, latency_s=0.0, attempts=0, cached=True,
                          cost_usd=0.0)

    async def _process(self, request: Request) -> CallResult | None:
        if self.cache is None:
            return await self._call(request, None)
        from justeval.engine.cache import cache_key

        key = cache_key(self.identity, request)
        # An identical call already in flight is waited for, not sent again: with the cache on, a
        # call is paid once even when two items share a prompt.
        while (pending := self.in_flight.get(key)) is not None:
            await pending.wait()
        hit = self._from_cache(request, key)
        if hit is not None:
            return hit
        self.in_flight[key] = done = asyncio.Event()
        try:
            return await self._call(request, key)
        finally:
            del self.in_flight[key]
            done.set()

    async def _call(self, request: Request, key: str | None) -> CallResult | None:
        attempts = 0
        completion: Completion | None = None
        reason = ""
        latency = 0.0
        cost_total: float | None = None
        replies: list[Completion] = []  # every reply paid for, parse retries included
        for _ in range(self.config.parse_retries + 1):
            if self.over_budget:
                if completion is None:
                    self.summary.skipped_budget += 1
                    self.summary.skipped_keys.append(request.key)
                    return None
                break
            try:
                (reply, latency), n = await call_with_retries(
                    lambda: self._call_once(request), max_retries=self.config.max_retries,
                    timeout_s=None, base_s=self.config.retry_base_s,  # _call_once times the call itself
                    max_wait_s=self.config.retry_max_wait_s, on_retry=self._on_retry)
                attempts += n
                replies.append(reply)
                completion = _with_total_usage(reply, replies)
            except BackendError as exc:
                attempts += getattr(exc, "attempts", 1)
                return CallResult(request, "error", completion=completion, error=_describe(exc),
                                  attempts=attempts, cost_usd=cost_total)
            except Exception as exc:  # a backend bug must not lose the rest of the run
                attempts += getattr(exc, "attempts", 1)
                return CallResult(request, "error", completion=completion,
                                  error=f"{type(exc).__name__}: {exc}", attempts=attempts, cost_usd=cost_total)
            cost = self._charge(reply)
            if cost is not None:
                cost_total = (cost_total or 0.0) + cost
            try:
                parsed = self.validate(request, reply) if self.validate else None
            except ParseFailure as exc:
                reason = str(exc) or "reply could not be parsed"
                continue
            if self.cache is not None and key is not None:
                self.cache.put(key, reply)
            return CallResult(request, "ok", completion=completion, parsed=parsed, latency_s=latency,
                              attempts=attempts, cost_usd=cost_total)
        return CallResult(request, "parse_error", completion=completion, error=reason, latency_s=latency,
                          attempts=attempts, cost_usd=cost_total)

    async def _call_once(self, request: Request) -> tuple[Completion, float]:
        estimate = 0
        if self.limiter.active:
            estimate = _estimate_tokens(request, self.backend.model) if self.limiter.tokens else 0
            await self.limiter.acquire(estimate)
        self.summary.calls += 1
        t0 = time.perf_counter()
        # the timeout covers the call only: waiting for a rate-limit slot is not the server being slow
        completion = await with_timeout(self.backend.complete(request), self.config.timeout_s)
        latency = time.perf_counter() - t0
        if self.limiter.tokens is not None:
            usage = completion.usage
            self.limiter.settle(estimate, usage.prompt_tokens + usage.completion_tokens)
        return completion, latency

    def _on_retry(self, exc: BackendError) -> None:
        self.summary.retries += 1
        self.progress.retried()
        if exc.retry_after is not None:  # the server asked the client to wait: all workers pause
            self.limiter.hold(min(exc.retry_after, RETRY_AFTER_CAP_S))

    def _charge(self, completion: Completion) -> float | None:
        cost = self.backend.cost_usd(completion.usage)
        if cost is None:
            self.summary.unpriced_calls += 1
        else:
            self.summary.cost_usd += cost
        return cost


def _with_total_usage(last: Completion, replies: list[Completion]) -> Completion:
    """The last reply, carrying the tokens of every reply its call paid for, like its cost."""
    if len(replies) == 1:
        return last
    total = Usage(prompt_tokens=sum(r.usage.prompt_tokens for r in replies),
                  completion_tokens=sum(r.usage.completion_tokens for r in replies))
    return last.model_copy(update={"usage": total})


def _describe(exc: BackendError) -> str:
    text = str(exc) or type(exc).__name__
    return f"HTTP {exc.status}: {text}" if exc.status and not text.startswith("HTTP") else text


def _estimate_tokens(request: Request, model: str) -> int:
    from justeval.engine.pricing import count_tokens

    text = request.prompt if request.prompt is not None else "\n".join(m.content for m in request.messages)
    return count_tokens(text, model) + 4 * len(request.messages)
