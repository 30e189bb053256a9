"""Several servers answering for one model (vLLM replicas, a pool of llama.cpp servers), used as
one: each call goes to the endpoint with the fewest calls in flight; an endpoint that stops
answering is taken out by its circuit breaker (see `justeval.engine.breaker`), its calls go to
the others, and it is probed back in after a cool-down. A single server is a fleet of one, so
the breaker, the probes and the Retry-After handling are the same code for both.

The reply cache does not depend on which replica answered: the fleet's identity is its first
endpoint's, as a single-server run against that URL would have.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from justeval.engine.breaker import failure_kind, short_reason, transport_reason
from justeval.engine.config import EngineConfig
from justeval.engine.retry import Deadline
from justeval.engine.types import Backend, BackendError


def server_of(backend: Backend) -> str | None:
    """The server a backend sends to: its `server`, else its `base_url` where it has one."""
    server = backend.server
    if server is None:
        url = getattr(backend, "base_url", None)
        server = url if isinstance(url, str) and url else None
    return server


class Endpoint:
    """One server of the fleet and what the breaker knows about it."""

    def __init__(self, backend: Backend, index: int, limit: int | None) -> None:
        self.backend = backend
        self.index = index
        self.limit = limit
        self.server = server_of(backend)
        self.name = self.server or backend.spec
        self.in_flight = 0
        self.served = 0             # replies received (ok or not)
        self.failures = 0           # calls in a row that got no answer
        self.last_reason = ""
        self.out = False
        self.out_reason = ""
        self.trip_reason = ""       # why it went out (kept while its probes fail)
        self.written_off = False    # out, and its last probe (or trial call) failed too
        self.trial = False          # back in without a probe: its next failure writes it off
        self.probing = False
        self.resume_at = 0.0        # Retry-After: send nothing new before this (monotonic)
        self.quiet_since = 0.0      # last answer, or when it got calls after being idle
        self.deadlines: set[Deadline] = set()

    def has_room(self) -> bool:
        if self.out:
            return False
        if self.trial:  # back in without a probe: one call is the test, the rest wait for its answer
            return self.in_flight == 0
        return self.limit is None or self.in_flight < self.limit


class Fleet:
    """The endpoints of one engine run, their breakers, and the waiting room for a free one."""

    def __init__(self, backends: Sequence[Backend], config: EngineConfig,
                 note: Callable[[str], None] = lambda _message: None) -> None:
        per_endpoint = None if config.total_concurrency else config.concurrency
        self.endpoints = [Endpoint(b, i, per_endpoint) for i, b in enumerate(backends)]
        self.config = config
        self.note = note
        self.stopped = False
        self.stop_reasons: list[str] = []
        self.stop_later = False     # the reason is a server asking to wait: "run again later"
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._sleepers: set[asyncio.Future[None]] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def capacity(self) -> int:
        """Calls in flight at most: `total_concurrency`, else `concurrency` per endpoint."""
        return self.config.total_concurrency or self.config.concurrency * len(self.endpoints)

    # -- choosing an endpoint ----------------------------------------------------------
    def _pick(self, avoid: Endpoint | None) -> Endpoint | None:
        now = time.monotonic()
        best: Endpoint | None = None
        best_key: tuple[bool, bool, int, int] | None = None
        for ep in self.endpoints:
            if not ep.has_room():
                continue
            key = (ep is avoid, ep.resume_at > now, ep.in_flight, ep.index)
            if best_key is None or key < best_key:
                best, best_key = ep, key
        return best

    async def acquire(self, avoid: Endpoint | None = None) -> Endpoint | None:
        """The endpoint with the fewest calls in flight that has room (another than `avoid`
        when there is one), waiting for room if none has; None once the run is stopped."""
        while not self.stopped:
            ep = self._pick(avoid)
            if ep is not None:
                ep.in_flight += 1
                if ep.in_flight == 1:
                    ep.quiet_since = time.monotonic()
                return ep
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            finally:
                if not waiter.done():
                    waiter.cancel()
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        return None

    def release(self, ep: Endpoint) -> None:
        ep.in_flight -= 1
        self._wake(everyone=False)

    def _wake(self, *, everyone: bool) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                if not everyone:
                    return

    def others_up(self, ep: Endpoint) -> bool:
        return any(not other.out for other in self.endpoints if other is not ep)

    async def sleep(self, seconds: float) -> None:
        """Sleep that ends early when the run stops (a backoff must not delay the stop)."""
        if self.stopped or seconds <= 0:
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._sleepers.add(done)
        timer = loop.call_later(seconds, _settle, done)
        try:
            await done
        finally:
            timer.cancel()
            self._sleepers.discard(done)

    # -- what calls report ---------------------------------------------------------------
    def answered(self, ep: Endpoint) -> None:
        """The server replied (with a completion or an HTTP error): it is there."""
        ep.failures = 0
        if ep.trial:
            ep.trial = False
            self._wake(everyone=True)  # the test call passed: the others may go
        ep.served += 1
        ep.quiet_since = time.monotonic()

    def failed(self, ep: Endpoint, exc: BackendError) -> None:
        """A call failed; if the model could not be reached, count it against the endpoint."""
        kind = failure_kind(exc)
        if kind is None:
            self.answered(ep)
            return
        ep.failures += 1
        ep.quiet_since = time.monotonic()
        ep.last_reason = transport_reason(exc) or short_reason(exc)
        threshold = self.config.breaker_failures
        if ep.out or threshold <= 0:
            return
        if ep.trial:
            self._take_out(ep, f"{ep.trip_reason}, and again {self.config.breaker_cooldown_s:g} s later",
                           written_off=True)
        elif ep.failures >= threshold:
            self._take_out(ep, f"{ep.last_reason} ({ep.failures} calls in a row)")

    def hold(self, ep: Endpoint, seconds: float) -> None:
        """Retry-After: send nothing new to this endpoint for `seconds`, or, above the cap,
        take it out for that long rather than sleep on it."""
        cap = self.config.retry_after_cap_s
        if seconds <= cap:
            ep.resume_at = max(ep.resume_at, time.monotonic() + max(0.0, seconds))
            return
        if not ep.out:
            self._take_out(ep, f"the server asked to wait {seconds:,.0f} s before more calls (Retry-After), "
                           f"over the {cap:g} s cap", written_off=True, back_in_s=seconds, later=True)

    # -- out, probes, back in ---------------------------------------------------------------
    def _take_out(self, ep: Endpoint, reason: str, *, written_off: bool = False, back_in_s: float | None = None,
                  later: bool = False) -> None:
        ep.out = True
        ep.out_reason = ep.trip_reason = reason
        ep.written_off = written_off
        ep.trial = False
        if later:
            self.stop_later = True
        self._expire(ep, f"abandoned: {ep.name} is out ({reason})")
        if self._all_written_off():
            self._stop()
            return
        if len(self.endpoints) > 1:
            self.note(f"{ep.name}: {reason}; its calls go to the other servers")
        self._spawn(self._recover(ep, self.config.breaker_cooldown_s if back_in_s is None else back_in_s))

    def _all_written_off(self) -> bool:
        return all(ep.out and ep.written_off for ep in self.endpoints)

    def stop_with(self, reason: str) -> None:
        """Stop the run for a reason of the caller's (batch mode: the provider refused a batch)."""
        if not self.stopped:
            self._stop([reason])

    def _stop(self, reasons: list[str] | None = None) -> None:
        self.stopped = True
        self.stop_reasons = reasons or [self._describe(ep) for ep in self.endpoints]
        for ep in self.endpoints:
            self._expire(ep, "abandoned: no server answers")
        self._wake(everyone=True)
        for done in list(self._sleepers):
            _settle(done)

    def _describe(self, ep: Endpoint) -> str:
        if "Retry-After" in ep.out_reason:
            return f"{ep.name}: {ep.out_reason}"
        return f"cannot reach {ep.name}: {ep.out_reason}"

    @staticmethod
    def _expire(ep: Endpoint, reason: str) -> None:
        for deadline in list(ep.deadlines):
            deadline.expire(reason)

    async def _probe(self, ep: Endpoint) -> bool | None:
        """True: answered; False: this backend cannot be probed; None: no answer (reason kept)."""
        timeout = self.config.probe_timeout_s
        if timeout is None:
            return False
        ep.probing = True
        try:
            async with Deadline(timeout + 1.0):  # the backend's own timeout should fire first
                return await ep.backend.probe(timeout)
        except BackendError as exc:
            if exc.failure == "timeout":
                ep.last_reason = f"no reply within {timeout:g} s"
            else:
                ep.last_reason = transport_reason(exc) or short_reason(exc)
            return None
        except TimeoutError:
            ep.last_reason = f"no reply within {timeout:g} s"
            return None
        finally:
            ep.probing = False

    async def probe_all(self) -> None:
        """Before the first call: an endpoint that does not answer is out at once (and, when
        none answers, the run stops before sending anything)."""
        results = await asyncio.gather(*(self._probe(ep) for ep in self.endpoints))
        for ep, result in zip(self.endpoints, results, strict=True):
            if result is None and not self.stopped:
                self._take_out(ep, f"{ep.last_reason} (checked before the first call)", written_off=True)

    async def _recover(self, ep: Endpoint, delay: float) -> None:
        await asyncio.sleep(delay)
        if self.stopped:
            return
        result = await self._probe(ep)
        if self.stopped:
            return
        if result is None:
            ep.written_off = True
            ep.out_reason = f"{ep.trip_reason}, and {ep.last_reason} {delay:g} s later"
            if self._all_written_off():
                self._stop()
            else:
                self._spawn(self._recover(ep, self.config.breaker_cooldown_s))
            return
        ep.out = False
        ep.written_off = False
        ep.failures = 0
        ep.trial = result is False  # not probed: the next call is the test
        ep.resume_at = 0.0
        if len(self.endpoints) > 1:
            self.note(f"{ep.name}: answers again; back in")
        self._wake(everyone=True)

    async def watch(self) -> None:
        """Probe an endpoint whose calls have had no answer for `stall_probe_s`: a host that
        accepts and never replies is found in that time, not after every call's timeout."""
        stall = self.config.stall_probe_s
        if stall is None or self.config.probe_timeout_s is None:
            return
        while not self.stopped:
            await asyncio.sleep(min(1.0, stall / 4))
            now = time.monotonic()
            for ep in self.endpoints:
                if not ep.out and not ep.probing and ep.in_flight and now - ep.quiet_since > stall:
                    self._spawn(self._check_stalled(ep, stall))

    async def _check_stalled(self, ep: Endpoint, stall: float) -> None:
        result = await self._probe(ep)
        if result is None and not ep.out and not self.stopped:
            # the probe already failed: with no other server, stop now rather than probe again later
            self._take_out(ep, f"no answer for {stall:g} s, nor to a probe ({ep.last_reason})", written_off=True)
        else:
            ep.quiet_since = time.monotonic()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        """Cancel the probes and recoveries still scheduled."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
