"""Drawing the blinded review sample: items x model pairs, stratified on request, seeded so
the same seed always gives the same pairs in the same order."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from justeval.errors import UsageError
from justeval.records import ItemId, id_order
from justeval.review.records import KeyPair
from justeval.review.runs import RunOutputs

STRATA = ("category", "task", "dataset")


def stratum_of(item: ItemId, runs: Sequence[RunOutputs], stratify: str | None,
               tasks: dict[ItemId, list[str]]) -> str:
    if stratify is None:
        return "all"
    gen = next(r.outputs[item] for r in runs if item in r.outputs)
    if stratify == "category":
        return gen.category
    if stratify == "dataset":
        return gen.dataset
    if stratify == "task":
        found = tasks.get(item) or []
        return found[0] if found else "(none)"
    raise UsageError(f"--stratify must be one of {', '.join(STRATA)}, not {stratify!r}")


def quotas(sizes: dict[str, int], capacity: dict[str, int], n: int) -> dict[str, int]:
    """Largest-remainder shares of n proportional to `sizes`, never above a stratum's capacity."""
    total = sum(sizes.values())
    n = min(n, sum(capacity.values()))
    exact = {s: n * sizes[s] / total for s in sizes}
    out = {s: min(int(exact[s]), capacity[s]) for s in sizes}
    while sum(out.values()) < n:
        open_ = [s for s in sizes if out[s] < capacity[s]]
        best = max(open_, key=lambda s: (exact[s] - out[s], s))
        out[best] += 1
    return out


def _spread(items: list[ItemId], pairs: dict[ItemId, list[int]], rng: np.random.Generator) -> list[tuple[ItemId, int]]:
    """Items in random order, each with its model pairs in random order, taken round by round:
    every item appears once before any item appears twice."""
    order = [items[i] for i in rng.permutation(len(items))]
    per_item = {it: [pairs[it][k] for k in rng.permutation(len(pairs[it]))] for it in order}
    out: list[tuple[ItemId, int]] = []
    for rnd in range(max((len(v) for v in per_item.values()), default=0)):
        out.extend((it, per_item[it][rnd]) for it in order if rnd < len(per_item[it]))
    return out


def sample_pairs(runs: Sequence[RunOutputs], n: int, seed: int, stratify: str | None = None,
                 tasks: dict[ItemId, list[str]] | None = None) -> list[KeyPair]:
    """A blinded sample of up to n (item, model pair) units, left/right randomised per pair."""
    if len(runs) < 2:
        raise UsageError("export-review needs at least two runs")
    if n < 1:
        raise UsageError("--n must be at least 1")
    rng = np.random.default_rng(seed)
    model_pairs = list(itertools.combinations(range(len(runs)), 2))
    all_ids = sorted({i for r in runs for i in r.outputs}, key=id_order)
    pairs = {i: [k for k, (a, b) in enumerate(model_pairs) if i in runs[a].outputs and i in runs[b].outputs]
             for i in all_ids}
    items = [i for i in all_ids if pairs[i]]
    if not items:
        raise UsageError("the runs have no item answered by two of them")
    strata: dict[str, list[ItemId]] = {}
    for it in items:
        strata.setdefault(stratum_of(it, runs, stratify, tasks or {}), []).append(it)
    names = sorted(strata)
    share = quotas({s: len(strata[s]) for s in names}, {s: sum(len(pairs[i]) for i in strata[s]) for s in names}, n)
    chosen: list[tuple[str, ItemId, int]] = []
    for s in names:
        chosen.extend((s, it, k) for it, k in _spread(strata[s], pairs, rng)[: share[s]])
    chosen = [chosen[i] for i in rng.permutation(len(chosen))]
    flips = rng.integers(0, 2, size=len(chosen))
    width = max(4, len(str(len(chosen))))
    out = []
    for num, ((s, it, k), flip) in enumerate(zip(chosen, flips, strict=True), start=1):
        a, b = model_pairs[k]
        gen = runs[a].outputs[it]
        left, right = (runs[b].label, runs[a].label) if flip else (runs[a].label, runs[b].label)
        out.append(KeyPair(pair_id=f"p{num:0{width}d}", id=it, category=gen.category, dataset=gen.dataset,
                           stratum=s if stratify else None, model_a=runs[a].label, model_b=runs[b].label,
                           left=left, right=right))
    return out
