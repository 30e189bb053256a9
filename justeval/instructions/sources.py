"""Reading the source datasets the recipe names, from local copies or from their public home.

Each reader returns the source's items in published order as `SourceRow`s: the instruction
text plus the few fields the recipe needs (AlpacaEval subset, MT-bench question id/category).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.errors import InputError, SourceUnavailableError
from justeval.instructions.recipe import SourceSpec


@dataclass
class SourceRow:
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


_HUMAN = re.compile(r"Human:\s*(.*?)(?:\n\s*\n\s*Assistant:|\nAssistant:|$)", re.S)


def first_human_turn(transcript: str) -> str:
    """The red-team prompt: the first `Human:` turn of an hh-rlhf transcript."""
    m = _HUMAN.search(transcript)
    return (m.group(1) if m else transcript).strip()


def mt_prompt_id(turns: list[str]) -> int:
    """The id HuggingFaceH4/mt_bench_prompts gives a question: SHA-256 of the joined turns mod 10**8."""
    return int(hashlib.sha256("".join(turns).encode("utf-8")).hexdigest(), 16) % 10**8


def _read_objects(path: Path) -> list[tuple[int | None, Any]]:
    """(line or None, object) for a JSON list file or a JSONL file."""
    if path.suffix == ".jsonl":
        from justeval.jsonl import iter_json_lines

        return [(line, obj) for line, obj in iter_json_lines(path)]
    from justeval.jsonl import read_json_file

    data = read_json_file(path)
    if not isinstance(data, list):
        raise InputError(path, "expected a JSON list")
    return [(None, obj) for obj in data]


def _row(spec: SourceSpec, obj: Any, where: tuple[Path | str, int | None, int]) -> SourceRow:
    """Turn one source record into a SourceRow according to the recipe's `text` kind."""
    path, line, index = where
    if not isinstance(obj, dict):
        raise InputError(path, "expected an object", line=line, record=index)
    kind = spec.text
    value = obj.get(kind)
    extra = {k: v for k, v in obj.items() if k in ("dataset", "category", "question_id", "prompt_id") and k != kind}
    if kind == "turns":
        value = value if value is not None else obj.get("prompt")  # the hub copy's name for the turns
        if isinstance(value, list) and all(isinstance(t, str) for t in value) and "prompt_id" not in extra:
            extra["prompt_id"] = mt_prompt_id(value)
    if kind in ("conversations", "turns") and isinstance(value, list) and value:
        value = value[0]  # the first turn
    elif kind == "transcript" and isinstance(value, str):
        value = first_human_turn(value)
    if not isinstance(value, str) or not value.strip():
        raise InputError(path, f"no text in field {kind!r}", line=line, record=index)
    return SourceRow(text=value, extra=extra)


def read_local(spec: SourceSpec, path: Path) -> list[SourceRow]:
    """Read a local copy: .json/.jsonl records, or a text file with one instruction a line."""
    if path.is_dir():
        name = Path(spec.local).name if spec.local else ""
        candidates = [path / name] if name and (path / name).is_file() else sorted(
            p for p in path.iterdir() if p.suffix in (".json", ".jsonl", ".txt"))
        if len(candidates) != 1:
            raise InputError(path, f"cannot tell which file in this folder holds source {spec.name!r}")
        path = candidates[0]
    if not path.is_file():
        raise InputError(path, f"source {spec.name!r}: file not found")
    if spec.text == "line" or path.suffix == ".txt":
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise InputError(path, f"cannot read file: {exc.strerror or exc}") from exc
        return [SourceRow(text=t.strip()) for t in lines if t.strip()]
    rows = [_row(spec, obj, (path, line, i)) for i, (line, obj) in enumerate(_read_objects(path))]
    return _ordered(spec, rows)


def _ordered(spec: SourceSpec, rows: list[SourceRow]) -> list[SourceRow]:
    if spec.order_by:
        key = spec.order_by
        if all(key in r.extra for r in rows):
            return sorted(rows, key=lambda r: r.extra[key])
    return rows


def read_remote(spec: SourceSpec) -> list[SourceRow]:
    """Fetch a source from its public home: the file at its `url` when the recipe names one
    (hub repositories whose loading script `datasets` no longer runs publish plain files too),
    else the hub dataset through `datasets`."""
    hint = f"pass a local copy with --source-dir or --source {spec.name}=PATH"
    if spec.url:
        return _read_url(spec, spec.url, hint)
    if spec.hf:
        from justeval.instructions.load import _offline_unless_reachable

        hf = spec.hf
        try:
            with _offline_unless_reachable():
                import datasets

                datasets.logging.set_verbosity_error()
                data = datasets.load_dataset(hf["id"], hf.get("config"), data_dir=hf.get("data_dir"),
                                             split=hf.get("split", "train"))
                records = [dict(r) for r in data]
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SourceUnavailableError(f"cannot load source {spec.name!r} from Hugging Face {hf['id']!r} "
                                         f"({first[:200]}); {hint}") from exc
        rows = [_row(spec, obj, (f"hf:{hf['id']}", None, i)) for i, obj in enumerate(records)]
        return _ordered(spec, rows)
    raise SourceUnavailableError(f"source {spec.name!r} has no public home in the recipe; {hint}")


def _read_url(spec: SourceSpec, url: str, hint: str) -> list[SourceRow]:
    """A .json list, .jsonl records or a text file (one instruction a line) at `url`, parsed
    as a local copy would be, errors naming the URL."""
    import tempfile
    import urllib.parse

    from justeval.fetch import fetch_bytes

    data = fetch_bytes(url, what=f"source {spec.name!r}", hint=hint)
    suffix = Path(urllib.parse.urlparse(url).path).suffix
    if spec.text == "line" or suffix not in (".json", ".jsonl"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(url, f"not UTF-8 text (byte {exc.start})") from exc
        return [SourceRow(text=t.strip()) for t in text.splitlines() if t.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{spec.name}{suffix}"
        path.write_bytes(data)
        try:
            return read_local(spec, path)
        except InputError as exc:
            raise InputError(url, exc.message, line=exc.line, record=exc.record) from exc


def read_source(spec: SourceSpec, path: Path | None) -> list[SourceRow]:
    return read_local(spec, path) if path is not None else read_remote(spec)
