"""Where the shipped data folders live (in a wheel and in a checkout), and local paths as recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def local_path(value: Any) -> Any:
    """An existing local file or folder as an absolute path; anything else (a hub id, a URL,
    a built-in name) unchanged. Recorded options must mean the same from any working folder."""
    if not isinstance(value, str) or not value or "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path.resolve()) if path.exists() else value
