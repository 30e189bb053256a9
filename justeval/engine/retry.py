"""Which failures are worth another try, and how long to wait before it (tenacity).

Retryable: 429, 5xx, timeouts and dropped connections (BackendError.retryable). Never
400/401/403/404. Waits grow exponentially with full jitter; a server's Retry-After wins
when it asks for longer.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_base, wait_random_exponential

from justeval.engine.types import BackendError

T = TypeVar("T")

#: a Retry-After longer than this is treated as this (a misbehaving server cannot park us for hours)
RETRY_AFTER_CAP_S = 600.0


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
