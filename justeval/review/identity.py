"""Export identity: a short fingerprint of what an export showed (runs, seed, stratification,
and every pair with a digest of its texts). It is stored in the key (`export_id`), in every
exported row or task (`export_id`), and at the end of each pair id there (`p0001-<export_id>`;
the key lists the pair as `p0001`), so labels from one export cannot be unblinded with the key
of another. A bare `p0001` in a label file means the key's own pair (hand-made or older files)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

from justeval.errors import InputError
from justeval.review.records import HumanLabel, KeyPair, ReviewKey

_SUFFIX = re.compile(r"^(.+)-([0-9a-f]{8})$")


def _sha(obj: object, size: int) -> str:
    text = json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def shown_digest(instruction: str, left: str, right: str) -> str:
    """Digest of the texts shown for a pair; whitespace-insensitive, so a spreadsheet that
    rewrites line ends does not count as an edit."""
    return _sha([" ".join(t.split()) for t in (instruction, left, right)], 12)


def fingerprint(seed: int, stratify: str | None, runs: Sequence[str], pairs: Sequence[KeyPair]) -> str:
    """8 hex digits over the runs, seed, stratification and the sample (bare pair ids)."""
    sample = [[p.pair_id, str(p.id), p.model_a, p.model_b, p.left, p.right, p.shown_digest] for p in pairs]
    return _sha({"runs": sorted(runs), "seed": seed, "stratify": stratify, "pairs": sample}, 8)


def row_id(pair_id: str, export_id: str) -> str:
    """The pair id as exported: the key's id with the export id appended."""
    return f"{pair_id}-{export_id}"


def split_id(pair_id: str) -> tuple[str, str | None]:
    """`p0001-1a2b3c4d` -> (`p0001`, `1a2b3c4d`); a bare id -> (id, None)."""
    m = _SUFFIX.match(pair_id)
    return (m.group(1), m.group(2)) if m else (pair_id, None)


def resolve(lab: HumanLabel, key: ReviewKey, key_path: str | Path, pairs: dict[str, KeyPair]) -> str:
    """The key's pair id for a label, checking it comes from the key's export: same export id
    (from the row or the pair id), a pair of the key, and (where the row carries them) the texts
    the export showed."""
    ours = key.export_id
    bare, suffix = split_id(lab.pair_id) if ours or lab.pair_id not in pairs else (lab.pair_id, None)
    theirs = lab.export_id or suffix
    if theirs is not None and theirs != ours:
        raise InputError(lab.source, f"labels from export {theirs}, but the key {key_path} belongs to "
                         f"{'export ' + ours if ours else 'an older export without an export id'}: "
                         "import them with the key.json exported with these pairs", record=lab.pair_id)
    pair = pairs.get(bare)
    if pair is None:
        raise InputError(lab.source, f"pair id {lab.pair_id!r} is not in the key {key_path}", record=lab.pair_id)
    if lab.shown_digest and pair.shown_digest and lab.shown_digest != pair.shown_digest:
        raise InputError(lab.source, f"the instruction or outputs differ from what the key {key_path} "
                         "records for this pair (edited, or from another export)", record=lab.pair_id)
    return bare
