"""Original just-eval judgment files (`score_multi` / `score_safety` JSONL) as our records, so
results judged with the original scripts can go on a leaderboard next to ours.

An upstream line holds `id`, `input`, `output_cand`, `generator_cand`, `eval_config`
(`mode`, `gpt`), `prompt`, `result` (the judge's raw reply) and `parsed_result`
(`{aspect: {"reason", "score"}}`, scores as strings "1".."5" or "N/A"). Score strings map to
numbers, "N/A" to None (missing, never a made-up number); anything else makes the record a
`parse_error` with no scores, so it is counted rather than guessed.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path
from typing import Any

from justeval.errors import InputError
from justeval.jsonl import iter_json_lines
from justeval.records import ASPECTS_BY_CATEGORY, Category, Generation, Judgment, TemplateRef, normalize_id

MODE_CATEGORY: dict[str, Category] = {"score_multi": "regular", "score_safety": "safety"}
MODE_ASPECTS = {mode: list(ASPECTS_BY_CATEGORY[cat]) for mode, cat in MODE_CATEGORY.items()}
_NA = {"n/a", "na", "none", "null", ""}
_NUMERIC = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
SCALE = (1.0, 5.0)


class ScoreError(ValueError):
    """A score string that is neither a number on the scale nor N/A."""


def score_from_string(value: Any) -> float | None:
    """"4" -> 4.0, "N/A" -> None; anything else (words, out-of-scale numbers) raises ScoreError."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ScoreError(f"not a score: {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.lower() in _NA:
            return None
        if not _NUMERIC.match(text):
            raise ScoreError(f"not a score: {value!r}")
        number = float(text)
    else:
        raise ScoreError(f"not a score: {value!r}")
    if math.isnan(number) or not SCALE[0] <= number <= SCALE[1]:
        raise ScoreError(f"score {value!r} outside {SCALE[0]:g}-{SCALE[1]:g}")
    return number


def generator_name(generator_cand: str) -> str:
    """`just_results_aligned//gpt-4-0613.json` -> `gpt-4-0613`."""
    name = re.split(r"[\\/]+", generator_cand.strip())[-1]
    return name[:-5] if name.endswith(".json") else name


def _template_ref(mode: str) -> TemplateRef:
    # The original template text is not in a judgment file; the hash names the upstream mode so
    # these records never mix silently with records made from one of our templates.
    return TemplateRef(name=mode, hash="upstream-" + hashlib.sha256(mode.encode()).hexdigest()[:8])


def convert_line(obj: dict[str, Any], path: Path, line: int) -> tuple[Generation, Judgment]:
    """One upstream line as our records; a line that is not an upstream judgment is an InputError."""
    try:
        item_id = normalize_id(obj["id"])
        config = obj["eval_config"]
        mode = str(config["mode"])
        judge = str(config["gpt"])
        generator = generator_name(str(obj["generator_cand"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"not an upstream just-eval judgment ({exc!s})", line=line,
                         record=obj.get("id")) from exc
    if mode not in MODE_CATEGORY:
        raise InputError(path, f"unsupported eval mode {mode!r} (expected score_multi or score_safety)",
                         line=line, record=item_id)
    aspects = MODE_ASPECTS[mode]
    category = MODE_CATEGORY[mode]
    output = obj.get("output_cand")
    gen = Generation(id=item_id, instruction=str(obj.get("input") or ""), output=output, generator=generator,
                     category=category, status="ok" if isinstance(output, str) else "error")
    parsed = obj.get("parsed_result")
    scores: dict[str, float | None] = {}
    rationales: dict[str, str] = {}
    status = "ok"
    error = None
    try:
        if not isinstance(parsed, dict):
            raise ScoreError("no parsed_result")
        for aspect in aspects:
            entry = parsed.get(aspect)
            if not isinstance(entry, dict) or "score" not in entry:
                raise ScoreError(f"no score for {aspect}")
            scores[aspect] = score_from_string(entry["score"])
            if entry.get("reason") is not None:
                rationales[aspect] = str(entry["reason"])
    except ScoreError as exc:
        status, error = "parse_error", str(exc)
        scores = {a: None for a in aspects}
        rationales = {}
    judgment = Judgment(id=item_id, judge=judge, generator=generator, category=category,
                        template=_template_ref(mode), status=status, scores=scores, rationales=rationales,
                        raw=obj.get("result") if isinstance(obj.get("result"), str) else None, error=error)
    return gen, judgment


def read_upstream(path: str | Path) -> tuple[list[Generation], list[Judgment]]:
    """Both the outputs and the verdicts of one upstream judgment file."""
    path = Path(path)
    gens: list[Generation] = []
    judgments: list[Judgment] = []
    for line, obj in iter_json_lines(path):
        gen, judgment = convert_line(obj, path, line)
        gens.append(gen)
        judgments.append(judgment)
    return gens, judgments


def judgments_from_upstream(path: str | Path) -> list[Judgment]:
    """The verdicts of an original just-eval judgment file as `Judgment` records."""
    return read_upstream(path)[1]
