"""From run directories (or original just-eval files) to one numeric table per model.

Each model becomes a `ModelItems`: its items in a fixed order, and per aspect a float array of
scores (NaN where there is no score) plus a state code saying *why* there is none, so that
every leaderboard count (judged, N/A, parse errors, judge errors, generation errors, not yet
judged) comes from the same place as the means.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from justeval.errors import InputError, JustevalError
from justeval.jsonl import read_records
from justeval.records import ASPECTS, CATEGORIES, Generation, ItemId, Judgment
from justeval.rundir import RunDir, safe_name

# State of one (item, aspect) cell.
NOT_APPLICABLE, SCORED, NA, PARSE_ERROR, JUDGE_ERROR, NOT_JUDGED, GEN_ERROR = range(7)



def order_aspects(aspects: Iterable[str]) -> list[str]:
    """The just-eval order first, then any other aspects alphabetically."""
    seen = set(aspects)
    return [a for a in ASPECTS if a in seen] + sorted(seen - set(ASPECTS))


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
    refused: np.ndarray             # bool per item: the output opens with a refusal
    outputs: list[str | None]       # kept only for the page (keep_text)
    instructions: list[str]
    gen_error: np.ndarray           # bool per item
    values: dict[str, np.ndarray]   # aspect -> float (NaN unless SCORED)
    state: dict[str, np.ndarray]    # aspect -> int8 state
    judges: dict[str, list[str]]    # aspect -> judges that scored it
    aspects_by_category: dict[str, list[str]]  # aspects found in this model's judgments
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
    gens = read_records(rd.generations, Generation) if rd.generations.exists() else []
    judgments = [j for f in rd.judgment_files() for j in read_records(f, Judgment)]
    if not gens and not judgments:
        raise InputError(rd.path, "no generations.jsonl and no judgments in this run directory")
    names = list(dict.fromkeys([g.generator for g in gens] + [j.generator for j in judgments]))
    return [ModelRun(name=n, source=str(rd.path), generations=[g for g in gens if g.generator == n],
                     judgments=[j for j in judgments if j.generator == n]) for n in names]


def load_upstream_files(paths: Sequence[str | Path]) -> list[ModelRun]:
    """Original just-eval judgment files, merged per generator (multi + safety of one model)."""
    from justeval.board.upstream import read_upstream

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


def unique_names(runs: Iterable[ModelRun]) -> Iterator[ModelRun]:
    """Two runs of one generator stay apart on the board: the later ones get their folder name."""
    seen: set[str] = set()
    for run in runs:
        name = run.name
        k = 1
        while name in seen:
            name = f"{run.name} ({Path(run.source).name or run.source})" + (f" #{k}" if k > 1 else "")
            k += 1
        run.name = name
        seen.add(name)
        yield run


def _latest(judgments: list[Judgment], judge: Sequence[str] | None) -> list[Judgment]:
    """The last record per (id, judge, template hash): later lines supersede earlier ones."""
    keep: dict[tuple[Any, ...], Judgment] = {}
    for j in judgments:
        if judge and j.judge not in judge and safe_name(j.judge) not in judge:
            continue
        keep[(j.id, j.judge, j.template.hash)] = j
    return list(keep.values())


def build_items(run: ModelRun, *, judge: Sequence[str] | None = None, ids: set[ItemId] | None = None,
                categories: Sequence[str] = CATEGORIES, aspects_by_category: dict[str, list[str]] | None = None,
                datasets: dict[ItemId, str] | None = None, keep_text: bool = False) -> ModelItems:
    """The arrays of one model, restricted to `ids` / `categories` and to `judge` when given.

    Aspects are those of this model's judgments plus `aspects_by_category`; `extend_aspects`
    adds later the ones only other models have. `keep_text` keeps outputs, instructions and
    judgment records (for the page); otherwise only their derived numbers are kept.
    """
    from justeval.board.diagnostics import is_refusal

    judgments = _latest(run.judgments, judge)
    gens = {g.id: g for g in run.generations}
    for j in judgments:  # upstream-only or judgments without generations still count
        if j.id not in gens:
            gens[j.id] = Generation(id=j.id, instruction="", output=None, generator=run.name, category=j.category,
                                    status="ok")
    items = [g for g in gens.values() if g.category in categories and (ids is None or g.id in ids)]
    index = {g.id: k for k, g in enumerate(items)}
    by_item: dict[ItemId, list[Judgment]] = {}
    for j in judgments:
        if j.id in index:
            by_item.setdefault(j.id, []).append(j)
    per_cat = {c: list(v) for c, v in (aspects_by_category or {}).items()}
    for c, found in aspects_seen([ModelRun(run.name, run.source, [], judgments)]).items():
        per_cat[c] = order_aspects([*per_cat.get(c, []), *found])
    gen_error = np.array([g.status == "error" or g.output is None for g in items], dtype=bool)
    mi = ModelItems(
        model=run.name, source=run.source, ids=[g.id for g in items],
        category=np.array([g.category for g in items], dtype=object),
        dataset=np.array([(datasets or {}).get(g.id) or g.dataset for g in items], dtype=object),
        words=np.array([len(g.output.split()) if g.output is not None else np.nan for g in items], dtype=float),
        refused=np.array([is_refusal(g.output) for g in items], dtype=bool),
        outputs=[g.output for g in items] if keep_text else [],
        instructions=[g.instruction for g in items] if keep_text else [],
        gen_error=gen_error, values={}, state={}, judges={}, templates={}, aspects_by_category=per_cat,
        judgments=by_item if keep_text else {})
    extend_aspects(mi, {c: per_cat.get(c, []) for c in categories})
    _fill(mi, by_item, index, per_cat)
    return mi


def extend_aspects(mi: ModelItems, aspects_by_category: dict[str, list[str]]) -> None:
    """Add the board's aspects this model has no column for (its items count as not judged)."""
    n = len(mi.ids)
    for cat, aspects in aspects_by_category.items():
        rows = mi.category == cat
        for a in aspects:
            if a not in mi.state:
                mi.values[a] = np.full(n, np.nan)
                mi.state[a] = np.zeros(n, dtype=np.int8)
                mi.judges[a], mi.templates[a] = [], []
            fresh = rows & (mi.state[a] == NOT_APPLICABLE)
            mi.state[a][fresh] = np.where(mi.gen_error[fresh], GEN_ERROR, NOT_JUDGED)
    order = order_aspects(mi.state)
    mi.values = {a: mi.values[a] for a in order}
    mi.state = {a: mi.state[a] for a in order}


def _fill(mi: ModelItems, by_item: dict[ItemId, list[Judgment]], index: dict[ItemId, int],
          per_cat: dict[str, list[str]]) -> None:
    judges: dict[str, set[str]] = {a: set() for a in mi.state}
    templates: dict[str, dict[str, dict[str, str]]] = {a: {} for a in mi.state}
    owner: dict[tuple[int, str], Judgment] = {}
    for item_id, recs in by_item.items():
        k = index[item_id]
        for j in recs:
            for a in j.scores if j.scores else per_cat.get(str(mi.category[k]), []):
                if a not in mi.state:
                    continue
                if (k, a) in owner:
                    other = owner[(k, a)]
                    raise InputError(mi.source, f"two judgments give '{a}' for item {item_id} of {mi.model} "
                                     f"({other.judge} / {other.template.name}@{other.template.hash} and "
                                     f"{j.judge} / {j.template.name}@{j.template.hash}); pick one with --judge",
                                     record=item_id)
                owner[(k, a)] = j
                judges[a].add(j.judge)
                templates[a][j.template.hash] = {"name": j.template.name, "hash": j.template.hash}
                if j.status == "ok":
                    score = j.scores.get(a)
                    if score is None:
                        mi.state[a][k] = NA
                    else:
                        mi.state[a][k] = SCORED
                        mi.values[a][k] = float(score)
                else:
                    mi.state[a][k] = PARSE_ERROR if j.status == "parse_error" else JUDGE_ERROR
    mi.judges = {a: sorted(v) for a, v in judges.items()}
    mi.templates = {a: list(v.values()) for a, v in templates.items()}


def aspects_seen(runs: Iterable[ModelRun]) -> dict[str, list[str]]:
    """Aspects per category, from the judgments' score keys (all models together)."""
    found: dict[str, set[str]] = {c: set() for c in CATEGORIES}
    for run in runs:
        for j in run.judgments:
            found.setdefault(j.category, set()).update(j.scores)
    return {c: order_aspects(v) for c, v in found.items()}


def iter_models(run_dirs: Sequence[str | Path] = (), upstream: Sequence[str | Path] = ()) -> Iterator[ModelRun]:
    """The models one run directory at a time, so a big board never holds every record at once."""
    if not run_dirs and not upstream:
        raise JustevalError("nothing to put on the leaderboard: give run directories or --upstream files")
    for d in run_dirs:
        yield from load_run_dir(d)
    if upstream:
        yield from load_upstream_files(upstream)


def load_models(run_dirs: Sequence[str | Path] = (), upstream: Sequence[str | Path] = ()) -> list[ModelRun]:
    return list(unique_names(iter_models(run_dirs, upstream)))
