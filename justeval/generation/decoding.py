"""`--param KEY=VALUE`: extra body fields for the model's server (vLLM, TGI), parsed once.

The value is read as JSON when it is JSON (`1.1`, `true`, `null`, `[1, 2]`, `{"a": 1}`,
`"0.5"` for a string that looks like a number), else taken as a plain string (`--param
guided_choice_mode=strict`). Non-finite numbers (`NaN`, `Infinity`) are refused: they are not
JSON and no server reads them. The result goes to `GenParams.extra`, which refuses names that
have their own option (`--top-k`, `--repetition-penalty`, ...) or that justeval sets itself.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from justeval.errors import UsageError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _refuse_constant(name: str) -> Any:
    raise ValueError(name)


def parse_param(text: str) -> tuple[str, Any]:
    """One `KEY=VALUE` as (key, JSON-typed value); a malformed one is a UsageError (exit 2)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep:
        raise UsageError(f"--param {text[:200]!r}: expected KEY=VALUE")
    if not _KEY.match(key):
        raise UsageError(f"--param {text[:200]!r}: the key must be a field name (letters, digits, _)")
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise UsageError(f"--param {key}: the value is nested too deeply") from exc
    except ValueError as exc:
        if str(exc) in ("NaN", "Infinity", "-Infinity"):
            raise UsageError(f"--param {key}: {exc} is not a number a server can read") from exc
        value = raw  # not JSON: the text itself
    return key, value


def parse_params(items: Iterable[str] | None) -> dict[str, Any]:
    """Every `--param` in order; a key given twice is refused rather than silently overwritten."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, value = parse_param(item)
        if key in out:
            raise UsageError(f"--param {key} is given twice")
        out[key] = value
    return out
