"""Which failures are worth another try, and how long to wait before it (tenacity).

Retryable: 429, 5xx, timeouts and dropped connections (BackendError.retryable). Never
400/401/403/404. Waits grow exponentially with full jitter; a server's Retry-After wins
when it asks for longer (up to `EngineConfig.retry_after_cap_s`: the engine ends the run rather
than obey a longer one, see `justeval.engine.breaker`).

The engine runs its own retry loop (each try may go to another server of a fleet) with
`backoff_s` and `Deadline`; `call_with_retries` is the same policy for one plain callable.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_random_exponential

from justeval.engine.types import BackendError

T = TypeVar("T")

#: a Retry-After longer than this is treated as this by `call_with_retries` (a misbehaving server
#: cannot park us for hours); the engine has its own, lower, configurable cap
RETRY_AFTER_CAP_S = 600.0


def backoff_s(retry: int, base_s: float, max_s: float) -> float:
    """Wait before retry number `retry` (1, 2, ...): full jitter over an exponential ceiling."""
    return random.uniform(0.0, min(max_s, base_s * 2.0 ** (retry - 1)))


class Deadline:
    """`async with Deadline(s):` raises TimeoutError after s seconds, like `asyncio.timeout`,
    and can be made to expire at once (`expire(reason)`): the engine ends the calls in flight
    to a server it has found dead instead of waiting out each one's full timeout. On Python
    3.10, which has no `asyncio.timeout`, it waits the timeout only (no early expiry)."""

    __slots__ = ("_cm", "_task", "reason", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.reason: str | None = None
        self._cm: Any = None
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> Deadline:
        if sys.version_info >= (3, 11):
            self._cm = asyncio.timeout(self.seconds)
            await self._cm.__aenter__()
        else:  # pragma: no cover - 3.10 only
            self._task = asyncio.current_task()
            loop = asyncio.get_running_loop()
            self._cm = loop.call_later(self.seconds, self._fire)
        return self

    def _fire(self) -> None:  # pragma: no cover - 3.10 only
        self.reason = ""
        if self._task is not None:
            self._task.cancel()

    def expire(self, reason: str) -> None:
        """End the awaited call now; the TimeoutError it raises is explained by `reason`."""
        if sys.version_info >= (3, 11) and self._cm is not None:
            self.reason = reason
            self._cm.reschedule(asyncio.get_running_loop().time())

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> bool | None:
        if sys.version_info >= (3, 11):
            return await self._cm.__aexit__(t, e, tb)  # type: ignore[no-any-return]
        self._cm.cancel()  # pragma: no cover - 3.10 only
        if t is asyncio.CancelledError and self.reason is not None:  # pragma: no cover
            raise TimeoutError from e
        return None  # pragma: no cover


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, BackendError) and exc.retryable


class wait_backoff_or_retry_after(wait_base):  # tenacity names its waits in lower case
    """Exponential backoff with jitter, but never shorter than the server's Retry-After."""

    def __init__(self, base_s: float, max_s: float) -> None:
        self._jitter = wait_random_exponential(multiplier=base_s, max=max_s)
        self._max = max_s

    def __call__(self, retry_state: RetryCallState) -> float:
        backoff = float(self._jitter(retry_state))
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, BackendError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), RETRY_AFTER_CAP_S)
        return backoff


async def with_timeout(awaitable: Awaitable[T], timeout_s: float | None) -> T:
    """Await with a deadline; running out becomes a retryable BackendError."""
    if timeout_s is None:
        return await awaitable
    try:
        if sys.version_info >= (3, 11):  # no extra task per call, unlike wait_for
            async with asyncio.timeout(timeout_s):
                return await awaitable
        return await asyncio.wait_for(awaitable, timeout_s)
    except asyncio.TimeoutError as exc:
        raise BackendError(f"timed out after {timeout_s:g} s", retryable=True) from exc


async def call_with_retries(fn: Callable[[], Awaitable[T]], *, max_retries: int, timeout_s: float | None,
                            base_s: float = 1.0, max_wait_s: float = 60.0,
                            on_retry: Callable[[BackendError], None] | None = None) -> tuple[T, int]:
    """Run `fn` (one attempt each call) with retries; return (result, attempts).

    A timeout becomes a retryable BackendError. The last error is re-raised when retries
    are spent or it is not retryable, with `.attempts` set on it.
    """
    attempts = 0

    async def attempt() -> T:
        nonlocal attempts
        attempts += 1
        return await with_timeout(fn(), timeout_s)

    def before_sleep(state: RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            if isinstance(exc, BackendError):
                on_retry(exc)

    retrying = AsyncRetrying(stop=stop_after_attempt(max_retries + 1),
                             wait=wait_backoff_or_retry_after(base_s, max_wait_s),
                             retry=retry_if_exception(is_retryable), before_sleep=before_sleep, reraise=True)
    try:
        result: T = await retrying(attempt)
    except Exception as exc:
        exc.attempts = attempts  # type: ignore[attr-defined]  # read by the engine for the record
        raise
    return result, attempts
