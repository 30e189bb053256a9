"""The circuit breaker: when a server stops answering, stop sending to it, and say why in one line.

A dead server used to cost every item its full retry schedule (an hour for 1,000 items against
nothing listening, ten for a host that accepts and never answers). Instead each endpoint counts
its calls that got no answer from the model in a row: connection failures, timeouts, and a
gateway's 502/504 (the proxy answered, the model behind it did not). Any other reply, even an
HTTP error, is an answer and resets the count. After `EngineConfig.breaker_failures` in a row,
or a failed probe, the endpoint is out: its calls go to the others, and it is probed again after
`breaker_cooldown_s`. When every endpoint is out and the last probe of each failed, the run
stops: calls in flight end, nothing new is sent, and the items not sent are reported apart from
the failed ones (`RunSummary.not_sent_keys`, never passed to `on_result`) with the reason as one
line (`RunSummary.stop_reason`). Once every finished result has been delivered, `Engine.run`
raises `RunStopped` (a JustevalError: `main()` prints its line and exits 1), carrying the
summary; with `EngineConfig.raise_on_stop=False` it returns the summary instead, and the caller
calls `summary.raise_for_stop()` when it has printed what it wants to.

A `Retry-After` longer than `EngineConfig.retry_after_cap_s` is not obeyed blindly either: it
takes the endpoint out for that long, which, for a single server, ends the run with that reason.
"""

from __future__ import annotations

import errno
import socket
from typing import Any

from justeval.engine.types import BackendError, TransportFailure
from justeval.errors import JustevalError

#: statuses by which a gateway says the model behind it cannot be reached
GATEWAY_STATUSES = frozenset({502, 504})

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset",
    errno.ECONNABORTED: "connection aborted",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connection timed out",
    errno.EPIPE: "connection closed",
}


class RunStopped(JustevalError):
    """The engine stopped sending because no server answered (or one asked to wait too long);
    the message is the one-line reason, with what was not sent. Exit code 1. `summary` is the
    engine's `RunSummary` of the run (what finished, what failed, `not_sent_keys`)."""

    exit_code = 1

    def __init__(self, message: str, *, summary: Any = None) -> None:
        super().__init__(message)
        self.summary = summary


#: exception class names, anywhere in a failure's cause chain, that mean the server was not
#: reached: for backends that do not set `BackendError.failure` themselves (LiteLLM's wrappers)
_CONNECTION_NAMES = frozenset({"APIConnectionError", "ConnectError", "ClientConnectorError",
                               "ServerDisconnectedError", "RemoteProtocolError"})
_TIMEOUT_NAMES = frozenset({"Timeout", "APITimeoutError", "ReadTimeout", "ConnectTimeout", "TimeoutError"})


def failure_kind(exc: BackendError) -> TransportFailure | None:
    """Whether this failure means the model could not be reached (what the breaker counts)."""
    if exc.failure is not None:
        return exc.failure
    if exc.status in GATEWAY_STATUSES:
        return "gateway"
    if exc.retryable:  # LiteLLM reports a refused connection as an HTTP 500: trust the chain, not the status
        seen: set[int] = set()
        current: BaseException | None = exc.__cause__
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            name = type(current).__name__
            if name in _TIMEOUT_NAMES:
                return "timeout"
            if name in _CONNECTION_NAMES:
                return "connection"
            current = current.__cause__ or current.__context__
    return None


def transport_reason(exc: BaseException) -> str | None:
    """The root cause of a failed connection in words ("connection refused"), found by walking
    the exception chain down to the socket error; None when there is none."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, socket.gaierror):
            return "host name not found"
        if isinstance(current, OSError) and current.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[current.errno]
        name = type(current).__name__
        if name == "ServerDisconnectedError":
            return "server closed the connection"
        os_error = getattr(current, "os_error", None)  # aiohttp's connector error keeps the socket's
        if isinstance(os_error, OSError) and os_error.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[os_error.errno]
        current = current.__cause__ or current.__context__
    return None


def short_reason(exc: BackendError) -> str:
    """What went wrong on the wire, short enough for the stop line."""
    text = str(exc) or type(exc).__name__
    for prefix in ("connection failed: ", "request timed out: "):
        text = text.removeprefix(prefix)
    return text.splitlines()[0][:200] if text else "no answer"


def stop_message(reasons: list[str], not_sent: int, *, later: bool = False) -> str:
    """The one line the CLI prints when the engine stopped: why, what it cost, what to do."""
    why = reasons[0] if len(reasons) == 1 else f"no server answers ({'; '.join(reasons)})"
    items = "item" if not_sent == 1 else "items"
    when = "later" if later else "when it is up"
    return f"{why}; nothing was charged for the {not_sent:,} {items} not sent; run the same command again {when}"
