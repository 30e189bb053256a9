"""What batch mode has submitted, kept in the run directory (`batches.jsonl`) so that a killed
process, a closed terminal or `--no-wait` never submits a request twice: the next run reads
which batches are still open and collects them.

Append-only, one event per line, each written and fsynced before the engine goes on:
- `uploaded`: an input file is at the provider, with the custom ids it holds (written before
  the batch is created: if the process dies during the create call, the next run finds the
  batch made from that file, or makes it, instead of uploading the requests again);
- `created`: the batch id for that file;
- `settled`: the batch reached a terminal status and its results were delivered;
- `abandoned`: the provider refused to create a batch from the file (nothing was charged).

A custom id is the request's content hash (the reply-cache key), so a request is recognised in
an open batch whatever its caller key, and batches of another backend (another identity) in the
same folder are left alone.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

STATE_FILE = "batches.jsonl"
STATE_VERSION = 1


class BatchEntry(BaseModel):
    """One submitted input file and the batch made from it."""

    model_config = ConfigDict(extra="ignore")

    file_id: str
    identity: str
    endpoint: str
    custom_ids: list[str]
    uploaded_at: float = 0.0
    batch_id: str | None = None
    status: str | None = None      # the terminal status once settled
    abandoned: str | None = None   # why the provider refused it

    @property
    def open(self) -> bool:
        return self.status is None and self.abandoned is None


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    v: int = STATE_VERSION
    event: Literal["uploaded", "created", "settled", "abandoned"]
    file_id: str
    at: float = Field(default_factory=time.time)
    identity: str | None = None
    endpoint: str | None = None
    custom_ids: list[str] | None = None
    batch_id: str | None = None
    status: str | None = None
    reason: str | None = None
    completed: int | None = None
    failed: int | None = None


class BatchState:
    """The state file of one folder: read once, then appended to."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / STATE_FILE
        self.entries: dict[str, BatchEntry] = {}  # by file id, in upload order
        if self.path.exists():
            self._load()

    def _load(self) -> None:
        from justeval.jsonl import iter_json_lines

        for _line, obj in iter_json_lines(self.path):
            event = _Event.model_validate(obj)
            entry = self.entries.get(event.file_id)
            if event.event == "uploaded":
                self.entries[event.file_id] = BatchEntry(
                    file_id=event.file_id, identity=event.identity or "", endpoint=event.endpoint or "",
                    custom_ids=event.custom_ids or [], uploaded_at=event.at)
            elif entry is None:
                continue  # an event for a file this state never uploaded: ignore
            elif event.event == "created":
                entry.batch_id = event.batch_id
            elif event.event == "settled":
                entry.status = event.status or "completed"
            else:
                entry.abandoned = event.reason or "refused"

    def open_entries(self, identity: str) -> list[BatchEntry]:
        """Batches of this backend not yet collected (or files whose batch may not exist yet)."""
        return [e for e in self.entries.values() if e.identity == identity and e.open]

    def _append(self, event: _Event) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(event.model_dump(mode="json", exclude_none=True), separators=(",", ":")) + "\n"
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)  # a batch is money: its record must survive the process
        finally:
            os.close(fd)

    def uploaded(self, file_id: str, identity: str, endpoint: str, custom_ids: list[str]) -> BatchEntry:
        self._append(_Event(event="uploaded", file_id=file_id, identity=identity, endpoint=endpoint,
                            custom_ids=custom_ids))
        entry = BatchEntry(file_id=file_id, identity=identity, endpoint=endpoint, custom_ids=custom_ids,
                           uploaded_at=time.time())
        self.entries[file_id] = entry
        return entry

    def created(self, entry: BatchEntry, batch_id: str) -> None:
        self._append(_Event(event="created", file_id=entry.file_id, batch_id=batch_id))
        entry.batch_id = batch_id

    def settled(self, entry: BatchEntry, status: str, *, completed: int, failed: int) -> None:
        self._append(_Event(event="settled", file_id=entry.file_id, batch_id=entry.batch_id, status=status,
                            completed=completed, failed=failed))
        entry.status = status

    def abandoned(self, entry: BatchEntry, reason: str) -> None:
        self._append(_Event(event="abandoned", file_id=entry.file_id, reason=reason[:500]))
        entry.abandoned = reason
