"""Benchmark: choosing in-context demonstrations for the 1,000 just-eval items from a pool that
overlaps them (the AlpacaEval and MT-bench sources, 885 examples), with the leakage guard on.

Prints, per selection mode, items per second and how many items had a demonstration left out as
a duplicate of themselves; and how many of those an exact-text check alone would have caught (the
rest are near-duplicates, such as id 760, one word off its MT-bench source).

    python benchmarks/icl_selection.py [--shots 8]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=8)
    args = parser.parse_args()

    from justeval.generation.icl import Example, ExampleSelector

    items = [json.loads(line) for line in (SHARED / "just-eval-instruct" / "instructions.jsonl").open()]
    alpaca = json.loads((SHARED / "sources" / "alpaca_eval" / "alpaca_eval.json").read_text(encoding="utf-8"))
    mt = [json.loads(line) for line in (SHARED / "sources" / "mt_bench" / "question.jsonl").open()]
    pool = [Example(r["instruction"], "answer") for r in alpaca] + [Example(r["turns"][0], "answer") for r in mt]
    print(f"{len(items)} items, pool of {len(pool)} examples (AlpacaEval + MT-bench first turns), K={args.shots}")
    for mode in ("fixed", "random", "random-fixed", "similar"):
        exact = ExampleSelector(pool, args.shots, mode, leak_threshold=1.0)
        guarded = ExampleSelector(pool, args.shots, mode)
        started = time.perf_counter()
        skipped = sum(1 for it in items if guarded.choose(it["instruction"], str(it["id"])).skipped)
        elapsed = time.perf_counter() - started
        exact_only = sum(1 for it in items if exact.choose(it["instruction"], str(it["id"])).skipped)
        print(f"{mode:>12}: {len(items) / elapsed:8.0f} items/s; items with a duplicate left out: {skipped} "
              f"(exact text alone: {exact_only})")


if __name__ == "__main__":
    main()
