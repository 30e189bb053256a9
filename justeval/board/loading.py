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
from justeval.records import ASPECTS, CATEGORIES, Generation, ItemId, Judgment, output_digest
from justeval.rundir import RunDir
from justeval.streaming import iter_objects, iter_records

# State of one (item, aspect) cell.
NOT_APPLICABLE, SCORED, NA, PARSE_ERROR, JUDGE_ERROR, NOT_JUDGED, GEN_ERROR = range(7)



def order_aspects(aspects: Iterable[str]) -> list[str]:
    """The just-eval order first, then any other aspects alphabetically."""
    seen = set(aspects)
    return [a for a in ASPECTS if a in seen] + sorted(seen - set(ASPECTS))


# Where a record of a model came from, so that the page can read its texts back later
# (`stream.read_line`) instead of holding every output while the board is built.
GENERATIONS, JUDGMENTS, UPSTREAM = "generations", "judgments", "upstream"
Ref = tuple[int, int]  # (index into the model's `files`, byte offset of the record's line)


@dataclass(frozen=True)
class RecordFile:
    path: Path
    kind: str  # GENERATIONS, JUDGMENTS or UPSTREAM (an original just-eval judgment file)


@dataclass(slots=True)
class GenerationStats:
    """What a board keeps of one generation: its numbers and where it is, never its text."""

    id: ItemId
    generator: str
    category: str
    dataset: str
    status: str
    has_output: bool
    words: int
    chars: int
    refused: bool
    ref: Ref | None
    sha256: str | None = None  # of the output: a judgment of another output is of a replaced one


def word_count(text: str, step: int = 1 << 16) -> int:
    """`len(text.split())` without building the list of every word of a long output at once."""
    if len(text) <= step:
        return len(text.split())
    count, joined = 0, False
    for start in range(0, len(text), step):
        piece = text[start:start + step]
        count += len(piece.split())
        if joined and not piece[0].isspace():
            count -= 1  # a word cut by the slice boundary was counted twice
        joined = not piece[-1].isspace()
    return count


def generation_stats(g: Generation, ref: Ref | None) -> GenerationStats:
    from justeval.board.diagnostics import is_refusal

    out = g.output
    return GenerationStats(id=g.id, generator=g.generator, category=g.category, dataset=g.dataset, status=g.status,
                           has_output=out is not None, words=word_count(out) if out is not None else 0,
                           chars=len(out) if out is not None else 0, refused=is_refusal(out), ref=ref,
                           sha256=output_digest(out) if out is not None else None)


@dataclass
class ModelRun:
    """The records of one model, as read (before any selection): generations reduced to their
    numbers, judgments without their raw replies, and the files both came from."""

    name: str
    source: str
    generations: list[GenerationStats]
    judgments: list[Judgment]
    meta: dict[str, Any] = field(default_factory=dict)
    files: list[RecordFile] = field(default_factory=list)
    judgment_refs: list[Ref | None] = field(default_factory=list)  # parallel to `judgments`
    stale: set[ItemId] = field(default_factory=set)  # items whose judgments judged an output replaced since


@dataclass
class ModelItems:
    """One model's items and scores as arrays; see the state codes above."""

    model: str
    source: str
    ids: list[ItemId]
    category: np.ndarray            # str per item: regular | safety
    dataset: np.ndarray             # str per item
    words: np.ndarray               # output length in words; NaN without output
    chars: np.ndarray               # output length in characters; NaN without output
    refused: np.ndarray             # bool per item: the output opens with a refusal
    gen_error: np.ndarray           # bool per item
    values: dict[str, np.ndarray]   # aspect -> float (NaN unless SCORED)
    state: dict[str, np.ndarray]    # aspect -> int8 state
    judges: dict[str, list[str]]    # aspect -> judges that scored it
    aspects_by_category: dict[str, list[str]]  # aspects found in this model's judgments
    templates: dict[str, list[dict[str, str]]]  # aspect -> [{name, hash}]
    # kept only for the page (keep_text): where each item's output and judgments are
    files: list[RecordFile] = field(default_factory=list)
    gen_refs: list[Ref | None] = field(default_factory=list)
    judgment_refs: list[list[Ref]] = field(default_factory=list)
    # judge stability (`judge --repeats`): for an aspect some item of which was scored more than
    # once, each item's repeats (items x most repeats; the state NOT_APPLICABLE past an item's own)
    repeat_values: dict[str, np.ndarray] = field(default_factory=dict)
    repeat_state: dict[str, np.ndarray] = field(default_factory=dict)
    stale: int = 0                                   # items whose judgments judged a replaced output (left out)
    notes: list[str] = field(default_factory=list)   # what the board should say about this model's judgments

    def repeat_scores(self, aspect: str, na_as: float | None) -> tuple[np.ndarray, np.ndarray] | None:
        """(values, included), items x repeats, for an aspect scored repeatedly; else None."""
        if aspect not in self.repeat_values:
            return None
        vals, state = self.repeat_values[aspect], self.repeat_state[aspect]
        if na_as is None:
            return vals, state == SCORED
        return np.where(state == NA, float(na_as), vals), (state == SCORED) | (state == NA)

    def scores(self, aspect: str, na_as: float | None) -> tuple[np.ndarray, np.ndarray]:
        """(values, included) for an aspect: N/A filled with `na_as` when given, else excluded.
        An item scored several times (repeats) has the mean of its repeats."""
        vals = self.values[aspect]
        state = self.state[aspect]
        if na_as is None:
            return vals, state == SCORED
        repeated = self.repeat_scores(aspect, na_as)
        if repeated is not None:
            rv, inc = repeated
            n = inc.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.where(n > 0, np.where(inc, rv, 0.0).sum(axis=1) / np.maximum(n, 1), np.nan)
            return mean, n > 0
        filled = np.where(state == NA, float(na_as), vals)
        return filled, (state == SCORED) | (state == NA)

    def index(self) -> dict[ItemId, int]:
        return {i: k for k, i in enumerate(self.ids)}


class EmptyRunDir(InputError):
    """A run directory without a single record (what a failed `justeval run` leaves)."""


def load_run_dir(path: str | Path) -> list[ModelRun]:
    """The models of one run directory (normally one: the run's generator), read a block at
    a time: outputs are reduced to their lengths as they are read, raw replies dropped."""
    rd = RunDir(path)
    if not rd.path.is_dir():
        raise InputError(rd.path, "not a run directory")
    files: list[RecordFile] = []
    gens: list[GenerationStats] = []
    if rd.generations.exists():
        files.append(RecordFile(rd.generations, GENERATIONS))
        gens = [generation_stats(g, (0, offset)) for offset, g in iter_records(rd.generations, Generation)]
    judgments: list[Judgment] = []
    refs: list[Ref | None] = []
    for f in rd.judgment_files():
        files.append(RecordFile(f, JUDGMENTS))
        for offset, j in iter_records(f, Judgment):
            j.raw = None  # a board never shows a raw reply: do not hold it
            judgments.append(j)
            refs.append((len(files) - 1, offset))
    if not gens and not judgments:
        raise EmptyRunDir(rd.path, "no generations.jsonl and no judgments in this run directory")
    judgments, refs, stale = _current(gens, judgments, refs)
    names = list(dict.fromkeys([g.generator for g in gens] + [j.generator for j in judgments]))
    return [ModelRun(name=n, source=str(rd.path), generations=[g for g in gens if g.generator == n],
                     judgments=[j for j in judgments if j.generator == n], files=files,
                     judgment_refs=[r for j, r in zip(judgments, refs, strict=True) if j.generator == n],
                     stale=stale.get(n, set()))
            for n in names]


def _current(gens: list[GenerationStats], judgments: list[Judgment],
             refs: list[Ref | None]) -> tuple[list[Judgment], list[Ref | None], dict[str, set[ItemId]]]:
    """The judgments of the outputs a run directory holds now. One that says which output it
    judged (`output_sha256`) and judged another than its item's latest generation is left out,
    counted for the model the item belongs to now; one that judged that very output belongs to
    that generation's model, whatever generator name it was judged under (an import that
    replaced the outputs under a new name)."""
    latest = {g.id: g for g in gens}
    kept: list[Judgment] = []
    kept_refs: list[Ref | None] = []
    stale: dict[str, set[ItemId]] = {}
    for j, ref in zip(judgments, refs, strict=True):
        gen = latest.get(j.id)
        if j.output_sha256 is not None and gen is not None:
            if gen.sha256 != j.output_sha256:
                stale.setdefault(gen.generator, set()).add(j.id)
                continue
            j.generator = gen.generator
        kept.append(j)
        kept_refs.append(ref)
    return kept, kept_refs, stale


def load_upstream_files(paths: Sequence[str | Path]) -> list[ModelRun]:
    """Original just-eval judgment files, merged per generator (multi + safety of one model)."""
    from justeval.board.upstream import convert_line

    files = [RecordFile(Path(p), UPSTREAM) for p in paths]
    runs: dict[str, ModelRun] = {}
    for k, f in enumerate(files):
        for line, offset, obj in iter_objects(f.path):
            gen, judgment = convert_line(obj, f.path, line)
            run = runs.setdefault(gen.generator, ModelRun(name=gen.generator, source=str(f.path), generations=[],
                                                          judgments=[], files=files))
            run.generations.append(generation_stats(gen, (k, offset)))
            judgment.raw = None
            run.judgments.append(judgment)
            run.judgment_refs.append((k, offset))
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


def build_items(run: ModelRun, *, judge: Sequence[str] | None = None, ids: set[ItemId] | None = None,
                categories: Sequence[str] = CATEGORIES, aspects_by_category: dict[str, list[str]] | None = None,
                datasets: dict[ItemId, str] | None = None, keep_text: bool = False,
                template: Sequence[str] | None = None) -> ModelItems:
    """The arrays of one model, restricted to `ids` / `categories` and to `judge` / `template`
    when given (`board.judgings.choose` says which judgments count).

    Aspects are those of this model's judgments plus `aspects_by_category`; `extend_aspects`
    adds later the ones only other models have. `keep_text` keeps where each item's output
    and judgments are (for the page, which reads them back); never the texts themselves.
    """
    from justeval.board.judgings import choose

    gens = {g.id: g for g in run.generations}
    chosen = choose(run, gens, judge=judge, template=template)
    judgments = [run.judgments[k] for k in chosen.indices]
    refs = [run.judgment_refs[k] if k < len(run.judgment_refs) else None for k in chosen.indices]
    for j in judgments:  # upstream-only or judgments without generations still count
        if j.id not in gens:
            gens[j.id] = GenerationStats(id=j.id, generator=run.name, category=j.category, dataset="custom",
                                         status="ok", has_output=False, words=0, chars=0, refused=False, ref=None)
    items = [g for g in gens.values() if g.category in categories and (ids is None or g.id in ids)]
    index = {g.id: k for k, g in enumerate(items)}
    by_item: dict[ItemId, list[tuple[Judgment, tuple[str, str]]]] = {}
    judgment_refs: list[list[Ref]] = [[] for _ in items] if keep_text else []
    for j, ref, source in zip(judgments, refs, chosen.sources, strict=True):
        if j.id in index:
            by_item.setdefault(j.id, []).append((j, source))
            if keep_text and ref is not None:
                judgment_refs[index[j.id]].append(ref)
    per_cat = {c: list(v) for c, v in (aspects_by_category or {}).items()}
    for c, found in aspects_seen([ModelRun(run.name, run.source, [], judgments)]).items():
        per_cat[c] = order_aspects([*per_cat.get(c, []), *found])
    gen_error = np.array([g.status == "error" or not g.has_output for g in items], dtype=bool)
    mi = ModelItems(
        model=run.name, source=run.source, ids=[g.id for g in items],
        category=np.array([g.category for g in items], dtype=object),
        dataset=np.array([(datasets or {}).get(g.id) or g.dataset for g in items], dtype=object),
        words=np.array([g.words if g.has_output else np.nan for g in items], dtype=float),
        chars=np.array([g.chars if g.has_output else np.nan for g in items], dtype=float),
        refused=np.array([g.refused for g in items], dtype=bool),
        gen_error=gen_error, values={}, state={}, judges={}, templates={}, aspects_by_category=per_cat,
        files=run.files if keep_text else [], gen_refs=[g.ref for g in items] if keep_text else [],
        judgment_refs=judgment_refs,
        stale=len((chosen.stale & set(index)) - {j.id for j in judgments}))  # not judged again since
    extend_aspects(mi, {c: per_cat.get(c, []) for c in categories})
    _fill(mi, by_item, index, per_cat, chosen.judgings)
    if mi.stale:
        mi.notes.append(f"{mi.model}: the judgments of {mi.stale} item(s) judged an output that has since been "
                        "replaced; they are left out (judge the run again to score the new outputs)")
    for failed in chosen.failed:
        mi.notes.append(f"{mi.model}: {failed.label()} has only failed calls; left out")
    if chosen.unmatched:
        have = "; ".join(g.label() for g in chosen.judgings.values()) or "none"
        mi.notes.append(f"{mi.model}: no judging with template {', '.join(chosen.unmatched)} (judgings: {have})")
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


_RANK = {SCORED: 3, NA: 2, PARSE_ERROR: 1, JUDGE_ERROR: 0}


def _cell_state(j: Judgment, aspect: str) -> tuple[int, float]:
    if j.status == "ok":
        score = j.scores.get(aspect)
        return (NA, np.nan) if score is None else (SCORED, float(score))
    return (PARSE_ERROR if j.status == "parse_error" else JUDGE_ERROR), np.nan


def _fill(mi: ModelItems, by_item: dict[ItemId, list[tuple[Judgment, tuple[str, str]]]], index: dict[ItemId, int],
          per_cat: dict[str, list[str]], judgings: dict[str, Any] | None = None) -> None:
    """Each (item, aspect) cell from the judgments that give it. Those of one judging and template
    are its repeats (the item's score is their mean); a failed call of another judging does not
    count against a judging that answered; two judgings that both answered are an error that
    names every choice."""
    judges: dict[str, set[str]] = {a: set() for a in mi.state}
    templates: dict[str, dict[str, dict[str, str]]] = {a: {} for a in mi.state}
    repeats: dict[str, dict[int, list[tuple[int, float]]]] = {}  # aspect -> item -> (state, value) per repeat
    repeated: set[str] = set()
    for item_id, recs in by_item.items():
        k = index[item_id]
        cells: dict[str, dict[tuple[str, str], list[Judgment]]] = {}
        for j, source in recs:
            for a in j.scores if j.scores else per_cat.get(str(mi.category[k]), []):
                if a in mi.state:
                    cells.setdefault(a, {}).setdefault(source, []).append(j)
        for a, sources in cells.items():
            answered = [src for src, js in sources.items() if any(j.status != "error" for j in js)]
            if len(answered) > 1:
                raise InputError(mi.source, _conflict(mi, item_id, a, [sources[src][0] for src in answered],
                                                      answered, judgings or {}), record=item_id)
            source = answered[0] if answered else next(iter(sources))
            js = sorted(sources[source], key=lambda j: j.repeat)
            cell = [_cell_state(j, a) for j in js]
            best = max(cell, key=lambda c: _RANK[c[0]])[0]
            mi.state[a][k] = best
            if best == SCORED:
                mi.values[a][k] = float(np.mean([v for st, v in cell if st == SCORED]))
            repeats.setdefault(a, {})[k] = cell
            if len(cell) > 1:
                repeated.add(a)
            judges[a].add(js[0].judge)
            templates[a][js[0].template.hash] = {"name": js[0].template.name, "hash": js[0].template.hash}
    for a in repeated:  # only where some item was scored more than once: the arrays cost memory
        cells_by_item = repeats[a]
        most = max(len(c) for c in cells_by_item.values())
        vals = np.full((len(mi.ids), most), np.nan)
        state = np.full((len(mi.ids), most), NOT_APPLICABLE, dtype=np.int8)
        for k, cell in cells_by_item.items():
            for r, (st, v) in enumerate(cell):
                state[k, r], vals[k, r] = st, v
        mi.repeat_values[a], mi.repeat_state[a] = vals, state
    mi.judges = {a: sorted(v) for a, v in judges.items()}
    mi.templates = {a: list(v.values()) for a, v in templates.items()}


def _conflict(mi: ModelItems, item_id: ItemId, aspect: str, firsts: list[Judgment], sources: list[tuple[str, str]],
              judgings: dict[str, Any]) -> str:
    """One line: which judgings give the same cell, and how to choose."""
    def label(j: Judgment, source: tuple[str, str]) -> str:
        g = judgings.get(source[0])
        return f"{j.judge} / {j.template.name}@{j.template.hash}" + (
            f" (identity {g.identity})" if g is not None and g.identity else "")

    names = " and ".join(label(j, src) for j, src in zip(firsts, sources, strict=True))
    choices = "; ".join(g.label() for g in judgings.values() if g.usable) or names
    return (f"two judgments give '{aspect}' for item {item_id} of {mi.model} ({names}); pick one with --judge "
            f"SPEC or --template NAME|HASH (judgings here: {choices})")


def aspects_seen(runs: Iterable[ModelRun]) -> dict[str, list[str]]:
    """Aspects per category, from the judgments' score keys (all models together)."""
    found: dict[str, set[str]] = {c: set() for c in CATEGORIES}
    for run in runs:
        for j in run.judgments:
            found.setdefault(j.category, set()).update(j.scores)
    return {c: order_aspects(v) for c, v in found.items()}


def iter_models(run_dirs: Sequence[str | Path] = (), upstream: Sequence[str | Path] = (),
                skipped: list[EmptyRunDir] | None = None) -> Iterator[ModelRun]:
    """The models one run directory at a time, so a big board never holds every record at once.

    A run directory without any record (a `justeval run` that failed before its first output)
    is passed over and added to `skipped` when a list is given; without one it is an error.
    """
    if not run_dirs and not upstream:
        raise JustevalError("nothing to put on the leaderboard: give run directories or --upstream files")
    found = False
    for d in run_dirs:
        try:
            runs = load_run_dir(d)
        except EmptyRunDir as exc:
            if skipped is None:
                raise
            skipped.append(exc)
            continue
        found = True
        yield from runs
    if upstream:
        found = True
        yield from load_upstream_files(upstream)
    if not found:
        raise JustevalError("nothing to put on the leaderboard: no run directory holds generations or judgments "
                            f"({', '.join(str(e.path) for e in skipped or [])})")


def load_models(run_dirs: Sequence[str | Path] = (), upstream: Sequence[str | Path] = ()) -> list[ModelRun]:
    return list(unique_names(iter_models(run_dirs, upstream)))
