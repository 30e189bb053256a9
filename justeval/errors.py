"""Errors a user can act on: each renders as one line and maps to an exit code."""

from __future__ import annotations

from pathlib import Path


class JustevalError(Exception):
    """Base for errors shown to the user as a single line (exit code 1)."""

    exit_code = 1


class InputError(JustevalError):
    """Bad input data: always names the file and, where known, the record (exit code 2)."""

    exit_code = 2

    def __init__(self, path: str | Path | None, message: str, *, line: int | None = None,
                 record: object | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.record = record
        self.message = message
        where = self.path or "<input>"
        if line is not None:
            where += f":{line}"
        if record is not None:
            where += f" (record {record})"
        super().__init__(f"{where}: {message}")


class UsageError(JustevalError):
    """An option value that cannot work (an unknown choice, a file that is not there): exit code 2."""

    exit_code = 2


class SourceUnavailableError(JustevalError):
    """A dataset or URL could not be reached (for example without network)."""

    exit_code = 2


class BudgetExceeded(JustevalError):
    """Raised internally when a spending limit stops a run."""


def describe_invalid(exc: Exception) -> str:
    """One line for a pydantic ValidationError of a settings model: which setting, and why."""
    errors = getattr(exc, "errors", None)
    if not callable(errors):
        return str(exc).splitlines()[0]
    first = errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"invalid setting '{where}': {message}"


def warn(message: str) -> None:
    """One line on stderr about something the user should know but that does not stop the run."""
    import sys

    print(f"warning: {message}", file=sys.stderr, flush=True)
