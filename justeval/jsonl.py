"""Reading and writing record files so that bad input names its file and line, appends
survive a crash, and whole-file outputs never appear half written."""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any, TypeVar

from pydantic import BaseModel, ValidationError

from justeval.errors import InputError, JustevalError, UsageError
from justeval.redact import redact

M = TypeVar("M", bound=BaseModel)


def first_error(exc: ValidationError) -> str:
    """The first failure of a validation, as the one line a bad record gets: the field and why."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
    return f"field '{loc}': {err.get('msg', 'invalid')}"


# A JSON escape of a UTF-16 surrogate: legal JSON, but alone it is not a character, and a text
# holding one can be neither written as UTF-8 nor sent to a server.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
_LONE_SURROGATE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
                             r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}")
LONE_SURROGATE = "holds a lone UTF-16 surrogate escape (\\udXXX), which is not a character"


def _has_lone_surrogate(text: str, obj: Any) -> bool:
    if "\\u" not in text or not _SURROGATE_ESCAPE.search(text):
        return False
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_problem(exc: Exception) -> str:
    """What json.loads refused, in a few words (never the 4,000-character text of a huge number)."""
    if isinstance(exc, json.JSONDecodeError):
        return f"malformed JSON: {exc.msg}"
    if isinstance(exc, RecursionError):
        return "malformed JSON: nested too deeply"
    return "malformed JSON: a number has too many digits" if "digits" in str(exc) else \
        f"malformed JSON: {str(exc).splitlines()[0][:200]}"


def parse_json(data: bytes | str, path: str | Path, *, line: int | None = None) -> Any:
    """One JSON document (a whole .json file, or one JSONL line when `line` is given), with every
    way it can be wrong as one InputError naming `path` (and the line): bytes that are not UTF-8,
    malformed or too deeply nested JSON, a number of thousands of digits, a lone surrogate."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            at_byte = line if line is not None else data.count(b"\n", 0, exc.start) + 1
            raise InputError(path, f"not valid UTF-8 (byte {exc.start})", line=at_byte) from exc
    else:
        text = data
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, and int() of a 5,000-digit number
        where = line if line is not None else getattr(exc, "lineno", None)
        raise InputError(path, _json_problem(exc), line=where) from exc
    if _has_lone_surrogate(text, obj):
        found = _LONE_SURROGATE.search(text)
        at = line if line is not None or found is None else text.count("\n", 0, found.start()) + 1
        raise InputError(path, f"text {LONE_SURROGATE}", line=at)
    return obj


def read_json_file(path: str | Path, what: str = "file") -> Any:
    """A whole JSON file (a list of records, a key, a config), read with `parse_json`'s rules;
    a file that cannot be read is an InputError too."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read {what}: {exc.strerror or exc}") from exc
    return parse_json(data, path)


def object_of_line(raw: bytes, path: Path, line: int, *, torn: bool) -> dict[str, Any] | None:
    """The object on one JSONL line; None for the torn tail of a crashed write (`torn`: this is
    the last line and has no newline, and it does not parse, not even as UTF-8)."""
    try:
        obj = parse_json(raw, path, line=line)
    except InputError:
        if torn:
            return None
        raise
    if not isinstance(obj, dict):
        raise InputError(path, "expected a JSON object", line=line)
    return obj


def require_regular_file(path: Path) -> None:
    """A record file that is a FIFO or a device is refused rather than read (reading a FIFO no
    one writes waits forever); an input file may be one (`--instructions <(...)`)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(path, "not a regular file (record files are regular files)")
    except FileNotFoundError:
        pass


def record_of_line(raw: bytes, path: Path, line: int, model: type[M], *, torn: bool) -> M | None:
    """The `model` record on one line of a record file, by the rules of `iter_json_lines`
    (None for a torn tail): validated straight from its bytes, and a line that fails read
    again the careful way, so that every reader refuses the same lines with the same message."""
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        pass
    obj = object_of_line(raw, path, line, torn=torn)
    return None if obj is None else validate_record(model, obj, path, line=line)


def _read_lines(path: Path, *, regular_only: bool = False) -> tuple[list[bytes], bool]:
    """(lines, whether the file ends with a newline); `regular_only`: see require_regular_file."""
    if regular_only:
        require_regular_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    return data.split(b"\n"), data.endswith(b"\n")


def iter_json_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; a bad line is an InputError.

    This is the one reading of a record file (`read_records` applies the same rules): one JSON
    object per line, nothing else on it. A final line without its newline that does not parse
    is the tail of a crashed write and is skipped rather than reported, so a resumed run can go
    on; a final line that parses is a record like any other.
    """
    path = Path(path)
    lines, terminated = _read_lines(path)
    last = len(lines) - 1
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        obj = object_of_line(raw, path, i + 1, torn=i == last and not terminated)
        if obj is not None:
            yield i + 1, obj


def read_records(path: str | Path, model: type[M]) -> list[M]:
    """Load a JSONL file of `model` records, failing on the first bad one with its line.

    Each line is validated straight from its bytes (the fast path); a line that fails is read
    again the way `iter_json_lines` reads it, so both readers accept and refuse the same lines
    with the same message (two records on one line, a torn tail, a lone surrogate...). These
    are justeval's own record files, so one that is not a regular file is refused."""
    path = Path(path)
    lines, terminated = _read_lines(path, regular_only=True)
    last = len(lines) - 1
    out: list[M] = []
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        record = record_of_line(raw, path, i + 1, model, torn=i == last and not terminated)
        if record is not None:
            out.append(record)
    return out


def validate_record(model: type[M], obj: Any, path: str | Path, *, line: int | None = None) -> M:
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        rec = obj.get("id") if isinstance(obj, dict) else None
        raise InputError(path, first_error(exc), line=line, record=rec) from exc


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
            self.path.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
            refuse_special_file(self.path)
            self._repair_tail()
            self._fh: IO[str] = os.fdopen(_open_regular(self.path), "a", encoding="utf-8")
        except OSError as exc:
            raise write_error(self.path, exc) from exc

    def _repair_tail(self) -> None:
        """Make the next append start on a fresh line. A last line without its newline is either
        a whole record (written by hand, or by a tool that does not end files with a newline):
        it is kept and the newline added; or the torn tail of a crashed write, which readers
        skip: it is dropped. Dropping a whole record would lose a paid result for good, since
        the next run would not know the item was done."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as fh:
            start, tail = _last_line(fh)
            if tail is None:
                return
            if _line_object_or_none(tail) is None:
                fh.truncate(start)
            else:
                fh.seek(0, os.SEEK_END)
                fh.write(b"\n")

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


def _last_line(fh: IO[bytes], chunk: int = 64 * 1024) -> tuple[int, bytes | None]:
    """(offset, bytes) of an unterminated last line, read backwards from the end (a record file
    can be gigabytes); (end, None) when the file ends with a newline."""
    end = fh.seek(0, os.SEEK_END)
    fh.seek(end - 1)
    if fh.read(1) == b"\n":
        return end, None
    pos, tail = end, b""
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        fh.seek(pos)
        tail = fh.read(step) + tail
        cut = tail.rfind(b"\n", 0, step)  # the chunk just read: the rest has no newline
        if cut >= 0:
            return pos + cut + 1, tail[cut + 1:]
    return 0, tail


def _line_object_or_none(raw: bytes) -> Any:
    """The JSON value of a line, or None if it does not parse (the readers' torn-tail rule)."""
    try:
        return parse_json(raw, "-", line=0)
    except InputError:
        return None


#: run files (records, run.json, the cache) and the folders that hold them are the user's alone
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def refuse_special_file(path: Path) -> None:
    """Outputs are regular files: writing to a FIFO would block, and replacing a device or
    another special file with a regular one (as a rename does) breaks the system. A missing
    path is fine; a symbolic link is judged by what it points to."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise write_error(path, exc) from exc
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise UsageError(f"cannot write {path}: it is {what} (outputs are written only to regular files; "
                         "choose another path)")


def _open_regular(path: Path) -> int:
    """Open `path` for appending, created 0600; refused if it turned out not to be a regular
    file (O_NONBLOCK: a FIFO swapped in after the check neither blocks nor is written)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, PRIVATE_FILE_MODE)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UsageError(f"cannot write {path}: it is not a regular file (outputs are written only to "
                             "regular files; choose another path)")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def write_error(path: Path, exc: OSError) -> JustevalError:
    """The one-line error for an output that cannot be written (full disk, a directory in the
    way, no permission)."""
    return JustevalError(f"cannot write {path}: {exc.strerror or exc}; what was written before is kept "
                         "(free space or fix the path, then run the same command again)")


@contextmanager
def atomic_output(path: str | Path, mode: str = "w", *, private: bool = False) -> Iterator[IO[Any]]:
    """Write a whole file through a temporary sibling and rename it into place on success,
    so a failure never leaves a partial output file. Only a regular file (or a new one) is
    replaced. A `private` file (run files, the cache) is created 0600 whatever the umask, and
    one that exists keeps its mode; other outputs get the usual permissions."""
    path = Path(path)
    refuse_special_file(path)
    try:
        path.parent.mkdir(mode=PRIVATE_DIR_MODE if private else 0o777, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise write_error(path, exc) from exc
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as fh:
            if private:  # mkstemp made it 0600; a file being replaced keeps the mode it has
                with suppress(FileNotFoundError):
                    os.fchmod(fd, stat.S_IMODE(os.stat(path).st_mode))
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.fchmod(fd, 0o666 & ~umask)  # outputs get the usual permissions
            yield fh
        os.replace(tmp, path)
    except BaseException as exc:
        with suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError) and exc.filename is None:  # a failed write to the temporary file
            raise write_error(path, exc) from exc
        raise


def write_jsonl(path: str | Path, records: Iterable[BaseModel | dict[str, Any]], *, private: bool = False) -> None:
    with atomic_output(path, private=private) as fh:
        for rec in records:
            fh.write(dumps(rec) + "\n")
