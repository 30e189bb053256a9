"""`import-review`: unblind human labels with the key and measure them: human win rates with
bootstrap intervals, agreement between humans and the LLM judge, and among annotators.

The report is a plain dict (what `--json` prints):
- `key`, `labels`: the files read; `pairs`: pairs in the key; `labelled_pairs`, `labels_count`;
  `annotators`: names, sorted.
- `win_rates`: one entry per model pair: `model_a`, `model_b`, `pairs`, `labels`, and
  `A`, `tie`, `B`, `score` (A wins + half the ties), each `{value, low, high}` (95% bootstrap
  over pairs; several annotators on one pair share its weight).
- `aspect_win_rates`: `{aspect: [same entries]}` for the aspects that were labelled.
- `judge_agreement`: one entry per judge source (`pairwise JUDGE` for a pairwise file,
  `scores JUDGE` for the preference implied by absolute scores) and annotator (`all` pools
  every label): `source`, `annotator`, `n`, `raw`, `n_no_ties`, `raw_no_ties`, `kappa`.
  A judge's inconsistent pairwise verdict counts as a tie.
- `inter_annotator`: `pairs` (per annotator pair: `annotator_1`, `annotator_2`, `n`, `raw`,
  `n_no_ties`, `raw_no_ties`, `kappa`), `krippendorff_alpha` (nominal; null if undefined),
  `units` (pairs with two or more labels). Empty when there is one annotator.
Agreement values are computed on the unblinded labels A / B / tie; null when undefined.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

from justeval.review.agreement import agreement, krippendorff_alpha_nominal, nan_to_none
from justeval.review.judge_preferences import Verdicts, from_pairwise, from_scores
from justeval.review.labels import load_key, load_labels
from justeval.review.records import HumanLabel, KeyPair, Side
from justeval.review.winrates import outcome_rates

OUTCOMES = ("A", "tie", "B")


def unblind(side: Side, pair: KeyPair) -> str:
    """left/right/tie as shown -> A/B/tie in the key's model order."""
    if side == "tie":
        return "tie"
    shown = pair.left if side == "left" else pair.right
    return "A" if shown == pair.model_a else "B"


def _win_rates(votes: dict[str, list[str]], pairs: dict[str, KeyPair], seed: int) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[str]] = {}
    for pid in votes:
        groups.setdefault((pairs[pid].model_a, pairs[pid].model_b), []).append(pid)
    out = []
    for (ma, mb), pids in sorted(groups.items()):
        units = [votes[p] for p in sorted(pids)]
        rates = outcome_rates(units, OUTCOMES, seed=seed, key=f"{ma}|{mb}")
        out.append({"model_a": ma, "model_b": mb, "pairs": len(units), "labels": sum(len(u) for u in units),
                    **{k: r.as_dict() for k, r in rates.items()}})
    return out


def _judge_agreement(source: str, verdicts: Verdicts, human: list[tuple[str, str, str]],
                     annotators: list[str]) -> list[dict[str, Any]]:
    rows = []
    for who in ["all", *annotators] if len(annotators) > 1 else ["all"]:
        both = [(lab, verdicts[pid]) for pid, ann, lab in human if pid in verdicts and who in ("all", ann)]
        stats = agreement([h for h, _ in both], [j for _, j in both])
        rows.append({"source": source, "annotator": who, **stats.as_dict()})
    return rows


def _inter_annotator(human: list[tuple[str, str, str]], annotators: list[str]) -> dict[str, Any]:
    if len(annotators) < 2:
        return {}
    by: dict[str, dict[str, str]] = {a: {} for a in annotators}
    for pid, ann, lab in human:
        by[ann][pid] = lab
    rows = []
    for a1, a2 in combinations(annotators, 2):
        common = sorted(set(by[a1]) & set(by[a2]))
        stats = agreement([by[a1][p] for p in common], [by[a2][p] for p in common])
        rows.append({"annotator_1": a1, "annotator_2": a2, **stats.as_dict()})
    units: dict[str, list[str]] = {}
    for pid, _ann, lab in human:
        units.setdefault(pid, []).append(lab)
    alpha = krippendorff_alpha_nominal(list(units.values()))
    return {"pairs": rows, "krippendorff_alpha": nan_to_none(alpha), "units": sum(len(u) > 1 for u in units.values())}


def import_review(label_paths: Sequence[str | Path], key_path: str | Path, *, judge_runs: Sequence[str | Path] = (),
                  pairwise: Sequence[str | Path] = (), seed: int = 0) -> dict[str, Any]:
    key = load_key(key_path)
    labels: list[HumanLabel] = load_labels(label_paths, key, key_path)
    pairs = {p.pair_id: p for p in key.pairs}
    annotators = sorted({lab.annotator for lab in labels})
    human = [(lab.pair_id, lab.annotator, unblind(lab.label, pairs[lab.pair_id])) for lab in labels]
    votes: dict[str, list[str]] = {}
    for pid, _ann, vote in human:
        votes.setdefault(pid, []).append(vote)
    aspect_votes: dict[str, dict[str, list[str]]] = {}
    for lab in labels:
        for aspect, side in lab.aspects.items():
            aspect_votes.setdefault(aspect, {}).setdefault(lab.pair_id, []).append(unblind(side, pairs[lab.pair_id]))
    sources = {**from_pairwise(pairwise, key.pairs), **from_scores(judge_runs, key.pairs)}
    return {
        "key": str(key_path), "labels": [str(p) for p in label_paths], "pairs": len(key.pairs),
        "labelled_pairs": len(votes), "labels_count": len(labels), "annotators": annotators,
        "win_rates": _win_rates(votes, pairs, seed),
        "aspect_win_rates": {a: _win_rates(v, pairs, seed) for a, v in sorted(aspect_votes.items())},
        "judge_agreement": [row for src, verdicts in sources.items()
                            for row in _judge_agreement(src, verdicts, human, annotators)],
        "inter_annotator": _inter_annotator(human, annotators),
    }
