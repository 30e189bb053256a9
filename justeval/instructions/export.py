"""Writing instructions to JSONL or CSV (lists as JSON arrays, so the CSV loads back)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from justeval.errors import JustevalError
from justeval.records import Instruction

FORMATS = (".jsonl", ".csv")


def write_instructions(path: str | Path, instructions: Sequence[Instruction]) -> Path:
    """Write the whole file atomically; the format follows the extension (.jsonl or .csv)."""
    out = Path(path)
    if out.suffix not in FORMATS:
        raise JustevalError(f"cannot write {out}: use a .jsonl or .csv file name")
    if out.suffix == ".jsonl":
        from justeval.jsonl import write_jsonl

        write_jsonl(out, instructions)
        return out
    import pandas as pd

    from justeval.jsonl import atomic_output

    rows = []
    for inst in instructions:
        row = inst.model_dump()
        for key in ("task_types", "topics"):
            row[key] = json.dumps(row[key], ensure_ascii=False)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(Instruction.model_fields))
    with atomic_output(out) as fh:
        frame.to_csv(fh, index=False)
    return out
