"""Command line: a thin layer of verbs over the library API."""

from __future__ import annotations

import sys

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
)


def main() -> None:
    """Entry point: user-facing errors become one line on stderr and an exit code."""
    try:
        app(standalone_mode=False)
    except JustevalError as exc:
        from justeval.redact import redact

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except OSError as exc:  # an output that cannot be written, not caught closer to the write
        from justeval.redact import redact

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted: finished items are saved; run the same command again to resume",
              file=sys.stderr)
        sys.exit(130)
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
