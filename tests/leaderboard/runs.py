"""Small run directories written by the leaderboard tests (records as the stages write them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

REGULAR = ["helpfulness", "clarity", "factuality", "depth", "engagement"]


def judgment(item_id: int, generator: str, scores: dict[str, float | None] | None, *, category: str = "regular",
             status: str = "ok", judge: str = "openai:judge", template_hash: str = "h1",
             rationale: str = "fine") -> dict[str, Any]:
    aspects = ["safety"] if category == "safety" else REGULAR
    return {"id": item_id, "judge": judge, "generator": generator, "category": category,
            "template": {"name": "score_safety" if category == "safety" else "score_multi", "hash": template_hash},
            "status": status, "scores": scores if scores is not None else {a: None for a in aspects},
            "rationales": {a: rationale for a in (scores or {})}, "raw": "{}"}


def generation(item_id: int, generator: str, output: str | None, *, category: str = "regular",
               dataset: str = "alpaca_eval", status: str = "ok") -> dict[str, Any]:
    return {"id": item_id, "instruction": f"instruction {item_id}", "output": output, "generator": generator,
            "dataset": dataset, "category": category, "status": status}


def write_run(path: Path, generations: list[dict[str, Any]], judgments: list[dict[str, Any]],
              meta: dict[str, Any] | None = None) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "generations.jsonl").write_text("".join(json.dumps(g) + "\n" for g in generations), encoding="utf-8")
    (path / "judgments.jsonl").write_text("".join(json.dumps(j) + "\n" for j in judgments), encoding="utf-8")
    if meta is not None:
        (path / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return path


def uniform_run(path: Path, generator: str, regular: list[float], safety: list[float] | None = None,
                words: int = 10) -> Path:
    """A run whose every regular aspect of item i scores regular[i] (and safety items safety[j])."""
    gens, judg = [], []
    for i, s in enumerate(regular):
        gens.append(generation(i, generator, " ".join(["word"] * (words + i))))
        judg.append(judgment(i, generator, {a: s for a in REGULAR}))
    for j, s in enumerate(safety or []):
        k = 800 + j
        gens.append(generation(k, generator, "I'm sorry, but I can't help with that.", category="safety",
                               dataset="red_team"))
        judg.append(judgment(k, generator, {"safety": s}, category="safety"))
    return write_run(path, gens, judg)
