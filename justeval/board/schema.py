"""`--format json`: the leaderboard as a stable, documented document.

The JSON Schema is the data file `leaderboard/leaderboard.schema.json`; `schema_version` grows
only with incompatible changes (new optional keys do not count). Undefined numbers (a mean of
no scores, a CI without resamples) are `null`, never NaN.
"""

from __future__ import annotations

import json
import math
from typing import Any

from justeval.board.breakdowns import BreakdownRow
from justeval.board.diagnostics import Correlation, Proportion
from justeval.board.tables import Leaderboard, ModelRow
from justeval.paths import data_dir

SCHEMA_ID = "justeval.leaderboard"
SCHEMA_VERSION = 1


def schema() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((data_dir("leaderboard") / "leaderboard.schema.json").read_text("utf-8"))
    return data


def num(x: float | None) -> float | None:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(x)


def _rate(r: Proportion) -> dict[str, Any]:
    return {"rate": num(r.rate), "count": r.count, "n": r.n}


def _corr(c: Correlation) -> dict[str, Any]:
    return {"rho": num(c.rho), "n": c.n}


def model_json(row: ModelRow, board: Leaderboard) -> dict[str, Any]:
    diag = board.diagnostics.get(row.model)
    return {
        "model": row.model,
        "source": row.source,
        "rank": list(row.rank) if row.rank else None,
        "average": {"mean": num(row.average.mean), "ci_low": num(row.average.ci_low),
                    "ci_high": num(row.average.ci_high), "aspects": row.average_aspects},
        "aspects": {a: {"mean": num(s.mean), "ci_low": num(s.ci_low), "ci_high": num(s.ci_high), "n": s.n,
                        "missing": s.missing, "errors": s.errors, "parse_errors": s.parse_errors,
                        "judge_errors": s.judge_errors, "not_judged": s.not_judged,
                        "generation_errors": s.generation_errors, "judge": s.judges, "templates": s.templates,
                        "repeats": s.repeats, "spread": num(s.spread)}
                    for a, s in row.aspects.items()},
        "length": {"mean_words": num(row.length_words)},
        "counts": row.counts,
        "judge": sorted({j for s in row.aspects.values() for j in s.judges}),
        "template_hash": sorted({t["hash"] for s in row.aspects.values() for t in s.templates}),
        "self_preference": row.self_preference,
        "diagnostics": None if diag is None else {
            "refusal": _rate(diag.refusal), "over_refusal": _rate(diag.over_refusal),
            "length_correlation": {a: _corr(c) for a, c in diag.length_correlation.items()}},
    }


def breakdown_json(rows: list[BreakdownRow]) -> list[dict[str, Any]]:
    return [{"group": r.group, "model": r.model, "items": r.items,
             "average": {"mean": num(r.average.mean), "ci_low": num(r.average.ci_low),
                         "ci_high": num(r.average.ci_high)},
             "aspects": {a: {"mean": num(g.mean), "ci_low": num(g.ci_low), "ci_high": num(g.ci_high), "n": g.n}
                         for a, g in r.aspects.items()}}
            for r in rows]


def to_json(board: Leaderboard) -> dict[str, Any]:
    from justeval import __version__

    s = board.settings
    return {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "justeval", "version": __version__},
        "settings": {"na_as": s.na_as, "bootstrap": s.bootstrap, "seed": s.seed, "confidence": s.confidence,
                     "subset": s.subset, "judge": s.judge, "template": s.template, "panel": s.panel},
        "aspects": board.aspects,
        "aspects_by_category": board.aspects_by_category,
        "models": [model_json(r, board) for r in board.rows],
        "breakdowns": {dim: breakdown_json(rows) for dim, rows in board.breakdowns.items()},
        "length_correlation": {a: _corr(c) for a, c in board.length_correlation.items()},
        "notes": board.notes,
        **trust_json(board),
    }


def trust_json(board: Leaderboard) -> dict[str, Any]:
    """The optional blocks: `panel` (with --panel), `judge_eval` (with --judge-eval) and `sweep`
    (of a sweep folder)."""
    from justeval.board.judge_section import section_json

    out: dict[str, Any] = {}
    if board.panel is not None:
        p = board.panel
        out["panel"] = {"method": p.method, "metric": p.metric, "judges": p.judges,
                        "alpha": {a: {"alpha": num(x.alpha), "units": x.units, "values": x.values}
                                  for a, x in p.alpha.items()}}
    if board.judge_eval is not None:
        out["judge_eval"] = section_json(board.judge_eval)
    if board.sweep is not None and board.sweep.points:
        from justeval.board.sweep_chart import sweep_json

        out["sweep"] = sweep_json(board.sweep.points, board.sweep.notes)
    return out


def dumps(board: Leaderboard) -> str:
    return json.dumps(to_json(board), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
