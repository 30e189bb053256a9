"""Rich consoles for the CLI's tables: the terminal's width, or a wide one when the output is
piped to a file or another program (rich would otherwise wrap and cut tables at 80 columns)."""

from __future__ import annotations

import sys
from collections import Counter

from rich.console import Console

PIPED_WIDTH = 200


def console(*, stderr: bool = False, piped_width: int = PIPED_WIDTH) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else piped_width)


def commonest(reasons: Counter[str], n: int = 3, width: int = 160) -> str:
    """The most frequent failure messages with their counts, for a one-glance diagnosis
    ("12 x HTTP 500: upstream down; 3 x timed out after 120 s")."""
    from rich.markup import escape

    from justeval.redact import redact

    parts = [f"{count} x {escape(redact(message.splitlines()[0][:width]) if message else 'error')}"
             for message, count in reasons.most_common(n)]
    rest = sum(reasons.values()) - sum(c for _, c in reasons.most_common(n))
    return "; ".join(parts) + (f"; {rest} other" if rest > 0 else "")
