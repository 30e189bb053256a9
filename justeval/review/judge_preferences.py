"""What the LLM judge prefers on each reviewed pair, in the key's A/B terms: from a pairwise
judgment file, or implied by each model's absolute scores (higher mean aspect score wins,
equal means tie)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from justeval.jsonl import read_records
from justeval.records import ItemId
from justeval.review.records import KeyPair, PairwiseJudgment
from justeval.rundir import RunDir

Verdicts = dict[str, str]  # pair_id -> "A" | "B" | "tie"
_SWAP = {"A": "B", "B": "A", "tie": "tie"}


def latest_pairwise(path: str | Path) -> list[PairwiseJudgment]:
    """The last line per resume key (a later line supersedes an earlier, partial one)."""
    latest: dict[tuple[object, ...], PairwiseJudgment] = {}
    for rec in read_records(path, PairwiseJudgment):
        latest[rec.resume_key()] = rec
    return list(latest.values())


def from_pairwise(paths: Sequence[str | Path], pairs: Sequence[KeyPair]) -> dict[str, Verdicts]:
    """Per judge, its combined verdict on each key pair it judged (status ok). An
    inconsistent verdict (the two orders disagree) counts as a tie."""
    by_item: dict[ItemId, list[KeyPair]] = {}
    for p in pairs:
        by_item.setdefault(p.id, []).append(p)
    out: dict[str, Verdicts] = {}
    for path in paths:
        for rec in latest_pairwise(path):
            if rec.status != "ok" or rec.result is None:
                continue
            verdict = "tie" if rec.result == "inconsistent" else rec.result
            for p in by_item.get(rec.id, []):
                if (rec.generator_a, rec.generator_b) == (p.model_a, p.model_b):
                    out.setdefault(f"pairwise {rec.judge}", {})[p.pair_id] = verdict
                elif (rec.generator_a, rec.generator_b) == (p.model_b, p.model_a):
                    out.setdefault(f"pairwise {rec.judge}", {})[p.pair_id] = _SWAP[verdict]
    return out


def mean_scores(run_dirs: Sequence[str | Path]) -> dict[str, dict[tuple[str, ItemId], float]]:
    """judge -> (generator, id) -> mean of the aspect scores of its latest ok judgment
    (aspects the judge left empty are skipped; no score at all -> no entry)."""
    latest: dict[tuple[str, str, ItemId], dict[str, float | None]] = {}
    for rd in run_dirs:
        for j in RunDir(rd).load_judgments():
            key = (j.judge, j.generator, j.id)
            if j.status == "ok":
                latest[key] = j.scores
            else:
                latest.pop(key, None)
    out: dict[str, dict[tuple[str, ItemId], float]] = {}
    for (judge, gen, item), scores in latest.items():
        vals = [v for v in scores.values() if v is not None]
        if vals:
            out.setdefault(judge, {})[(gen, item)] = sum(vals) / len(vals)
    return out


def from_scores(run_dirs: Sequence[str | Path], pairs: Sequence[KeyPair]) -> dict[str, Verdicts]:
    out: dict[str, Verdicts] = {}
    for judge, means in mean_scores(run_dirs).items():
        verdicts: Verdicts = {}
        for p in pairs:
            a, b = means.get((p.model_a, p.id)), means.get((p.model_b, p.id))
            if a is None or b is None:
                continue
            verdicts[p.pair_id] = "A" if a > b else "B" if b > a else "tie"
        out[f"scores {judge}"] = verdicts
    return out
