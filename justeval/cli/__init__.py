"""Command line: a thin layer of verbs over the library API."""

from __future__ import annotations

import sys

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


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and an exit code."""
    try:
        code = app(standalone_mode=False)
    except JustevalError as exc:
        from justeval.redact import redact

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:  # an output that cannot be written, not caught closer to the write
        from justeval.redact import redact

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except ValidationError as exc:  # a settings model refused a value given on the command line
        from justeval.errors import describe_invalid
        from justeval.redact import redact

        print(f"error: {redact(describe_invalid(exc))}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        _interrupted()
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and friends
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
    # Without standalone mode, click returns the exit code of a typer.Exit instead of exiting,
    # and typer turns Ctrl-C into Exit(130): pass both on, or a chained command would go on.
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        if code == 130:
            _interrupted()
        sys.exit(code)


def _interrupted() -> None:
    print("interrupted: finished items are saved; run the same command again to resume", file=sys.stderr)
    sys.exit(130)
