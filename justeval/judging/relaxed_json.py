"""Finding JSON objects in free text and reading the almost-JSON that judges write.

A small scanner, not a general parser: it finds each balanced `{...}` span, tries strict JSON
first, and otherwise rewrites the span into strict JSON, repairing only what judges commonly
get wrong: single-quoted strings, quotes left unescaped inside a string, invalid backslash
escapes, raw newlines in strings, trailing commas, Python's True/False/None and bare keys.
On valid JSON the rewrite is the identity, so nothing well-formed is ever changed.
"""

from __future__ import annotations

import json
from typing import Any

_CLOSERS = ",:}]"
# Each `{` that is never closed costs a scan to the end of the text; past this many, give up
# (the reply then fails to parse) rather than take quadratic time on brace-heavy prose.
MAX_UNCLOSED = 32
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_WORDS = {"true": "true", "false": "false", "null": "null", "True": "true", "False": "false", "None": "null"}


class ConflictingKeys(ValueError):
    """An object names one key twice with different values: which one the judge meant is unknown."""


def _no_conflicts(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out and out[key] != value:
            raise ConflictingKeys(f"key {key!r} given twice with different values")
        out[key] = value
    return out


def find_objects(text: str) -> list[dict[str, Any]]:
    """Every outermost JSON object in `text` that can be read, in order of appearance.
    Raises ConflictingKeys for an object that gives one key two different values."""
    out: list[dict[str, Any]] = []
    i = 0
    unclosed = 0
    while True:
        start = text.find("{", i)
        if start < 0 or unclosed > MAX_UNCLOSED:
            return out
        scanned = _scan(text, start)
        if scanned is None:
            unclosed += 1
        else:
            end, rebuilt = scanned
            obj = _loads(text[start:end], rebuilt)
            if isinstance(obj, dict):
                out.append(obj)
                i = end
                continue
        i = start + 1


def _loads(raw: str, rebuilt: str) -> Any:
    for candidate in (raw, rebuilt):
        try:
            return json.loads(candidate, strict=False, object_pairs_hook=_no_conflicts)
        except json.JSONDecodeError:
            continue
    return None


def _next_significant(text: str, i: int) -> str:
    n = len(text)
    while i < n and text[i] in " \t\r\n":
        i += 1
    return text[i] if i < n else ""


def _read_string(text: str, i: int, quote: str) -> tuple[int, str] | None:
    """Read a string whose opening quote is at i; returns (index after it, its content).

    A quote closes the string only where JSON structure may follow it, so an unescaped
    quote inside a rationale stays part of the text."""
    n = len(text)
    j = i + 1
    parts: list[str] = []
    while j < n:
        ch = text[j]
        if ch == "\\" and j + 1 < n:
            nxt = text[j + 1]
            if nxt == "u" and j + 5 < n:
                try:
                    parts.append(chr(int(text[j + 2:j + 6], 16)))
                    j += 6
                    continue
                except ValueError:
                    pass
            if nxt in _ESCAPES:
                parts.append(_ESCAPES[nxt])
            else:
                parts.append("\\" + nxt)
            j += 2
            continue
        if ch == quote and (_next_significant(text, j + 1) in _CLOSERS or _next_significant(text, j + 1) == ""):
            return j + 1, "".join(parts)
        parts.append(ch)
        j += 1
    return None


def _scan(text: str, start: int) -> tuple[int, str] | None:
    """Match the `{` at `start`; return (index after its `}`, the span as strict JSON)."""
    depth = 0
    out: list[str] = []
    prev = ""  # last significant character emitted outside strings
    i = start
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"' or (ch == "'" and prev in "{[,:"):
            read = _read_string(text, i, ch)
            if read is None:
                return None
            i, content = read
            out.append(json.dumps(content, ensure_ascii=False))
            prev = '"'
            continue
        if ch in "{[":
            depth += 1
            out.append(ch)
            prev = ch
            i += 1
            continue
        if ch in "}]":
            if prev == ",":
                _drop_trailing_comma(out)
            depth -= 1
            out.append(ch)
            prev = ch
            i += 1
            if depth == 0:
                return i, "".join(out)
            continue
        if ch.isalpha() or ch == "_":
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_"):
                j += 1
            word = text[i:j]
            if word in _WORDS:
                out.append(_WORDS[word])
            elif _next_significant(text, j) == ":" and prev in "{,":
                out.append(json.dumps(word))
            else:
                out.append(word)
            prev = "w"
            i = j
            continue
        out.append(ch)
        if ch not in " \t\r\n":
            prev = ch
        i += 1
    return None


def _drop_trailing_comma(out: list[str]) -> None:
    for k in range(len(out) - 1, -1, -1):
        if out[k].strip() == "":
            continue
        if out[k] == ",":
            del out[k]
        return
