"""`justeval export`: a run's outputs in the formats other tools read.

`generations.jsonl` is append-only (a retried item adds a line) and keeps failed calls; the
original just-eval scripts and AlpacaEval instead read one JSON list with one finished output
per item. Export writes the latest ok output of each item and says how many items had none.

`just-eval` and `jsonl` hold every item, in id order. `alpaca-eval` is AlpacaEval's
`model_outputs.json`, which AlpacaEval merges with its reference outputs on the instruction
text: it holds only the items of AlpacaEval's own 805-instruction set, once each, in that set's
order, with the set's exact text and subset. The just-eval set holds 420 of them (and LIMA and
MT-bench items with the same text as some, which must not be written twice), so the set is
needed: it is fetched from its public home (cached), or read from a local copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from justeval.errors import InputError, UsageError
from justeval.jsonl import atomic_output, parse_json
from justeval.records import Generation, id_order
from justeval.rundir import RunDir

FORMATS = ("just-eval", "alpaca-eval", "jsonl")
#: AlpacaEval's evaluation set (instruction, dataset), in its published order
ALPACA_EVAL_URL = "https://huggingface.co/datasets/tatsu-lab/alpaca_eval/resolve/main/alpaca_eval.json"


@dataclass
class ExportSummary:
    path: Path
    written: int
    left_out: int  # items whose latest generation is an error
    not_in_benchmark: int = 0  # ok items the target benchmark does not have (alpaca-eval)
    benchmark_missing: int = 0  # the benchmark's items this run has no ok output for (alpaca-eval)


@dataclass(frozen=True)
class BenchmarkItem:
    instruction: str
    dataset: str | None


def _just_eval(g: Generation) -> dict[str, Any]:
    return {"id": g.id, "instruction": g.instruction, "dataset": g.dataset, "category": g.category,
            "output": g.output, "generator": g.generator}


def alpaca_eval_set(source: str | Path | None = None) -> list[BenchmarkItem]:
    """AlpacaEval's instructions in its order: from `source` (a local alpaca_eval.json or a
    URL), else fetched from ALPACA_EVAL_URL."""
    from justeval.fetch import fetch_json, is_url

    ref = str(source) if source is not None else ALPACA_EVAL_URL
    where: str | Path
    if is_url(ref):
        data = fetch_json(ref, what="AlpacaEval instruction set", cache=True,
                          hint="download alpaca_eval.json and pass it with --alpaca-eval-set FILE")
        where = ref
    else:
        where = Path(ref).expanduser()
        try:
            raw = where.read_bytes()
        except OSError as exc:
            raise InputError(where, f"cannot read the AlpacaEval set: {exc.strerror or exc}") from exc
        data = parse_json(raw, where)
    if not isinstance(data, list) or not data:
        raise InputError(where, "expected AlpacaEval's JSON list of {instruction, dataset}")
    items = []
    for n, row in enumerate(data):
        if not isinstance(row, dict) or not isinstance(row.get("instruction"), str):
            raise InputError(where, "expected an object with an 'instruction' string", record=n)
        dataset = row.get("dataset")
        items.append(BenchmarkItem(row["instruction"], dataset if isinstance(dataset, str) else None))
    return items


def alpaca_eval_rows(ok: list[Generation], benchmark: list[BenchmarkItem]) -> list[dict[str, Any]]:
    """One row per benchmark item the run answered, in the benchmark's order, each output used
    once: matched on the instruction text and, where the run holds that text more than once,
    the benchmark's subset (`dataset`)."""
    by_text: dict[str, list[Generation]] = {}
    for g in ok:
        by_text.setdefault(g.instruction.strip(), []).append(g)
    used: set[Any] = set()
    rows = []
    for item in benchmark:
        found = [g for g in by_text.get(item.instruction.strip(), []) if g.id not in used]
        if not found:
            continue
        same = [g for g in found if g.dataset == item.dataset]
        g = (same or found)[0]
        used.add(g.id)
        rows.append({"instruction": item.instruction, "output": g.output, "generator": g.generator,
                     "dataset": item.dataset if item.dataset is not None else g.dataset})
    return rows


def export_outputs(run_dir: str | Path, out: str | Path, fmt: str = "just-eval", *,
                   alpaca_eval_set_source: str | Path | None = None) -> ExportSummary:
    """Write the latest ok output of every item of `run_dir` to `out` in format `fmt`
    (`alpaca-eval`: of every AlpacaEval item; `alpaca_eval_set_source` is its set, see
    `alpaca_eval_set`)."""
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    rd = RunDir(run_dir)
    rd.load_generations()  # the one-line error for a folder without generations
    latest = rd.latest_generations()
    ordered = sorted(latest.values(), key=lambda g: id_order(g.id))
    ok = [g for g in ordered if g.status == "ok" and g.output is not None]
    if fmt == "alpaca-eval":
        benchmark = alpaca_eval_set(alpaca_eval_set_source)
        rows = alpaca_eval_rows(ok, benchmark)
        with atomic_output(out) as fh:
            json.dump(rows, fh, ensure_ascii=False, indent=2)
            fh.write("\n")
        return ExportSummary(path=Path(out), written=len(rows), left_out=len(latest) - len(ok),
                             not_in_benchmark=len(ok) - len(rows), benchmark_missing=len(benchmark) - len(rows))
    with atomic_output(out) as fh:
        if fmt == "jsonl":
            fh.writelines(json.dumps(_just_eval(g), ensure_ascii=False) + "\n" for g in ok)
        else:
            json.dump([_just_eval(g) for g in ok], fh, ensure_ascii=False, indent=2)
            fh.write("\n")
    return ExportSummary(path=Path(out), written=len(ok), left_out=len(latest) - len(ok))
