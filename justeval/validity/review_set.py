"""A team's own labels as a labelled set: the files `import-review` reads (people's left /
right / tie choices on a blinded `export-review` sample) with the export's key.

Response 1 is the answer the annotators saw on the left, response 2 the one on the right, so a
label maps straight to the set's numbering and people's own position preference shows in the
report (`bias.human_first`). The texts come from the runs the key names, checked against the
digest the key recorded of what was shown; only pairs someone labelled are in the set.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from justeval.errors import InputError
from justeval.records import Generation, ItemId
from justeval.review.identity import shown_digest
from justeval.review.labels import load_key, load_labels
from justeval.review.records import ReviewKey
from justeval.rundir import RunDir
from justeval.validity.records import Label, LabelledPair
from justeval.validity.sets import LabelledSet, annotators_of

_SIDE: dict[str, Label] = {"left": "1", "right": "2", "tie": "tie"}


def _run_outputs(key: ReviewKey, key_path: Path) -> dict[str, dict[ItemId, Generation]]:
    out = {}
    for label, recorded in key.runs.items():
        path = Path(recorded).expanduser()
        if not path.is_dir() and not path.is_absolute():
            path = key_path.parent / recorded
        if not path.is_dir():
            raise InputError(key_path, f"run {label!r} ({recorded}) not found: the pairs' texts are read from the "
                             "runs the key names (run the command from where export-review ran)")
        out[label] = RunDir(path).ok_generations()
    return out


def load_review_set(label_paths: Sequence[str | Path], key_path: str | Path) -> LabelledSet:
    key_file = Path(key_path)
    key = load_key(key_file)
    labels = load_labels(label_paths, key, key_file)
    by_pair: dict[str, dict[str, Label]] = {}
    for lab in labels:
        by_pair.setdefault(lab.pair_id, {})[lab.annotator] = _SIDE[lab.label]
    outputs = _run_outputs(key, key_file)
    pairs = []
    for kp in key.pairs:
        if kp.pair_id not in by_pair:
            continue
        left, right = outputs[kp.left].get(kp.id), outputs[kp.right].get(kp.id)
        if left is None or right is None or left.output is None or right.output is None:
            raise InputError(key_file, f"item {kp.id} has no ok output in run {kp.left if left is None else kp.right}",
                             record=kp.pair_id)
        if kp.shown_digest and shown_digest(left.instruction, left.output, right.output) != kp.shown_digest:
            raise InputError(key_file, "the runs' texts differ from what the export showed for this pair",
                             record=kp.pair_id)
        pairs.append(LabelledPair(id=kp.pair_id, source_id=str(kp.id), instruction=left.instruction,
                                  response_1=left.output, response_2=right.output,
                                  labels=by_pair[kp.pair_id], subset=kp.category))
    name = f"review-{key.export_id}" if key.export_id else "review"
    return LabelledSet(name=name, pairs=pairs, annotators=sorted(annotators_of(pairs)),
                       sources=[str(key_file), *(str(p) for p in label_paths)])
