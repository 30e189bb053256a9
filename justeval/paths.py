"""Where the shipped data folders live, both in a wheel and in a source checkout."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """Return the folder `instructions`, `judges` or `leaderboard`.

    A wheel carries them as `justeval/_data/<name>`; an editable install or a checkout
    finds them beside the package.
    """
    for candidate in (_PKG / "_data" / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"justeval data folder {name!r} not found (broken installation?)")
