"""Client-side pacing for provider limits (requests and tokens per minute).

Token buckets that refill continuously and hold at most one second's worth, so calls are
spread evenly instead of bursting a whole minute's allowance at once.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """`rate_per_minute` units refilled continuously; `acquire(n)` waits until n fit.

    A request larger than the bucket is let through once the bucket is full and leaves a
    debt, so a single huge prompt cannot block forever. `debit(n)` charges units found out
    after the fact (e.g. completion tokens).
    """

    def __init__(self, rate_per_minute: float, burst_s: float = 1.0) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate_per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self, units: float = 1.0) -> None:
        async with self._lock:  # FIFO: the first waiter is served first
            need = min(units, self.capacity)
            while True:
                self._refill()
                if self.level >= need:
                    self.level -= units
                    return
                await asyncio.sleep((need - self.level) / self.rate)

    def debit(self, units: float) -> None:
        self._refill()
        self.level -= units


class RateLimiter:
    """Both limits together; either may be None (unlimited). `hold(s)` pauses every new call
    for s seconds: a server's Retry-After speaks to the whole client, not to one request."""

    def __init__(self, rpm: float | None = None, tpm: float | None = None) -> None:
        self.requests = TokenBucket(rpm) if rpm else None
        self.tokens = TokenBucket(tpm) if tpm else None
        self._resume_at = 0.0

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None or self._resume_at > time.monotonic()

    def hold(self, seconds: float) -> None:
        """Send nothing new for `seconds` (extends, never shortens, a running pause)."""
        self._resume_at = max(self._resume_at, time.monotonic() + max(0.0, seconds))

    async def acquire(self, est_tokens: int) -> None:
        while (delay := self._resume_at - time.monotonic()) > 0:  # a later hold may extend the pause
            await asyncio.sleep(delay)
        if self.requests is not None:
            await self.requests.acquire(1)
        if self.tokens is not None:
            await self.tokens.acquire(est_tokens)

    def settle(self, est_tokens: int, actual_tokens: int) -> None:
        """Charge the difference between the estimate and what the call really used."""
        if self.tokens is not None and actual_tokens > est_tokens:
            self.tokens.debit(actual_tokens - est_tokens)
