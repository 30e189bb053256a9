"""From run directories (or original just-eval files) to one numeric table per model.

Each model becomes a `ModelItems`: its items in a fixed order, and per aspect a float array of
scores (NaN where there is no score) plus a state code saying *why* there is none, so that
every leaderboard count (judged, N/A, parse errors, judge errors, generation errors, not yet
judged) comes from the same place as the means.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from justeval.errors import InputError, JustevalError
from justeval.records import Generation, ItemId, Judgment
from justeval.rundir import RunDir

# State of one (item, aspect) cell.
NOT_APPLICABLE, SCORED, NA, PARSE_ERROR, JUDGE_ERROR, NOT_JUDGED, GEN_ERROR = range(7)

CANONICAL_ASPECTS = ["helpfulness", "clarity", "factuality", "depth", "engagement", "safety"]
CATEGORIES = ("regular", "safety")


def order_aspects(aspects: Iterable[str]) -> list[str]:
    """The just-eval order first, then any other aspects alphabetically."""
    seen = set(aspects)
    return [a for a in CANONICAL_ASPECTS if a in seen] + sorted(seen - set(CANONICAL_ASPECTS))


@dataclass
class ModelRun:
    """The records of one model, as read (before any selection)."""

    name: str
    source: str
    generations: list[Generation]
    judgments: list[Judgment]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class ModelItems:
    """One model's items and scores as arrays; see the state codes above."""

    model: str
    source: str
    ids: list[ItemId]
    category: np.ndarray            # str per item: regular | safety
    dataset: np.ndarray             # str per item
    words: np.ndarray               # output length in words; NaN without output
    outputs: list[str | None]
    gen_error: np.ndarray           # bool per item
    values: dict[str, np.ndarray]   # aspect -> float (NaN unless SCORED)
    state: dict[str, np.ndarray]    # aspect -> int8 state
    judges: dict[str, list[str]]    # aspect -> judges that scored it
    templates: dict[str, list[dict[str, str]]]  # aspect -> [{name, hash}]
    judgments: dict[ItemId, list[Judgment]] = field(default_factory=dict)

    def scores(self, aspect: str, na_as: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(values, included) for an aspect: N/A filled with `na_as` when given, else excluded."""
        vals = self.values[aspect]
        state = self.state[aspect]
        if na_as is None:
            return vals, state == SCORED
        filled = np.where(state == NA, float(na_as), vals)
        return filled, (state == SCORED) | (state == NA)

    def index(self) -> dict[ItemId, int]:
        return {i: k for k, i in enumerate(self.ids)}


def load_run_dir(path: str | Path) -> list[ModelRun]:
    """The models of one run directory (normally one: the run's generator)."""
    rd = RunDir(path)
    if not rd.path.is_dir():
        raise InputError(rd.path, "not a run directory")
    gens = rd.load_generations() if rd.generations.exists() else []
    judgments = rd.load_judgments()
    if not gens and not judgments:
        raise InputError(rd.path, "no generations.jsonl and no judgments in this run directory")
    names = list(dict.fromkeys([g.generator for g in gens] + [j.generator for j in judgments]))
    return [ModelRun(name=n, source=str(rd.path), generations=[g for g in gens if g.generator == n],
                     judgments=[j for j in judgments if j.generator == n], meta=rd.read_meta()) for n in names]


def load_upstream_files(paths: Sequence[str | Path]) -> list[ModelRun]:
    """Original just-eval judgment files, merged per generator (multi + safety of one model)."""
    from justeval.leaderboard.upstream import read_upstream

    runs: dict[str, ModelRun] = {}
    for p in paths:
        gens, judgments = read_upstream(p)
        for g in gens:
            run = runs.setdefault(g.generator, ModelRun(name=g.generator, source=str(p), generations=[],
                                                        judgments=[]))
            run.generations.append(g)
        for j in judgments:
            runs[j.generator].judgments.append(j)
    for run in runs.values():
        # The multi and safety files of one model share no ids; a repeated id keeps the last output.
        run.generations = list({g.id: g for g in run.generations}.values())
    return list(runs.values())


def unique_names(runs: list[ModelRun]) -> list[ModelRun]:
    """Two runs of one generator stay apart on the board: the later ones get their folder name."""
    seen: dict[str, int] = {}
    for run in runs:
        if run.name in seen:
            seen[run.name] += 1
            run.name = f"{run.name} ({Path(run.source).name or run.source})"
        else:
            seen[run.name] = 1
    return runs


def _latest(judgments: list[Judgment], judge: Sequence[str] | None) -> list[Judgment]:
    """The last record per (id, judge, template hash): later lines supersede earlier ones."""
    keep: dict[tuple[Any, ...], Judgment] = {}
    for j in judgments:
        if judge and j.judge not in judge:
            continue
        keep[(j.id, j.judge, j.template.hash)] = j
    return list(keep.values())


def build_items(run: ModelRun, *, judge: Sequence[str] | None = None, ids: set[ItemId] | None = None,
                categories: Sequence[str] = CATEGORIES, aspects_by_category: dict[str, list[str]] | None = None,
                datasets: dict[ItemId, str] | None = None, keep_judgments: bool = False) -> ModelItems:
    """The arrays of one model, restricted to `ids` / `categories` and to `judge` when given.

    `aspects_by_category` (from all models together) makes an unjudged item count as
    NOT_JUDGED for every aspect its category has on the board.
    """
    judgments = _latest(run.judgments, judge)
    gens = {g.id: g for g in run.generations}
    for j in judgments:  # upstream-only or judgments without generations still count
        if j.id not in gens:
            gens[j.id] = Generation(id=j.id, instruction="", output=None, generator=run.name, category=j.category,
                                    status="ok")
    items = [g for g in gens.values() if g.category in categories and (ids is None or g.id in ids)]
    index = {g.id: k for k, g in enumerate(items)}
    n = len(items)
    by_item: dict[ItemId, list[Judgment]] = {}
    for j in judgments:
        if j.id in index:
            by_item.setdefault(j.id, []).append(j)

    per_cat = aspects_by_category or aspects_seen([run])
    all_aspects = order_aspects(a for cat in categories for a in per_cat.get(cat, []))
    cat_arr = np.array([g.category for g in items], dtype=object)
    values = {a: np.full(n, np.nan) for a in all_aspects}
    state = {a: np.zeros(n, dtype=np.int8) for a in all_aspects}
    gen_error = np.array([g.status == "error" or g.output is None for g in items], dtype=bool)
    for cat in categories:
        rows = cat_arr == cat
        for a in per_cat.get(cat, []):
            state[a][rows] = np.where(gen_error[rows], GEN_ERROR, NOT_JUDGED)
    judges: dict[str, set[str]] = {a: set() for a in all_aspects}
    templates: dict[str, dict[str, dict[str, str]]] = {a: {} for a in all_aspects}
    owner: dict[tuple[int, str], Judgment] = {}
    for item_id, recs in by_item.items():
        k = index[item_id]
        for j in recs:
            for a in j.scores if j.scores else per_cat.get(items[k].category, []):
                if a not in state:
                    continue
                if (k, a) in owner:
                    other = owner[(k, a)]
                    raise InputError(run.source, f"two judgments give '{a}' for item {item_id} of {run.name} "
                                     f"({other.judge} / {other.template.name}@{other.template.hash} and "
                                     f"{j.judge} / {j.template.name}@{j.template.hash}); pick one with --judge",
                                     record=item_id)
                owner[(k, a)] = j
                judges[a].add(j.judge)
                templates[a][j.template.hash] = {"name": j.template.name, "hash": j.template.hash}
                if j.status == "ok":
                    score = j.scores.get(a)
                    if score is None:
                        state[a][k] = NA
                    else:
                        state[a][k] = SCORED
                        values[a][k] = float(score)
                else:
                    state[a][k] = PARSE_ERROR if j.status == "parse_error" else JUDGE_ERROR
    words = np.array([len(g.output.split()) if g.output is not None else np.nan for g in items], dtype=float)
    ds = [(datasets or {}).get(g.id) or g.dataset for g in items]
    return ModelItems(
        model=run.name, source=run.source, ids=[g.id for g in items], category=cat_arr,
        dataset=np.array(ds, dtype=object), words=words, outputs=[g.output for g in items], gen_error=gen_error,
        values=values, state=state, judges={a: sorted(v) for a, v in judges.items()},
        templates={a: list(v.values()) for a, v in templates.items()},
        judgments=by_item if keep_judgments else {})


def aspects_seen(runs: Iterable[ModelRun]) -> dict[str, list[str]]:
    """Aspects per category, from the judgments' score keys (all models together)."""
    found: dict[str, set[str]] = {c: set() for c in CATEGORIES}
    for run in runs:
        for j in run.judgments:
            found.setdefault(j.category, set()).update(j.scores)
    return {c: order_aspects(v) for c, v in found.items()}


def load_models(run_dirs: Sequence[str | Path] = (), upstream: Sequence[str | Path] = ()) -> list[ModelRun]:
    runs: list[ModelRun] = []
    for d in run_dirs:
        runs.extend(load_run_dir(d))
    if upstream:
        runs.extend(load_upstream_files(upstream))
    if not runs:
        raise JustevalError("nothing to put on the leaderboard: give run directories or --upstream files")
    return unique_names(runs)
