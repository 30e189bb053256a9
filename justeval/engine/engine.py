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

Scale (issue 13) and failing fast (issue 11):
- `Engine(spec_or_backends, config)`: a `BackendSpec` (built here, one backend per base URL),
  one Backend, or a list of backends serving one model. Several make a fleet
  (`justeval.engine.fleet`): each call goes to the server with the fewest in flight,
  `concurrency` each unless `total_concurrency`; `CallResult.endpoint` says which served it;
  the cache key is the same whichever replica answers.
- Circuit breaker (`justeval.engine.breaker`): servers are probed before the first call; a
  server with `breaker_failures` calls in a row unanswered is out; when all are out the run
  stops: `RunSummary.stop_reason` is the one-line reason, `not_sent`/`not_sent_keys` what was
  never sent (never passed to `on_result`: nothing to record, nothing settled). After every
  finished result is delivered, `run` raises `RunStopped` (a JustevalError, exit code 1, with
  `.summary`); with `EngineConfig(raise_on_stop=False)` it returns the summary and the caller
  calls `summary.raise_for_stop()` after printing its own report.
- `Retry-After` above `retry_after_cap_s` takes the server out rather than sleeping.
- `config.batch`: the provider's batch interface (`justeval.engine.batch`); results come
  through the same `on_result`, with `CallResult.batch_id` set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Iterator, Sequence, Sized
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from justeval.engine.breaker import RunStopped, failure_kind
from justeval.engine.config import EngineConfig
from justeval.engine.fleet import Endpoint, Fleet
from justeval.engine.progress import NullProgress, make_progress
from justeval.engine.ratelimit import RateLimiter
from justeval.engine.retry import Deadline, backoff_s
from justeval.engine.types import Backend, BackendError, Completion, Request
from justeval.records import Usage

if TYPE_CHECKING:
    from justeval.engine.backend_spec import BackendSpec

__all__ = ["CallResult", "Engine", "EngineConfig", "ParseFailure", "RunStopped", "RunSummary"]


class ParseFailure(Exception):
    """Raised by a validator when a reply cannot be used; the message is the reason."""


@dataclass
class CallResult:
    """One finished request. `latency_s` is the duration of the call that produced the
    completion (0 for a cache hit; for a batch result, from the batch's creation to its end);
    `attempts` counts every call sent, retries included. `endpoint` is the server that
    answered (for an error, the last one tried; None for a cache hit or an in-process
    backend); `batch_id` the provider batch that carried it (None for an ordinary call)."""

    request: Request
    status: Literal["ok", "parse_error", "error"]
    completion: Completion | None = None
    parsed: Any = None
    error: str | None = None
    latency_s: float = 0.0
    attempts: int = 1
    cached: bool = False
    cost_usd: float | None = None
    endpoint: str | None = None
    batch_id: str | None = None


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
    #: the run stopped because no server answered (or one asked to wait too long): the line to print
    stop_reason: str | None = None
    #: requests never sent because the run stopped (not passed to on_result; nothing was charged)
    not_sent: int = 0
    not_sent_keys: list[str] = field(default_factory=list)
    #: replies per server (base URL) in this run
    served_by: dict[str, int] = field(default_factory=dict)
    #: batch mode: batches created in this run, and requests still waiting in a provider batch
    #: (not passed to on_result: the same command collects them later)
    batches_created: list[str] = field(default_factory=list)
    batches_pending: int = 0
    pending_keys: list[str] = field(default_factory=list)
    #: batch mode: requests a cancelled batch did not finish (not recorded; sent again next time)
    cancelled_keys: list[str] = field(default_factory=list)

    def raise_for_stop(self) -> None:
        """Raise `RunStopped` (exit code 1, the reason as its one line) if the run was stopped."""
        if self.stop_reason:
            raise RunStopped(self.stop_reason)


Validator = Callable[[Completion], Any]
RequestValidator = Callable[[Request, Completion], Any]
OnResult = Callable[[CallResult], None]


class Engine:
    def __init__(self, backend: Backend | Sequence[Backend] | BackendSpec, config: EngineConfig | None = None) -> None:
        """`backend`: one Backend, several serving one model (a fleet), or a BackendSpec, from
        which one backend per base URL is built here (one key lookup)."""
        from justeval.engine.backend_spec import BackendSpec

        self.config = config or EngineConfig()
        if isinstance(backend, BackendSpec):
            self.backends: list[Backend] = backend.build_all(timeout_s=self.config.timeout_s)
        elif isinstance(backend, Backend):
            self.backends = [backend]
        else:
            self.backends = list(backend)
        if not self.backends:
            raise ValueError("an engine needs at least one backend")

    @property
    def backend(self) -> Backend:
        """The first (or only) backend: what `supports_response_format()` and the cache identity come from."""
        return self.backends[0]

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
        run = _Run(self.backends, self.config, on_result, check)
        summary = await run.execute(requests)
        if summary.stop_reason and self.config.raise_on_stop:
            raise RunStopped(summary.stop_reason, summary=summary)
        return summary

    def run_sync(self, requests: Iterable[Request], on_result: OnResult, *,
                 validate: Validator | None = None,
                 validate_request: RequestValidator | None = None) -> RunSummary:
        return asyncio.run(self.run(requests, on_result, validate=validate, validate_request=validate_request))


def stage_engine(config: EngineConfig, description: str, run_dir: Any) -> EngineConfig:
    """A stage's engine settings: its progress label, its run directory for batch state, and a
    stop reported in the summary (the stage writes what finished and prints its table, then the
    CLI raises the stop: `RunSummary.raise_for_stop`)."""
    return config.but(description=description, raise_on_stop=False, batch_dir=getattr(run_dir, "path", run_dir))


class _NotSent(Exception):
    """The run stopped before this request's first call."""


class _Failed(Exception):
    def __init__(self, error: BackendError | Exception, attempts: int, endpoint: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts
        self.endpoint = endpoint  # the server of the last try


class _Run:
    """State of one `Engine.run`: workers pull from one shared iterator, so at most
    `fleet.capacity` requests are in flight and the iterable is consumed lazily."""

    def __init__(self, backends: list[Backend], config: EngineConfig, on_result: OnResult,
                 validate: RequestValidator | None) -> None:
        self.backends = backends
        self.backend = backends[0]
        self.config = config
        self.on_result = on_result
        self.validate = validate
        self.summary = RunSummary()
        self.limiter = RateLimiter(config.rpm, config.tpm)
        self.progress: NullProgress = NullProgress()
        self.fleet = Fleet(backends, config, note=lambda message: self.progress.note(message))
        self.cache: Any = None
        self.identity: dict[str, Any] = {}
        self.in_flight: dict[str, asyncio.Event] = {}
        self._probed = False

    @property
    def over_budget(self) -> bool:
        budget = self.config.budget_usd
        return budget is not None and self.summary.cost_usd >= budget

    async def execute(self, requests: Iterable[Request]) -> RunSummary:
        start = time.perf_counter()
        if self.config.cache:
            from justeval.engine.cache import ReplyCache

            self.cache = ReplyCache(self.config.cache_dir)
        self.identity = self.backend.identity()  # a fleet is identified by its first server
        total = len(requests) if isinstance(requests, Sized) else None
        try:
            with make_progress(self.config.progress, self.config.description, total,
                               interval_s=self.config.progress_interval_s) as progress:
                self.progress = progress
                ticker = asyncio.ensure_future(self._tick())
                try:
                    if self.config.batch:
                        from justeval.engine.batch import BatchRunner

                        await BatchRunner(self).execute(list(requests))
                    else:
                        await self.run_calls(iter(requests))
                finally:
                    ticker.cancel()
                    await asyncio.gather(ticker, return_exceptions=True)
                progress.skipped(self.summary.skipped_budget)
        finally:
            await self.fleet.close()
            if self.cache is not None:
                self.cache.close()
            for backend in self.backends:
                await backend.aclose()
        self.summary.stopped_by_budget = self.summary.skipped_budget > 0
        if self.fleet.stopped:
            from justeval.engine.breaker import stop_message

            self.summary.stop_reason = stop_message(self.fleet.stop_reasons, self.summary.not_sent,
                                                    later=self.fleet.stop_later)
        self.summary.served_by = {ep.name: ep.served for ep in self.fleet.endpoints if ep.served}
        self.summary.wall_s = time.perf_counter() - start
        return self.summary

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.progress.tick()

    async def run_calls(self, iterator: Iterator[Request]) -> None:
        """Send `iterator`'s requests as ordinary calls (the batch runner uses it for its sync
        fallback). Probes the servers first, once per run."""
        await self.probe_once()
        workers = max(1, int(self.fleet.capacity))
        watchdog = asyncio.ensure_future(self.fleet.watch())
        tasks = [asyncio.ensure_future(self._worker(iterator)) for _ in range(workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in (*tasks, watchdog):
                task.cancel()
            await asyncio.gather(*tasks, watchdog, return_exceptions=True)

    async def probe_once(self) -> None:
        """Check every server answers before the first call of the run (once)."""
        if self.config.probe_timeout_s is not None and not self._probed:
            self._probed = True
            names = ", ".join(ep.name for ep in self.fleet.endpoints)
            self.progress.status(f"checking that {names} answers")
            await self.fleet.probe_all()
            self.progress.status("")

    async def _worker(self, iterator: Iterator[Request]) -> None:
        for request in iterator:  # one shared iterator: each request is taken by exactly one worker
            if self.fleet.stopped:  # the rest is recorded as not sent, never as failed
                self.not_sent(request)
                continue
            result = await self._process(request)
            if result is None:
                continue
            self.record(result)

    def not_sent(self, request: Request) -> None:
        self.summary.not_sent += 1
        self.summary.not_sent_keys.append(request.key)

    def record(self, result: CallResult) -> None:
        s = self.summary
        if result.status == "ok":
            s.ok += 1
        elif result.status == "parse_error":
            s.parse_errors += 1
        else:
            s.errors += 1
        s.cached += result.cached
        self.progress.advance(failed=result.status != "ok", cached=result.cached,
                              cost_usd=None if result.cached else result.cost_usd)
        self.on_result(result)

    def from_cache(self, request: Request, key: str) -> CallResult | None:
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
        hit = self.from_cache(request, key)
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
        endpoint: str | None = None
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
                reply, latency, ep, n = await self._send(request)
                attempts += n
                endpoint = ep.server
                replies.append(reply)
                completion = _with_total_usage(reply, replies)
            except _NotSent:
                if completion is None:
                    self.not_sent(request)
                    return None
                break
            except _Failed as failure:
                attempts += failure.attempts
                exc = failure.error
                error = _describe(exc) if isinstance(exc, BackendError) else f"{type(exc).__name__}: {exc}"
                return CallResult(request, "error", completion=completion, error=error, attempts=attempts,
                                  cost_usd=cost_total, endpoint=endpoint or failure.endpoint)
            cost = self.charge(reply, ep.backend)
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
                              attempts=attempts, cost_usd=cost_total, endpoint=endpoint)
        return CallResult(request, "parse_error", completion=completion, error=reason, latency_s=latency,
                          attempts=attempts, cost_usd=cost_total, endpoint=endpoint)

    async def _send(self, request: Request) -> tuple[Completion, float, Endpoint, int]:
        """One request with transport retries, each try on the least busy server that is up
        (another than the one that just failed, where there is one). Raises `_NotSent` when the
        run stopped before the first try, `_Failed` when every try failed."""
        config = self.config
        fleet = self.fleet
        attempts = 0
        last: BackendError | Exception | None = None
        avoid: Endpoint | None = None
        tried: str | None = None
        for attempt in range(config.max_retries + 1):
            ep = await fleet.acquire(avoid)
            if ep is None:
                break
            try:
                hold = ep.resume_at - time.monotonic()
                if hold > 0:  # the server's Retry-After speaks to every call to it
                    await fleet.sleep(hold)
                    if fleet.stopped:
                        break
                estimate = 0
                if self.limiter.active:
                    estimate = _estimate_tokens(request, ep.backend.model) if self.limiter.tokens else 0
                    await self.limiter.acquire(estimate)
                attempts += 1
                tried = ep.server
                self.summary.calls += 1
                t0 = time.perf_counter()
                try:
                    completion = await self._attempt(ep, request)
                except BackendError as exc:
                    last = exc
                    fleet.failed(ep, exc)
                    if exc.retry_after is not None:
                        fleet.hold(ep, exc.retry_after)
                    if not exc.retryable:
                        raise _Failed(exc, attempts, ep.server) from exc
                except Exception as exc:  # a backend bug must not lose the rest of the run
                    raise _Failed(exc, attempts, ep.server) from exc
                else:
                    latency = time.perf_counter() - t0
                    fleet.answered(ep)
                    if self.limiter.tokens is not None:
                        usage = completion.usage
                        self.limiter.settle(estimate, usage.prompt_tokens + usage.completion_tokens)
                    return completion, latency, ep, attempts
            finally:
                fleet.release(ep)
            if attempt == config.max_retries or fleet.stopped:
                break
            self.summary.retries += 1
            self.progress.retried()
            avoid = ep
            assert isinstance(last, BackendError)
            if failure_kind(last) is not None and fleet.others_up(ep):
                continue  # another server takes it at once
            if last.retry_after is None:  # (a Retry-After is waited for as the endpoint's hold)
                await fleet.sleep(backoff_s(attempt + 1, config.retry_base_s, config.retry_max_wait_s))
        if attempts == 0:
            raise _NotSent
        raise _Failed(last or BackendError("not sent: the run stopped", retryable=False), attempts, tried)

    async def _attempt(self, ep: Endpoint, request: Request) -> Completion:
        """One call, under the per-call timeout (which the breaker can end early); the timeout
        covers the call only: waiting for a rate-limit slot is not the server being slow."""
        deadline = Deadline(self.config.timeout_s)
        ep.deadlines.add(deadline)
        try:
            async with deadline:
                return await ep.backend.complete(request)
        except TimeoutError as exc:
            message = deadline.reason or f"timed out after {self.config.timeout_s:g} s"
            raise BackendError(message, retryable=True, failure="timeout") from exc
        finally:
            ep.deadlines.discard(deadline)

    def charge(self, completion: Completion, backend: Backend, *, batch: bool = False) -> float | None:
        cost = backend.batch_cost_usd(completion.usage) if batch else backend.cost_usd(completion.usage)
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
                  completion_tokens=sum(r.usage.completion_tokens for r in replies),
                  cached_tokens=sum(r.usage.cached_tokens for r in replies))
    return last.model_copy(update={"usage": total})


def _describe(exc: BackendError) -> str:
    text = str(exc) or type(exc).__name__
    return f"HTTP {exc.status}: {text}" if exc.status and not text.startswith("HTTP") else text


def _estimate_tokens(request: Request, model: str) -> int:
    from justeval.engine.pricing import count_tokens

    text = request.prompt if request.prompt is not None else "\n".join(m.content for m in request.messages)
    return count_tokens(text, model) + 4 * len(request.messages)
