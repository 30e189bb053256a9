"""Loading the runs that take part in a comparison: each run's usable outputs and a model
label that tells the runs apart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from justeval.errors import InputError, UsageError
from justeval.jsonl import iter_json_lines
from justeval.records import Generation, ItemId
from justeval.rundir import RunDir


@dataclass
class RunOutputs:
    path: Path
    label: str                      # the model name shown in reports (the generator)
    outputs: dict[ItemId, Generation]  # latest ok generation per id


def latest_ok(rd: RunDir) -> dict[ItemId, Generation]:
    """The last line per id wins; only `ok` generations with an output are kept."""
    if not rd.generations.exists():
        rd.load_generations()  # raises the one-line "no generations" error
    return rd.ok_generations()


def load_runs(paths: Sequence[str | Path]) -> list[RunOutputs]:
    """Each run labelled by its generator; if two runs share a generator name, by folder name."""
    runs = []
    for p in paths:
        rd = RunDir(p)
        outputs = latest_ok(rd)
        if not outputs:
            raise InputError(rd.generations, "no ok generations in this run")
        label = Counter(g.generator for g in outputs.values()).most_common(1)[0][0]
        runs.append(RunOutputs(Path(p), label, outputs))
    labels = [r.label for r in runs]
    if len(set(labels)) < len(labels):
        for r in runs:
            r.label = r.path.resolve().name
        if len({r.label for r in runs}) < len(runs):
            raise UsageError("runs cannot be told apart: their generators and folder names repeat")
    return runs


def task_types(runs: Sequence[RunOutputs], instructions: Path | None) -> dict[ItemId, list[str]]:
    """Task types per item: from an instructions file if given, else from `instructions.jsonl`
    in a run, else from `task_types` fields kept in the generation lines. Raises a one-line
    error when none of the runs' items has a task type (stratifying would put every pair in
    one "(none)" stratum)."""
    from justeval.jsonl import read_records
    from justeval.records import Instruction

    sources = [instructions] if instructions else [r.path / "instructions.jsonl" for r in runs]
    found: dict[ItemId, list[str]] = {}
    source = next((src for src in sources if src is not None and src.is_file()), None)
    if instructions is not None and source is None:
        raise InputError(instructions, "instructions file not found")
    if source is not None:
        found = {i.id: i.task_types for i in read_records(source, Instruction)}
    else:
        for r in runs:
            for _, obj in iter_json_lines(RunDir(r.path).generations):
                tasks = obj.get("task_types")
                if isinstance(tasks, list) and "id" in obj:
                    found.setdefault(Generation.model_validate(obj).id, [str(t) for t in tasks])
    if not any(found.get(i) for r in runs for i in r.outputs):
        if source is not None:
            hint = "" if instructions else "; pass --instructions FILE with task_types"
            raise InputError(source, f"no task_types for the items of these runs, so --stratify task has "
                             f"nothing to stratify on{hint}")
        raise UsageError("--stratify task: the runs carry no task types; pass --instructions FILE "
                         "whose records have task_types")
    return found
