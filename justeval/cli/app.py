"""The typer application object; command modules register themselves on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="justeval",
    help="Multi-aspect alignment scoring of LLMs: instructions -> generation -> judging -> leaderboard.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command("version")
def version() -> None:
    """Print the justeval version."""
    from justeval import __version__

    typer.echo(__version__)
