"""Reading human labels: CSV or JSONL (one row per pair and annotator) or a Label Studio
export (JSON, full or JSON-MIN). Every problem names the file and the record."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from justeval.errors import InputError
from justeval.jsonl import iter_json_lines
from justeval.review.identity import resolve, shown_digest
from justeval.review.records import HumanLabel, ReviewKey, Side

SIDES: tuple[Side, ...] = ("left", "right", "tie")
_LABEL_KEYS = ("label", "preference")
_SHOWN = ("instruction", "left", "right")


def parse_side(value: Any, path: Path, where: int | None, pair_id: str | None, what: str = "label") -> Side | None:
    """'left' / 'right' / 'tie' in any case; empty -> None; anything else is an InputError."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = str(value).strip().lower()
    for side in SIDES:
        if text == side:
            return side
    raise InputError(path, f"bad {what} value {value!r} (expected left, right or tie)", line=where, record=pair_id)


def _from_flat(obj: dict[str, Any], path: Path, where: int | None, default_annotator: str,
               record: str | None = None) -> HumanLabel:
    pair_id = obj.get("pair_id")
    if pair_id is None or not str(pair_id).strip():
        raise InputError(path, "missing pair_id", line=where, record=record)
    pid = str(pair_id).strip()
    raw = next((obj[k] for k in _LABEL_KEYS if k in obj), None)
    side = parse_side(raw, path, where, pid)
    if side is None:
        raise InputError(path, "missing label (expected left, right or tie)", line=where, record=pid)
    aspects: dict[str, Side] = {}
    nested = obj.get("aspects")
    items = list(nested.items()) if isinstance(nested, dict) else []
    for key, val in obj.items():
        for prefix in ("label_", "aspect_"):
            if isinstance(key, str) and key.startswith(prefix):
                items.append((key[len(prefix):], val))
    for aspect, val in items:
        got = parse_side(val, path, where, pid, what=f"{aspect} label")
        if got is not None:
            aspects[str(aspect)] = got
    annotator = obj.get("annotator")
    name = str(annotator).strip() if annotator is not None and str(annotator).strip() else default_annotator
    export = str(obj.get("export_id") or "").strip() or None
    texts = [obj.get(k) for k in _SHOWN]  # checked against the key only where the row has them all
    full = all(isinstance(t, str) and t.strip() for t in texts)
    digest = shown_digest(*[str(t) for t in texts]) if full else None
    return HumanLabel(pair_id=pid, annotator=name, label=side, aspects=aspects,
                      source=f"{path}:{where}" if where else str(path), export_id=export, shown_digest=digest)


def _read_csv(path: Path) -> list[HumanLabel]:
    try:
        fh = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
    with fh:
        reader = csv.DictReader(fh)
        try:
            fields = reader.fieldnames or []
            if "pair_id" not in fields or not any(k in fields for k in _LABEL_KEYS):
                raise InputError(path, "a label CSV needs the columns pair_id and label")
            out = []
            for row in reader:
                if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                    continue
                out.append(_from_flat(dict(row), path, reader.line_num, path.stem))
        except UnicodeDecodeError as exc:  # the reader decodes ahead, so name the line after the last read
            raise InputError(path, f"not valid UTF-8 (byte {exc.start} of a read block)",
                             line=reader.line_num + 1) from exc
        return out


def _annotator_of(annotation: dict[str, Any]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        who = who.get("email") or who.get("id")
    return str(who) if who is not None else "annotator"


def _read_label_studio(path: Path, tasks: list[Any]) -> list[HumanLabel]:
    out = []
    for num, task in enumerate(tasks, start=1):
        if not isinstance(task, dict):
            raise InputError(path, "expected a JSON object per task", record=f"task {num}")
        if "annotations" not in task:  # JSON-MIN export: one flat object per task
            out.append(_from_flat(task, path, None, path.stem, record=f"task {task.get('id', num)}"))
            continue
        data = task.get("data") or {}
        pid = data.get("pair_id") if isinstance(data, dict) else None
        if pid is None:
            raise InputError(path, "task has no data.pair_id", record=f"task {task.get('id', num)}")
        for ann in task.get("annotations") or []:
            if not isinstance(ann, dict) or ann.get("was_cancelled"):
                continue
            flat: dict[str, Any] = {k: data.get(k) for k in ("export_id", *_SHOWN)}
            flat.update(pair_id=pid, annotator=_annotator_of(ann))
            for res in ann.get("result") or []:
                name = res.get("from_name", "") if isinstance(res, dict) else ""
                choices = (res.get("value") or {}).get("choices") if isinstance(res, dict) else None
                if name == "preference":
                    flat["label"] = choices
                elif name.startswith("aspect_"):
                    flat[name] = choices
            out.append(_from_flat(flat, path, None, path.stem))
    return out


def read_labels(path: str | Path) -> list[HumanLabel]:
    """Labels from one file; the format follows the suffix (.csv, .jsonl, .json)."""
    path = Path(path)
    if path.is_dir():
        hint = " (a run directory? repeat the option: --judge-run A --judge-run B)" if (path / "run.json").exists() \
            or (path / "generations.jsonl").exists() else ""
        raise InputError(path, f"is a folder, not a label file{hint}")
    if not path.is_file():
        raise InputError(path, "label file not found")
    if path.suffix.lower() == ".csv":
        return _read_csv(path)
    if path.suffix.lower() == ".json":
        from justeval.jsonl import read_json_file

        data = read_json_file(path, "label file")
        if not isinstance(data, list):
            raise InputError(path, "a Label Studio export is a JSON list of tasks")
        return _read_label_studio(path, data)
    return [_from_flat(obj, path, line, path.stem) for line, obj in iter_json_lines(path)]


def load_labels(paths: Sequence[str | Path], key: ReviewKey, key_path: str | Path) -> list[HumanLabel]:
    """Read and check labels against the key: from the key's export, known pair ids, known
    aspects, one label per pair and annotator. Pair ids come back as the key writes them."""
    known = {p.pair_id: p for p in key.pairs}
    seen: set[tuple[str, str]] = set()
    out: list[HumanLabel] = []
    for p in paths:
        for lab in read_labels(p):
            where, written = lab.source, lab.pair_id
            lab.pair_id = resolve(lab, key, key_path, known)
            extra = sorted(set(lab.aspects) - set(key.aspects))
            if extra:
                raise InputError(where, f"aspect(s) {', '.join(extra)} not in the key (key aspects: "
                                 f"{', '.join(key.aspects) or 'none'})", record=written)
            if (lab.pair_id, lab.annotator) in seen:
                raise InputError(where, f"pair labelled twice by annotator {lab.annotator!r}", record=written)
            seen.add((lab.pair_id, lab.annotator))
            out.append(lab)
    if not out:
        raise InputError(paths[0] if paths else None, "no labels found")
    return out


def load_key(path: str | Path) -> ReviewKey:
    from justeval.jsonl import read_json_file, validate_record

    path = Path(path)
    return validate_record(ReviewKey, read_json_file(path, "key file"), path)
