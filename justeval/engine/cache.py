"""Content-addressed reply cache: an identical call (same backend identity, parameters and
full prompt) is never paid for twice, across runs and processes.

SQLite in WAL mode, one row per successful (validated) completion; failures are never stored.
A reply can quote the caller's key back (some proxies echo headers), so what is stored passes
through `redact` like every record line; the folder is created 0700 and the database 0600 (its
WAL and shared-memory files take the database's mode).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from justeval.engine.types import Completion, Request
from justeval.errors import JustevalError
from justeval.redact import redact

SCHEMA_VERSION = 1


def default_cache_dir() -> Path:
    """$JUSTEVAL_CACHE_DIR, else the user cache folder ($XDG_CACHE_HOME or ~/.cache)/justeval."""
    env = os.environ.get("JUSTEVAL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "justeval"


def cache_key(identity: dict[str, Any], request: Request) -> str:
    """sha256 of canonical JSON of what decides the reply; the caller's `key` is not part of it."""
    material = {
        "v": SCHEMA_VERSION,
        "identity": identity,
        "params": request.params.model_dump(mode="json"),
        "messages": [m.model_dump(mode="json") for m in request.messages],
        "prompt": request.prompt,
    }
    if request.repeat:  # repeat 0 keeps the key every earlier version wrote
        material["repeat"] = request.repeat
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReplyCache:
    """`get(key)` / `put(key, completion)` over one SQLite file in `directory`."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / "replies.sqlite3"
        self.write_errors = 0
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # sqlite creates its file 0644 (less the umask): create it first, private
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, completion TEXT NOT NULL,"
                             " created REAL NOT NULL)")
        except (OSError, sqlite3.Error) as exc:
            raise JustevalError(f"cannot open the reply cache {self.path}: {exc} "
                                "(choose another with --cache-dir or JUSTEVAL_CACHE_DIR, or use --no-cache)") from exc

    def get(self, key: str) -> Completion | None:
        row = self._db.execute("SELECT completion FROM replies WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return Completion.model_validate_json(row[0])
        except ValueError:
            return None  # a row from an incompatible version: treat as a miss

    def put(self, key: str, completion: Completion) -> None:
        """Store a reply; a failed write (disk full, locked too long) only loses the cache entry."""
        try:
            self._db.execute("INSERT OR REPLACE INTO replies (key, completion, created) VALUES (?, ?, ?)",
                             (key, redact(completion.model_dump_json()), time.time()))
        except sqlite3.Error:
            self.write_errors += 1

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        self._db.close()
