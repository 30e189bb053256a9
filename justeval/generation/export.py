"""`justeval export`: a run's outputs in the formats other tools read.

`generations.jsonl` is append-only (a retried item adds a line) and keeps failed calls; the
original just-eval scripts and AlpacaEval instead read one JSON list with one finished output
per item. Export writes the latest ok output of each item, in id order, and says how many items
had none.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from justeval.errors import UsageError
from justeval.jsonl import atomic_output
from justeval.records import Generation, id_order
from justeval.rundir import RunDir

FORMATS = ("just-eval", "alpaca-eval", "jsonl")


@dataclass
class ExportSummary:
    path: Path
    written: int
    left_out: int  # items whose latest generation is an error


def _just_eval(g: Generation) -> dict[str, Any]:
    return {"id": g.id, "instruction": g.instruction, "dataset": g.dataset, "category": g.category,
            "output": g.output, "generator": g.generator}


def _alpaca_eval(g: Generation) -> dict[str, Any]:
    return {"instruction": g.instruction, "output": g.output, "generator": g.generator, "dataset": g.dataset}


def export_outputs(run_dir: str | Path, out: str | Path, fmt: str = "just-eval") -> ExportSummary:
    """Write the latest ok output of every item of `run_dir` to `out` in format `fmt`."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rd = RunDir(run_dir)
    rd.load_generations()  # the one-line error for a folder without generations
    latest = rd.latest_generations()
    ordered = sorted(latest.values(), key=lambda g: id_order(g.id))
    ok = [g for g in ordered if g.status == "ok" and g.output is not None]
    with atomic_output(out) as fh:
        if fmt == "jsonl":
            fh.writelines(json.dumps(_just_eval(g), ensure_ascii=False) + "\n" for g in ok)
        else:
            row = _just_eval if fmt == "just-eval" else _alpaca_eval
            json.dump([row(g) for g in ok], fh, ensure_ascii=False, indent=2)
            fh.write("\n")
    return ExportSummary(path=Path(out), written=len(ok), left_out=len(latest) - len(ok))
