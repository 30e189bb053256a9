"""Load the instruction set from the Hugging Face hub or a local file/folder.

Both the published field names and common alternatives are accepted; every bad record is
reported as an `InputError` naming the file and the line (or record index).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from justeval.errors import InputError, SourceUnavailableError
from justeval.records import CATEGORIES, Instruction, normalize_id

DEFAULT_SOURCE = "re-align/just-eval-instruct"
DEFAULT_SPLIT = "test"
FILE_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
# Datasets whose items are safety prompts when a file gives no `category`.
SAFETY_DATASETS = frozenset({"hh-rlhf/red-team-attempts", "red_team", "maliciousinstruct"})

# alternative field name -> canonical Instruction field
ALIASES: dict[str, str] = {
    "idx": "id", "item_id": "id", "question_id": "id",
    "prompt": "instruction", "query": "instruction", "text": "instruction", "input": "instruction",
    "source": "source_id", "sourceid": "source_id",
    "subset": "dataset", "dataset_name": "dataset",
    "task_type": "task_types", "tasks": "task_types", "task": "task_types",
    "topic": "topics",
    "level": "difficulty",
}
LIST_FIELDS = ("task_types", "topics")
OFFLINE_HINT = ("pass --instructions with a local .jsonl/.json/.csv/.parquet file or folder "
                "(e.g. a copy of just-eval-instruct's instructions.jsonl)")


def _plain(value: Any) -> Any:
    """numpy arrays/scalars from parquet become plain Python values."""
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return value.tolist()
    return value


def _as_list(value: Any) -> Any:
    """CSV cells hold lists as JSON (`["a","b"]`) or as `a;b`, `a|b`, `a,b`."""
    value = _plain(value)
    if value is None:
        return []
    if isinstance(value, float) and value != value:  # NaN from pandas
        return []
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            try:
                return json.loads(text)
            except (ValueError, RecursionError):  # not JSON (too deep, a 5,000-digit number): plain text
                text = text.strip("[]").replace("'", "").replace('"', "")
        for sep in (";", "|", ","):
            if sep in text:
                return [p.strip() for p in text.split(sep) if p.strip()]
        return [text]
    return value


def normalize_record(raw: dict[str, Any]) -> dict[str, Any]:
    """Map alternative field names to ours and tidy values; unknown fields are dropped later."""
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = str(key).strip()
        canon = name if name in Instruction.model_fields else ALIASES.get(name.lower(), name)
        if canon in out and canon != name:
            continue  # the canonical field wins over an alias
        out[canon] = _plain(value)
    for field in LIST_FIELDS:
        if field in out:
            out[field] = _as_list(out[field])
    diff = out.get("difficulty")
    if diff is None or (isinstance(diff, float) and diff != diff) or (isinstance(diff, str) and not diff.strip()):
        out["difficulty"] = None
    elif isinstance(diff, (int, float)) and not isinstance(diff, bool):
        out["difficulty"] = str(diff)  # a numeric level read from CSV; lists and objects are errors
    for key in ("source_id", "dataset"):
        if key in out and isinstance(out[key], float) and out[key] != out[key]:
            out.pop(key)
    if not out.get("category"):
        ds = str(out.get("dataset", "")).lower()
        sid = str(out.get("source_id", "")).lower()
        safety = ds in SAFETY_DATASETS or sid.startswith(("red_team", "maliciousinstruct"))
        out["category"] = "safety" if safety else "regular"
    return out


def _check(items: Iterable[tuple[int | None, int | None, dict[str, Any]]], path: Path | str) -> list[Instruction]:
    """Validate (line, record index, raw) triples into Instructions, naming the culprit."""
    out: list[Instruction] = []
    seen: dict[Any, str] = {}
    for line, index, raw in items:
        if not isinstance(raw, dict):
            raise InputError(path, "expected a JSON object", line=line, record=index)
        rec = normalize_record(raw)
        rid = rec.get("id")
        where_rec = rid if rid is not None else index
        if rid is None or (isinstance(rid, str) and not rid.strip()):
            raise InputError(path, "missing id", line=line, record=index)
        try:
            rid = normalize_id(rid)
        except ValueError as exc:
            raise InputError(path, f"field 'id': {exc}", line=line, record=index) from exc
        cat = rec.get("category")
        if cat not in CATEGORIES:
            raise InputError(path, f"unknown category {cat!r} (expected regular or safety)",
                             line=line, record=where_rec)
        text = rec.get("instruction")
        if text is None or (isinstance(text, str) and not text.strip()):
            raise InputError(path, "missing instruction" if text is None else "empty instruction",
                             line=line, record=where_rec)
        try:
            inst = Instruction.model_validate(rec)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ())) or "record"
            raise InputError(path, f"field '{loc}': {err.get('msg', 'invalid')}",
                             line=line, record=where_rec) from exc
        here = f"line {line}" if line is not None else f"list item {index}"
        if rid in seen:
            at = "" if line is not None else f" at {here}"  # a JSON list has no line to point at
            raise InputError(path, f"duplicate id {rid!r}{at} (first at {seen[rid]})", line=line, record=where_rec)
        seen[rid] = here
        out.append(inst)
    return out


def _jsonl_rows(path: Path) -> Iterator[tuple[int | None, int | None, dict[str, Any]]]:
    from justeval.jsonl import iter_json_lines

    for line, obj in iter_json_lines(path):
        yield line, None, obj


def _json_rows(path: Path) -> Iterator[tuple[int | None, int | None, Any]]:
    from justeval.jsonl import read_json_file

    data = read_json_file(path)
    if isinstance(data, dict):
        lists = [v for k, v in data.items() if isinstance(v, list) and k in ("instructions", "data", "rows", "items")]
        if not lists:
            raise InputError(path, "expected a JSON list of instruction objects")
        data = lists[0]
    if not isinstance(data, list):
        raise InputError(path, "expected a JSON list of instruction objects")
    for i, obj in enumerate(data):
        yield None, i, obj


def _table_rows(path: Path) -> Iterator[tuple[int | None, int | None, Any]]:
    import pandas as pd

    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
            offset = 2  # header line + 1-based
        else:
            frame = pd.read_parquet(path)
            offset = None
    except Exception as exc:  # pandas raises many parser error types
        raise InputError(path, f"cannot read table: {exc}".splitlines()[0]) from exc
    for i, row in enumerate(frame.to_dict(orient="records")):
        yield (i + offset if offset is not None else None), (None if offset else i), row


def _data_file_in(folder: Path) -> Path:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in FILE_SUFFIXES
                   and p.name != "lite_ids.json")
    preferred = [p for p in files if p.stem.startswith(("instructions", "just_eval", "just-eval"))]
    if len(preferred) == 1:
        return preferred[0]
    if len(files) == 1:
        return files[0]
    if not files:
        raise InputError(folder, "folder holds no .jsonl/.json/.csv/.parquet instruction file")
    raise InputError(folder, "folder holds several data files; name one: "
                     + ", ".join(p.name for p in files[:5]))


def resolve_local(source: str | Path) -> Path | None:
    """The data file a local source names, or None when it is not a local path."""
    path = Path(source).expanduser()
    if path.is_dir():
        return _data_file_in(path)
    if path.is_file():
        return path
    if path.suffix in FILE_SUFFIXES or str(source).startswith((".", "/", "~")):
        raise InputError(path, "file not found")
    return None


def load_file(path: Path) -> list[Instruction]:
    """Load one local file; an empty file is an error (an evaluation of nothing is a mistake)."""
    if path.suffix == ".jsonl":
        items = _check(_jsonl_rows(path), path)
    elif path.suffix == ".json":
        items = _check(_json_rows(path), path)
    elif path.suffix in (".csv", ".parquet"):
        items = _check(_table_rows(path), path)
    else:
        raise InputError(path, f"unsupported file type {path.suffix!r} (use .jsonl, .json, .csv or .parquet)")
    if not items:
        raise InputError(path, "no instructions in file")
    return items


def hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP probe of the hub, so that no network means one fast error, not minutes of retries."""
    import os
    import socket
    from urllib.parse import urlparse

    from justeval.fetch import offline

    if offline():  # the one offline rule of every download (justeval.fetch)
        return False
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout):
            return True
    except OSError:
        return False


@contextmanager
def _offline_unless_reachable() -> Iterator[None]:
    """Without network, switch `datasets` to offline mode: it then reads its cache or fails at once."""
    import os
    import sys

    if hub_reachable():
        yield
        return
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    patched: list[tuple[Any, str, Any]] = []
    for mod_name in ("huggingface_hub.constants", "datasets.config"):
        mod = sys.modules.get(mod_name)
        for attr in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"):
            if mod is not None and hasattr(mod, attr):
                patched.append((mod, attr, getattr(mod, attr)))
                setattr(mod, attr, True)
    try:
        yield
    finally:
        for mod, attr, value in patched:
            setattr(mod, attr, value)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def load_hub(name: str, split: str = DEFAULT_SPLIT) -> list[Instruction]:
    """Load a hub dataset with `datasets`; every failure becomes one SourceUnavailableError."""
    try:
        with _offline_unless_reachable():
            import datasets

            datasets.logging.set_verbosity_error()
            data = datasets.load_dataset(name)
        part = data[split] if split in data else data[next(iter(data))]
        rows = [dict(r) for r in part]
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SourceUnavailableError(
            f"cannot load Hugging Face dataset {name!r} ({first[:200]}); offline or no access? {OFFLINE_HINT}"
        ) from exc
    return _check(((None, i, r) for i, r in enumerate(rows)), f"hf:{name}")


def chosen_source(source: str | Path | None) -> str | Path | None:
    """The source a command uses: the one given, else $JUSTEVAL_INSTRUCTIONS (a local copy or a
    hub id to use by default, e.g. offline), else None: the published set on the hub."""
    import os

    if source is not None and str(source).strip():
        return source
    return os.environ.get("JUSTEVAL_INSTRUCTIONS") or None


def load_instructions(source: str | Path | None = None) -> list[Instruction]:
    """Load instructions from a hub dataset id (default: the published 1,000, or
    $JUSTEVAL_INSTRUCTIONS) or a local file/folder."""
    source = chosen_source(source)
    if source is None:
        return load_hub(DEFAULT_SOURCE)
    local = resolve_local(source)
    if local is not None:
        return load_file(local)
    return load_hub(str(source))
