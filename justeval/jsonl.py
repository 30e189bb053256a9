"""Reading and writing record files so that bad input names its file and line, appends
survive a crash, and whole-file outputs never appear half written."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from justeval.errors import InputError, JustevalError
from justeval.redact import redact

M = TypeVar("M", bound=BaseModel)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
    return f"field '{loc}': {err.get('msg', 'invalid')}"


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line is an InputError.

    A final line without its newline that does not parse is the tail of a crashed write and
    is skipped rather than reported, so a resumed run can go on.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    lines = data.split(b"\n")
    last = len(lines) - 1
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(path, f"not valid UTF-8 (byte {exc.start})", line=i + 1) from exc
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            if i == last and not data.endswith(b"\n"):
                return  # torn final write
            raise InputError(path, f"malformed JSON: {exc.msg}", line=i + 1) from exc
        if not isinstance(obj, dict):
            raise InputError(path, "expected a JSON object", line=i + 1)
        yield i + 1, obj


_ADAPTERS: dict[type[BaseModel], TypeAdapter[Any]] = {}


def _fast_records(path: Path, model: type[M]) -> list[M]:
    """The whole file validated in one pydantic-core pass (several times faster on big runs)."""
    lines = [ln for ln in path.read_bytes().split(b"\n") if ln.strip()]
    if model not in _ADAPTERS:
        _ADAPTERS[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    records: list[M] = _ADAPTERS[model].validate_json(b"[" + b",".join(lines) + b"]")
    return records


def read_records(path: str | Path, model: type[M]) -> list[M]:
    """Load a JSONL file of `model` records, failing on the first bad one with its line.

    A clean file is read in one fast pass; anything unusual (a bad line, a torn tail from a
    crash, unreadable bytes) is read line by line, which skips a torn tail and names the
    first bad line."""
    try:
        return _fast_records(Path(path), model)
    except Exception:
        pass
    out: list[M] = []
    for line, obj in iter_json_lines(path):
        try:
            out.append(model.model_validate(obj))
        except ValidationError as exc:
            raise InputError(path, _first_error(exc), line=line, record=obj.get("id")) from exc
    return out


def validate_record(model: type[M], obj: Any, path: str | Path, *, line: int | None = None) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        rec = obj.get("id") if isinstance(obj, dict) else None
        raise InputError(path, _first_error(exc), line=line, record=rec) from exc


def dumps(record: BaseModel | dict[str, Any]) -> str:
    """One record as a JSON line, with any API key value masked (see justeval.redact)."""
    if isinstance(record, BaseModel):
        return redact(record.model_dump_json())
    return redact(json.dumps(record, ensure_ascii=False))


class JsonlAppender:
    """Append records one at a time. Each line is flushed to the operating system at once, so
    a killed process loses at most the line being written (which readers then skip); fsync
    (against power loss) runs at most every `fsync_interval` seconds and on close, because a
    4 ms fsync per line would stall the event loop that delivers results."""

    def __init__(self, path: str | Path, *, fsync: bool = True, fsync_interval: float = 1.0) -> None:
        self.path = Path(path)
        self._fsync = fsync
        self._fsync_interval = fsync_interval
        self._last_sync = time.monotonic()
        self._failed = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._repair_tail()
            self._fh: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115
        except OSError as exc:
            raise write_error(self.path, exc) from exc

    def _repair_tail(self) -> None:
        """Drop a torn last line left by a crash so the next append starts on a fresh line."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            data = fh.read()
            if data.endswith(b"\n"):
                return
            cut = data.rfind(b"\n") + 1
            fh.truncate(cut)

    def write(self, record: BaseModel | dict[str, Any]) -> None:
        """A failed write (full disk, file size limit) is a one-line JustevalError; the lines
        before it are intact and a torn last line is dropped by the next run."""
        try:
            self._fh.write(dumps(record) + "\n")
            self._fh.flush()
            if self._fsync and time.monotonic() - self._last_sync >= self._fsync_interval:
                os.fsync(self._fh.fileno())
                self._last_sync = time.monotonic()
        except OSError as exc:
            self._failed = True
            raise write_error(self.path, exc) from exc

    def close(self) -> None:
        if self._fh.closed:
            return
        if self._failed:  # the unwritten rest of the buffer cannot be saved: drop it quietly
            with suppress(OSError):
                self._fh.close()
            return
        try:
            self._fh.flush()
            if self._fsync:
                os.fsync(self._fh.fileno())
            self._fh.close()
        except OSError as exc:
            self._failed = True
            with suppress(OSError):
                self._fh.close()
            raise write_error(self.path, exc) from exc

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_error(path: Path, exc: OSError) -> JustevalError:
    """The one-line error for an output that cannot be written (full disk, a directory in the
    way, no permission)."""
    return JustevalError(f"cannot write {path}: {exc.strerror or exc}; what was written before is kept "
                         "(free space or fix the path, then run the same command again)")


@contextmanager
def atomic_output(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Write a whole file through a temporary sibling and rename it into place on success,
    so a failure never leaves a partial output file."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write to the temporary file
            raise write_error(path, exc) from exc
        raise


def write_jsonl(path: str | Path, records: Iterable[BaseModel | dict[str, Any]]) -> None:
    with atomic_output(path) as fh:
        for rec in records:
            fh.write(dumps(rec) + "\n")
