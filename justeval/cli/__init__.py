"""Command line: a thin layer of verbs over the library API."""

from __future__ import annotations

import contextlib
import signal
import sys
from types import FrameType
from typing import Any

from pydantic import ValidationError

from justeval.cli.app import app
from justeval.errors import JustevalError

# Each module registers its commands on `app` when imported.
from justeval.cli import (  # noqa: F401  isort: skip
    instructions_cmd,
    generate_cmd,
    judge_cmd,
    leaderboard_cmd,
    review_cmd,
    run_cmd,
    validity_cmd,
    experiments_cmd,
)
from justeval.cli import tokenshift_cmd  # noqa: F401  isort: skip

#: signals that stop a run the way Ctrl-C does (finished items kept, exit 128 + the signal)
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_stopped_by: int = signal.SIGINT


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and an exit code."""
    global _stopped_by
    _stopped_by = signal.SIGINT
    previous = _stop_on_signals()
    try:
        code = app(standalone_mode=False)
    except JustevalError as exc:
        _fail(str(exc), exc.exit_code)
    except OSError as exc:  # an output that cannot be written, not caught closer to the write
        _fail(str(exc), 1)
    except ValidationError as exc:  # a settings model refused a value given on the command line
        from justeval.errors import describe_invalid

        _fail(describe_invalid(exc), 2)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except Exception as exc:
        kind = _click_kind(exc)
        if kind == "usage":  # click's (or typer's vendored click's) usage errors and friends
            exc.show()  # type: ignore[attr-defined]
            sys.exit(int(getattr(exc, "exit_code", 2)))
        if kind == "abort":
            sys.exit(1)
        raise
    finally:
        _restore(previous)
    # Without standalone mode, click returns the exit code of a typer.Exit instead of exiting,
    # and typer turns Ctrl-C into Exit(130): pass both on, or a chained command would go on.
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == 130:
            _interrupted()
        sys.exit(code)


def _fail(message: str, code: int) -> None:
    from justeval.redact import redact

    print(f"error: {redact(message)}", file=sys.stderr)
    sys.exit(code)


def _click_kind(exc: BaseException) -> str | None:
    """'usage' for a ClickException, 'abort' for an Abort, of click itself or of the copy of
    click that typer vendors (`typer._click`, not a subclass of click's): told apart by the
    class names in the exception's ancestry, so either library, and a future move of the copy,
    is recognised."""
    for cls in type(exc).__mro__:
        if cls.__module__.split(".")[0] not in ("click", "typer"):
            continue
        if cls.__name__ == "ClickException" and callable(getattr(exc, "show", None)):
            return "usage"
        if cls.__name__ == "Abort":
            return "abort"
    return None


def _stop_on_signals() -> dict[int, Any]:
    """SIGTERM (kill, a scheduler's stop) and SIGHUP (a closed terminal) stop a run as Ctrl-C
    does: they are handed to whatever handles SIGINT at that moment (asyncio cancels the run,
    which keeps every finished item), and the exit code says which signal it was. A signal the
    parent set to be ignored (`nohup` ignores SIGHUP) stays ignored. Returns the handlers it
    replaced, for `_restore`."""
    replaced: dict[int, Any] = {}
    for sig in STOP_SIGNALS:
        try:
            current = signal.getsignal(sig)
            if current == signal.SIG_DFL:
                signal.signal(sig, _as_interrupt)
                replaced[sig] = current
        except (ValueError, OSError):  # not the main thread (an embedding program): leave signals alone
            break
    return replaced


def _restore(replaced: dict[int, Any]) -> None:
    for sig, handler in replaced.items():
        with contextlib.suppress(ValueError, OSError):
            signal.signal(sig, handler)


def _as_interrupt(signum: int, frame: FrameType | None) -> None:
    global _stopped_by
    _stopped_by = signum
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, frame)
        return
    raise KeyboardInterrupt


def _interrupted() -> None:
    what = "interrupted" if _stopped_by == signal.SIGINT else f"stopped by {signal.Signals(_stopped_by).name}"
    print(f"{what}: finished items are saved; run the same command again to resume", file=sys.stderr)
    sys.exit(128 + _stopped_by)
