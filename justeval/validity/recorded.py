"""Recorded judge verdicts, read back without calling anything (`--verdicts FILE`):

- PandaLM's files (`gpt-3.5-turbo-testset-v1.json`, `pandalm-7b-testset-v1.json`): a list of
  `{idx, <judge>_result, ...}`; the result is 0 / "Tie" (tie), 1 or 2, as a string or number.
  Anything else (PandaLM writes "garbage" where it could not read its judge) is unreadable.
  One order only: the set's own.
- LLMBar's recorded runs (`Dataset/.../evaluators/<judge>/<prompt>/result.json`): each item as
  in `dataset.json` plus `results`, a list (in some files its Python repr as a string) whose
  last element holds `"swap = False"` and `"swap = True"`, each with `winner` ("1", "2", or null
  when unreadable), already mapped back to the dataset's numbering. Items are matched to the
  set by their texts, so a file of one Adversarial subset measures that subset.
- A judge-eval `verdicts.jsonl`: our own records, read as a run of the same settings would.

Judges are named after the file: PandaLM's by its stem (`pandalm-7b`), LLMBar's by the folders
under `evaluators/` (`GPT-4/Vanilla`).
"""

from __future__ import annotations

import ast
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from justeval.errors import InputError
from justeval.fetch import is_url
from justeval.validity.metrics import Verdict
from justeval.validity.records import Label, LabelledPair, VerdictRecord
from justeval.validity.sets import MAX_SET_BYTES, LabelledSet, decode_json, read_local

#: a recorded `results` string is a judge's few replies: anything larger is refused
MAX_RESULTS_REPR = 16 * 1024 * 1024
_PANDALM: dict[str, Label] = {"0": "tie", "tie": "tie", "1": "1", "2": "2"}


@dataclass
class RecordedRun:
    """One recorded judge: its verdict per pair and order (order 0: the set's own)."""

    judge: str
    source: str
    orders: int
    verdicts: dict[str, tuple[Verdict, ...]]


def _read(ref: str) -> tuple[Any, str]:
    if is_url(ref):
        from justeval.fetch import fetch_bytes

        data = fetch_bytes(ref, what="recorded verdicts", hint="download the file and pass its path to --verdicts",
                           max_bytes=MAX_SET_BYTES, cache=True)
        return decode_json(data, ref), urllib.parse.urlparse(ref).path
    path = Path(ref).expanduser()
    if not path.is_file():
        raise InputError(path, "recorded verdict file not found")
    return read_local(path), str(path)


def judge_name(where: str) -> str:
    """`.../evaluators/GPT-4/Vanilla/result.json` -> `GPT-4/Vanilla`; `pandalm-7b-testset-v1.json`
    -> `pandalm-7b`; anything else: the file's stem."""
    parts = PurePosixPath(urllib.parse.unquote(where.replace("\\", "/"))).parts
    if "evaluators" in parts:
        inner = parts[parts.index("evaluators") + 1:-1]
        if inner:
            return "/".join(inner)
    stem = PurePosixPath(parts[-1]).stem if parts else "recorded"
    return stem.removesuffix("-testset-v1")


def pandalm_verdict(value: Any) -> Verdict:
    if isinstance(value, bool) or value is None:
        return None
    return _PANDALM.get(str(value).strip().lower())


def _pandalm(data: list[Any], source: str, where: str, lset: LabelledSet) -> RecordedRun:
    by_source = {p.source_id: p for p in lset.pairs}
    verdicts: dict[str, tuple[Verdict, ...]] = {}
    for i, obj in enumerate(data):
        if not isinstance(obj, dict) or "idx" not in obj:
            raise InputError(source, "expected an object with idx", record=f"item {i}")
        keys = [k for k in obj if str(k).endswith("_result")]
        if len(keys) != 1:
            raise InputError(source, "expected exactly one <judge>_result field", record=str(obj["idx"]))
        pair = by_source.get(str(obj["idx"]))
        if pair is None:
            raise InputError(source, f"idx {obj['idx']!r} is not in set {lset.name}", record=str(obj["idx"]))
        if pair.id in verdicts:
            raise InputError(source, "this idx appears twice", record=str(obj["idx"]))
        verdicts[pair.id] = (pandalm_verdict(obj[keys[0]]),)
    return RecordedRun(judge=judge_name(where), source=source, orders=1, verdicts=verdicts)


def _results_list(value: Any, source: str, record: str) -> list[Any]:
    if isinstance(value, str):
        if len(value) > MAX_RESULTS_REPR:
            raise InputError(source, "results text is too large", record=record)
        try:
            value = ast.literal_eval(value)  # literals only: never evaluates code
        except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
            raise InputError(source, f"results is a string but not a Python literal: {exc}", record=record) from exc
    if not isinstance(value, list) or not value:
        raise InputError(source, "results must be a non-empty list", record=record)
    return value


def _winner(last: dict[str, Any], swap: str, source: str, record: str) -> Verdict:
    entry = last.get(f"swap = {swap}")
    if not isinstance(entry, dict) or "winner" not in entry:
        raise InputError(source, f"results[-1] has no 'swap = {swap}' winner", record=record)
    winner = entry["winner"]
    if winner is None:
        return None
    text = str(winner).strip()
    if text not in ("1", "2") or isinstance(winner, bool):
        raise InputError(source, f"winner {winner!r} is not 1, 2 or null", record=record)
    return "1" if text == "1" else "2"


def _content(p: LabelledPair) -> tuple[str, str, str]:
    return (p.prompt, p.response_1, p.response_2)


def _llmbar(data: list[Any], source: str, where: str, lset: LabelledSet) -> RecordedRun:
    by_content: dict[tuple[str, str, str], LabelledPair] = {_content(p): p for p in lset.pairs}
    verdicts: dict[str, tuple[Verdict, ...]] = {}
    for i, obj in enumerate(data):
        record = f"item {i}"
        if not isinstance(obj, dict):
            raise InputError(source, "expected a JSON object per item", record=record)
        texts = (obj.get("input"), obj.get("output_1"), obj.get("output_2"))
        pair = by_content.get(texts) if all(isinstance(t, str) for t in texts) else None  # type: ignore[arg-type]
        if pair is None:
            raise InputError(source, f"this item (input, output_1, output_2) is not in set {lset.name}", record=record)
        if "label" in obj and pair.majority is not None and str(obj["label"]).strip() != pair.majority:
            raise InputError(source, f"label {obj['label']!r} differs from the set's {pair.majority}", record=record)
        last = _results_list(obj.get("results"), source, record)[-1]
        if not isinstance(last, dict):
            raise InputError(source, "results[-1] must be an object", record=record)
        if pair.id in verdicts:
            raise InputError(source, "this item appears twice", record=record)
        verdicts[pair.id] = (_winner(last, "False", source, record), _winner(last, "True", source, record))
    return RecordedRun(judge=judge_name(where), source=source, orders=2, verdicts=verdicts)


def load_recorded(ref: str, lset: LabelledSet) -> RecordedRun | list[VerdictRecord]:
    """PandaLM's or LLMBar's recorded verdicts as a `RecordedRun`, or our own verdict records
    (a JSONL file) for the caller to read as a run would (see `report.records_index`)."""
    data, where = _read(ref)
    source = ref
    if not isinstance(data, list) or not data:
        raise InputError(source, "expected a non-empty JSON list (PandaLM, LLMBar result.json) or judge-eval "
                         "verdicts.jsonl")
    first = data[0]
    if isinstance(first, dict) and "call" in first and "judge" in first:
        from justeval.jsonl import validate_record

        return [validate_record(VerdictRecord, obj, source, line=i + 1) for i, obj in enumerate(data)]
    if isinstance(first, dict) and "results" in first:
        return _llmbar(data, source, where, lset)
    if isinstance(first, dict) and "idx" in first and any(str(k).endswith("_result") for k in first):
        return _pandalm(data, source, where, lset)
    raise InputError(source, "not a recorded verdict file (expected PandaLM's idx + <judge>_result, LLMBar's "
                     "result.json, or a judge-eval verdicts.jsonl)", record="item 0")
