"""Reading scores out of a judge's reply, leniently in form and strictly in meaning.

Form may vary (code fences, prose around the JSON, trailing commas, single quotes, unescaped
quotes inside rationales, scores as numbers or strings such as "4", "4/5", "4.5", aspect keys
in any case). Meaning may not: a score outside the 1-5 scale, a missing aspect, or two
different JSON answers in one reply raise `ParseFailure`, so a doubtful reply becomes a
`parse_error` record, never a number. "N/A" (and the like) is kept as None with its reason.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from justeval.engine.engine import ParseFailure
from justeval.judging.relaxed_json import ConflictingKeys, find_objects
from justeval.records import SCORE_SCALE

__all__ = ["ParseFailure", "ParsedScores", "extract_json", "parse_score", "parse_scores"]

SCALE = SCORE_SCALE
_NA = {"n/a", "na", "n.a.", "n.a", "not applicable", "none", "null", "-", "nan", "not available"}
_REASON_KEYS = ("rationale", "reason", "explanation", "justification", "comment", "reasoning")
_SCORE_KEYS = ("score", "rating", "value")
_NUMBER = re.compile(
    r"^(?:score\s*[:=]?\s*)?([0-9]+(?:\.[0-9]+)?)\s*(?:(?:/|out\s+of)\s*([0-9]+(?:\.[0-9]+)?))?\s*\.?$",
    re.IGNORECASE)


@dataclass
class ParsedScores:
    scores: dict[str, float | None] = field(default_factory=dict)
    rationales: dict[str, str] = field(default_factory=dict)


def extract_json(text: str) -> dict[str, Any]:
    """The single JSON object in a judge reply (the outermost one if several are nested);
    ParseFailure if there is none, or several different ones."""
    objects = _distinct(_objects(text))
    if not objects:
        raise ParseFailure("no JSON object found in the reply")
    if len(objects) > 1:
        raise ParseFailure(f"{len(objects)} different JSON objects in the reply")
    return objects[0]


def parse_scores(text: str, aspects: list[str]) -> ParsedScores:
    """Scores and rationales for exactly `aspects` from a judge reply."""
    if not aspects:
        raise ValueError("parse_scores needs at least one aspect")
    objects = _objects(text)
    if not objects:
        raise ParseFailure("no JSON object found in the reply")
    found: list[ParsedScores] = []
    first_error: str | None = None
    for obj in objects:
        for holder in _holders(obj, aspects):
            try:
                parsed = _read_aspects(holder, aspects)
            except ParseFailure as exc:
                first_error = first_error or str(exc)
                continue
            if parsed.scores not in [p.scores for p in found]:
                found.append(parsed)
    if not found:
        if first_error:
            raise ParseFailure(first_error)
        missing = [a for a in aspects if all(_lower_keys(o).get(a.lower()) is None for o in objects)]
        raise ParseFailure(f"reply has no score for {', '.join(missing or aspects)}")
    if len(found) > 1:
        raise ParseFailure("reply holds several JSON answers with different scores")
    return found[0]


def parse_score(value: Any) -> float | None:
    """One score: a number or numeric string on the 1-5 scale, or None for N/A."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseFailure(f"score {value!r} is not a number")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().strip("*").strip()
        if text.lower() in _NA:
            return None
        match = _NUMBER.match(text)
        if not match:
            raise ParseFailure(f"score {value!r} is not a number on the 1-5 scale")
        number = float(match.group(1))
        if match.group(2) is not None and float(match.group(2)) != SCALE[1]:
            raise ParseFailure(f"score {value!r} is on a different scale")
    else:
        raise ParseFailure(f"score {value!r} is not a number")
    if math.isnan(number) or not SCALE[0] <= number <= SCALE[1]:
        raise ParseFailure(f"score {value!r} is outside the 1-5 scale")
    return number


def _objects(text: str) -> list[dict[str, Any]]:
    try:
        return find_objects(text)
    except ConflictingKeys as exc:
        raise ParseFailure(str(exc)) from exc


def _lower_keys(obj: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        low = str(key).strip().lower()
        if low in out and out[low] != value:
            raise ParseFailure(f"aspect {low!r} given twice with different values")
        out[low] = value
    return out


def _holders(obj: dict[str, Any], aspects: list[str]) -> Iterator[dict[str, Any]]:
    """Dicts (the object itself or one nested inside it) whose keys cover every aspect."""
    wanted = {a.lower() for a in aspects}
    stack = [obj]
    while stack:
        cur = stack.pop()
        keys = {str(k).strip().lower() for k in cur}
        if wanted <= keys:
            yield cur
            continue
        stack.extend(v for v in cur.values() if isinstance(v, dict))


def _read_aspects(holder: dict[str, Any], aspects: list[str]) -> ParsedScores:
    lowered = _lower_keys(holder)
    out = ParsedScores()
    for aspect in aspects:
        value = lowered[aspect.lower()]
        if isinstance(value, dict):
            entry = _lower_keys(value)
            score_key = next((k for k in _SCORE_KEYS if k in entry), None)
            if score_key is None:
                raise ParseFailure(f"aspect {aspect!r} has no score")
            score = entry[score_key]
            reason = next((entry[k] for k in _REASON_KEYS if k in entry), "")
        else:
            score, reason = value, ""
        try:
            out.scores[aspect] = parse_score(score)
        except ParseFailure as exc:
            raise ParseFailure(f"{aspect}: {exc}") from exc
        out.rationales[aspect] = reason if isinstance(reason, str) else json.dumps(reason, ensure_ascii=False)
    return out


def _distinct(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for obj in objects:
        if obj not in out:
            out.append(obj)
    return out
