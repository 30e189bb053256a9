"""Rich consoles for the CLI's tables: the terminal's width, or a wide one when the output is
piped to a file or another program (rich would otherwise wrap and cut tables at 80 columns)."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 200


def console(*, stderr: bool = False, piped_width: int = PIPED_WIDTH) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else piped_width)
