"""Reading a YAML file (a config, a recipe, a template's metadata) so that every way it can be
wrong is one InputError naming the file, as `justeval.jsonl.parse_json` does for JSON: malformed
YAML, nesting too deep for the parser, a number of thousands of digits, a lone surrogate escape
(`"\\ud800"`, which no file or server can take)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from justeval.errors import InputError


def parse_yaml(text: str, path: str | Path) -> Any:
    """The value of YAML `text` from `path` (safe_load: no tags that build Python objects)."""
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(path, f"malformed YAML: {str(exc).splitlines()[0]}", line=line) from exc
    except RecursionError as exc:
        raise InputError(path, "malformed YAML: nested too deeply") from exc
    except ValueError as exc:  # int() of a 5,000-digit number
        raise InputError(path, "malformed YAML: a number has too many digits") from exc
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(path, "text holds a lone UTF-16 surrogate escape (\\udXXX), which is not a "
                         "character") from exc
    except (ValueError, RecursionError):  # a self-referencing anchor: not ours to judge here
        pass
    return data
