"""Helpers shared by the HTTP backends: Retry-After parsing and status classification."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any

RETRYABLE_STATUSES = frozenset({408, 409, 425, 429})


def is_retryable_status(status: int | None) -> bool:
    """429, request timeouts and 5xx are worth another try; other 4xx never are."""
    if status is None:
        return True
    return status in RETRYABLE_STATUSES or status >= 500


def parse_retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
