"""Small runs and label files the review tests build themselves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from justeval.jsonl import write_jsonl
from justeval.records import Generation, Judgment, TemplateRef
from justeval.rundir import RunDir

N_ITEMS = 20
SAFETY_FROM = 15  # ids 15-19 are safety items


def output_of(model: str, item: int) -> str:
    """An output that does not contain its model's name (so blinding can be checked)."""
    return f"answer {item} by {model[::-1]}"


def make_run(root: Path, model: str, *, n: int = N_ITEMS, skip: tuple[int, ...] = ()) -> Path:
    run = root / model
    run.mkdir(parents=True)
    gens = [Generation(id=i, instruction=f"question {i}", output=output_of(model, i), generator=model,
                       category="safety" if i >= SAFETY_FROM else "regular",
                       dataset="lima" if i % 2 else "koala")
            for i in range(n) if i not in skip]
    write_jsonl(RunDir(run).generations, gens)
    return run


def write_scores(run: Path, model: str, scores: dict[int, float], judge: str = "openai:judge") -> None:
    tpl = TemplateRef(name="score_multi", hash="abc")
    write_jsonl(RunDir(run).judgments_path(judge), [
        Judgment(id=i, judge=judge, generator=model, template=tpl, status="ok",
                 scores={"helpfulness": s, "clarity": s})
        for i, s in scores.items()])


def write_csv_labels(path: Path, rows: list[dict[str, str]]) -> Path:
    fields = sorted({k for r in rows for k in r}, key=lambda k: (k != "pair_id", k))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    return path


def write_jsonl_labels(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def side_for(winner: str, pair: dict[str, str]) -> str:
    """The side a person picks when `winner` (a model name or 'tie') is better."""
    if winner == "tie":
        return "tie"
    return "left" if pair["left"] == winner else "right"
