"""`export-review`: write a blinded sample of output pairs for people to label, plus the key
that unblinds it. Files carry no time stamps, so the same seed gives byte-identical files.
Every exported row and task carries the export id, also at the end of its pair id (see
`review.identity`)."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.errors import UsageError
from justeval.jsonl import atomic_output
from justeval.review.identity import fingerprint, row_id, shown_digest
from justeval.review.records import KeyPair, ReviewKey
from justeval.review.runs import RunOutputs, load_runs, task_types
from justeval.review.sampling import sample_pairs

FORMATS = ("csv", "jsonl", "label-studio")
KEY_FILE = "key.json"
LABEL_FILES = {"csv": "pairs.csv", "jsonl": "pairs.jsonl", "label-studio": "tasks.json"}
LS_CONFIG = "labeling_config.xml"
_ASPECT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass
class ExportResult:
    key: ReviewKey
    files: list[Path] = field(default_factory=list)
    available: int = 0


def export_review(run_paths: Sequence[str | Path], out_dir: str | Path, *, n: int, seed: int,
                  stratify: str | None = None, fmt: str = "csv", aspects: Sequence[str] = (),
                  instructions: Path | None = None) -> ExportResult:
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    for a in aspects:
        if not _ASPECT.match(a):
            raise UsageError(f"aspect name {a!r} must be a plain identifier")
    runs = load_runs(run_paths)
    tasks = task_types(runs, instructions) if stratify == "task" else {}
    pairs = sample_pairs(runs, n, seed, stratify, tasks)
    shown = [_shown(p, runs) for p in pairs]
    for p, row in zip(pairs, shown, strict=True):
        p.shown_digest = shown_digest(row["instruction"], row["left"], row["right"])
    export_id = fingerprint(seed, stratify, [r.label for r in runs], pairs)
    for row in shown:
        row.update(pair_id=row_id(row["pair_id"], export_id), export_id=export_id)
    key = ReviewKey(export_id=export_id, seed=seed, n=n, stratify=stratify, label_format=fmt, aspects=list(aspects),
                    runs={r.label: str(r.path) for r in runs}, pairs=pairs)
    out = Path(out_dir)
    files = _write_items(out, fmt, shown, list(aspects))
    with atomic_output(out / KEY_FILE) as fh:
        fh.write(key.model_dump_json(indent=2) + "\n")
    return ExportResult(key=key, files=[*files, out / KEY_FILE], available=len(pairs))


def _shown(pair: KeyPair, runs: Sequence[RunOutputs]) -> dict[str, str]:
    """What annotators see: no model names, no item id."""
    by_label = {r.label: r for r in runs}
    gen_left = by_label[pair.left].outputs[pair.id]
    return {"pair_id": pair.pair_id, "instruction": gen_left.instruction, "left": gen_left.output or "",
            "right": by_label[pair.right].outputs[pair.id].output or ""}


def _write_items(out: Path, fmt: str, shown: list[dict[str, str]], aspects: list[str]) -> list[Path]:
    path = out / LABEL_FILES[fmt]
    if fmt == "csv":
        columns = ["pair_id", "instruction", "left", "right", "label", *[f"label_{a}" for a in aspects], "annotator",
                   "export_id"]
        with atomic_output(path) as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            for row in shown:
                writer.writerow({c: row.get(c, "") for c in columns})
        return [path]
    if fmt == "jsonl":
        with atomic_output(path) as fh:
            for row in shown:
                rec: dict[str, Any] = {**row, "label": None, "annotator": None}
                if aspects:
                    rec["aspects"] = {a: None for a in aspects}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        return [path]
    with atomic_output(path) as fh:
        json.dump([{"data": row} for row in shown], fh, ensure_ascii=False, indent=2)
        fh.write("\n")
    config = out / LS_CONFIG
    with atomic_output(config) as fh:
        fh.write(labeling_config(aspects))
    return [path, config]


def labeling_config(aspects: Sequence[str]) -> str:
    """The Label Studio labeling configuration: left / right / tie, plus one optional choice
    per aspect (named `aspect_<name>`)."""
    import jinja2

    text = (Path(__file__).parent / "label_studio_config.xml.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True, keep_trailing_newline=True)
    return env.from_string(text).render(aspects=list(aspects))
