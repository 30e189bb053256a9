"""Item ids: the one validator every reader uses, and the one parser of id lists and ranges
(`--ids 0-99,800,x12`, the recipe's `ids:`), so that `5-3` or a billion-item range means the
same thing (an error) everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ItemId = int | str

#: an id longer than this is not an id a person wrote (and a 5,000-digit number cannot be an int)
MAX_ID_CHARS = 200
#: a range naming more ids than this is refused rather than allocated
MAX_RANGE_IDS = 1_000_000


def id_order(value: ItemId) -> tuple[int, int, str]:
    """Sort key for item ids: ints before strings, each in natural order (mixed ids still sort)."""
    return (0, value, "") if isinstance(value, int) else (1, 0, str(value))


def normalize_id(value: Any) -> ItemId:
    """Ids are ints in the published set; digit strings from CSV or JSON keys become ints.

    Booleans, empty or over-long strings and non-integral numbers are refused (ValueError)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid id {value!r}")
    if isinstance(value, int):
        if abs(value) >= 10**MAX_ID_CHARS:  # compared, not printed: str() of a 5,000-digit int raises
            raise ValueError(f"id has more than {MAX_ID_CHARS} digits")
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty id")
        if len(text) > MAX_ID_CHARS:
            raise ValueError(f"id is longer than {MAX_ID_CHARS} characters")
        if text.lstrip("-").isdigit() and text.isascii():
            return int(text)
        return text
    raise ValueError(f"invalid id {value!r}")


class IdRangeError(ValueError):
    """A list of ids or ranges that cannot be read; the message says which part and why."""


def parse_id_ranges(spec: str | int | None) -> list[ItemId]:
    """Expand "0-3, 7, abc" into [0, 1, 2, 3, 7, "abc"], keeping order and dropping repeats.

    Ranges are inclusive and run upwards; one that runs backwards, or that names more than
    MAX_RANGE_IDS ids, is an IdRangeError. Callers turn it into the error their input needs
    (`ids_option` for an option, `InputError` for a file)."""
    if spec is None:
        return []
    out: dict[ItemId, None] = {}
    for raw in str(spec).replace("\n", ",").split(","):
        part = raw.strip()
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if sep and lo.strip().isdigit() and hi.strip().isdigit():
            if len(lo.strip()) > MAX_ID_CHARS or len(hi.strip()) > MAX_ID_CHARS:
                raise IdRangeError(f"range {part[:40]!r}... has ids longer than {MAX_ID_CHARS} digits")
            a, b = int(lo), int(hi)
            if b < a:
                raise IdRangeError(f"range {part!r} runs backwards")
            if b - a + 1 > MAX_RANGE_IDS:
                raise IdRangeError(f"range {part!r} names {b - a + 1:,} ids (at most {MAX_RANGE_IDS:,})")
            out.update(dict.fromkeys(range(a, b + 1)))
        else:
            try:
                out[normalize_id(part)] = None
            except ValueError as exc:
                raise IdRangeError(f"{part[:40]!r}: {exc}") from exc
        if len(out) > MAX_RANGE_IDS:
            raise IdRangeError(f"more than {MAX_RANGE_IDS:,} ids")
    return list(out)


def ids_option(spec: str | None, option: str = "--ids") -> set[ItemId] | None:
    """The ids an option names (None when not given); a bad list is a UsageError (exit 2)."""
    from justeval.errors import UsageError

    if not spec:
        return None
    try:
        return set(parse_id_ranges(spec))
    except IdRangeError as exc:
        raise UsageError(f"bad {option} {spec[:80]!r}: {exc}") from exc


def ids_in_file(spec: str | int | None, path: str | Path) -> list[ItemId]:
    """The ids a data file names; a bad list is an InputError naming the file (exit 2)."""
    from justeval.errors import InputError

    try:
        return parse_id_ranges(spec)
    except IdRangeError as exc:
        raise InputError(path, str(exc)) from exc
