"""Reading a pairwise judge's reply and combining the two presentation orders.

A reply names the answer shown first, the one shown second, or a tie; what is accepted for
each is lenient in form ("1", "A", "Answer 1", "first"; "tie", "same", "equal") and strict in
meaning: anything else, or a requested aspect left out, is a `ParseFailure`, so a doubtful
reply becomes a `parse_error` record and never a verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from justeval.engine.engine import ParseFailure
from justeval.judging.parse import extract_json
from justeval.review.records import Combined, Order, Preference

Position = Literal["first", "second", "tie"]
_FIRST = {"1", "a", "first", "one"}
_SECOND = {"2", "b", "second", "two"}
_TIE = {"tie", "same", "equal", "draw", "both", "neither", "tied", "equally good", "about the same"}
_PREFIX = re.compile(r"^(?:answer|response|output|candidate|assistant)(?:\s+output)?\s*", re.IGNORECASE)
_PREF_KEYS = ("preference", "winner", "verdict", "choice", "better")
_REASON_KEYS = ("rationale", "reason", "explanation", "justification")


@dataclass
class PositionVerdict:
    """A parsed reply, in positions (which shown answer won)."""

    preference: Position
    aspects: dict[str, Position] = field(default_factory=dict)
    rationale: str = ""


def parse_position(value: Any) -> Position:
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise ParseFailure(f"preference {value!r} is not 1, 2 or tie")
    text = str(value).strip().strip("*`'\".").strip().lower()
    text = _PREFIX.sub("", text).strip()
    if text in _FIRST:
        return "first"
    if text in _SECOND:
        return "second"
    if text in _TIE:
        return "tie"
    raise ParseFailure(f"preference {value!r} is not 1, 2 or tie")


def _lower(obj: dict[str, Any]) -> dict[str, Any]:
    return {str(k).strip().lower(): v for k, v in obj.items()}


def _pref_of(entry: Any) -> tuple[Any, str]:
    if isinstance(entry, dict):
        low = _lower(entry)
        key = next((k for k in _PREF_KEYS if k in low), None)
        if key is None:
            raise ParseFailure("an entry has no preference")
        reason = next((low[k] for k in _REASON_KEYS if k in low), "")
        return low[key], reason if isinstance(reason, str) else str(reason)
    return entry, ""


def parse_reply(text: str, aspects: list[str]) -> PositionVerdict:
    """The overall preference and one per requested aspect (inside `aspects` or at top level)."""
    obj = _lower(extract_json(text))
    key = next((k for k in _PREF_KEYS if k in obj), None)
    if key is None:
        raise ParseFailure("reply has no overall preference")
    out = PositionVerdict(preference=parse_position(obj[key]))
    reason = next((obj[k] for k in _REASON_KEYS if k in obj), "")
    out.rationale = reason if isinstance(reason, str) else str(reason)
    nested = obj.get("aspects")
    holder = _lower(nested) if isinstance(nested, dict) else obj
    for aspect in aspects:
        entry = holder.get(aspect.lower(), obj.get(aspect.lower()))
        if entry is None:
            raise ParseFailure(f"reply has no preference for aspect {aspect!r}")
        value, _reason = _pref_of(entry)
        try:
            out.aspects[aspect] = parse_position(value)
        except ParseFailure as exc:
            raise ParseFailure(f"{aspect}: {exc}") from exc
    return out


def to_model(position: Position, order: Order) -> Preference:
    """Map a position back to the run it came from: in order AB run A was shown first."""
    if position == "tie":
        return "tie"
    first_is_a = order == "AB"
    return "A" if (position == "first") == first_is_a else "B"


def combine(ab: Preference, ba: Preference) -> Combined:
    """Both orders agree -> that verdict; any disagreement -> inconsistent (position bias)."""
    return ab if ab == ba else "inconsistent"
