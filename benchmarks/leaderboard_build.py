"""Benchmark: build the leaderboard of 50 models x 1,000 items from synthetic judgments.

Writes 50 run directories (generations.jsonl + judgments.jsonl, 800 regular + 200 safety items,
about 2% N/A and 1% parse errors) into a temporary folder, then builds the board in a fresh
child process: load every record, score, 1,000 bootstrap resamples, dataset breakdown,
diagnostics, and render JSON, CSV and Markdown. Prints the wall time of the build and two
memory figures of the child: peak resident set size (getrusage ru_maxrss: the whole process,
interpreter and imports included) and the peak of Python allocations during the build
(tracemalloc, which numpy reports to). Targets: <= 5 s and <= 500 MB.

    python benchmarks/leaderboard_build.py [--models 50] [--items 1000] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REGULAR = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
WORDS = ["the", "model", "answers", "a", "question", "about", "data", "with", "care", "and", "some", "detail",
         "while", "the", "judge", "reads", "it"]
DATASETS = ["alpaca_eval", "lima", "mt", "red_team", "MaliciousInstruct"]


def write_runs(root: Path, models: int, items: int, seed: int = 1) -> list[Path]:
    rnd = random.Random(seed)
    n_safety = items // 5
    dirs = []
    for m in range(models):
        name = f"model-{m:02d}"
        d = root / name
        d.mkdir(parents=True)
        skill = rnd.uniform(-0.8, 0.8)
        with open(d / "generations.jsonl", "w", encoding="utf-8") as g, \
                open(d / "judgments.jsonl", "w", encoding="utf-8") as j:
            for i in range(items):
                safety = i >= items - n_safety
                cat = "safety" if safety else "regular"
                words = rnd.randint(20, 400)
                output = " ".join(rnd.choice(WORDS) for _ in range(words))
                if safety and rnd.random() < 0.6:
                    output = "I'm sorry, but I can't help with that. " + output[:200]
                g.write(json.dumps({"id": i, "instruction": f"instruction {i}", "output": output, "generator": name,
                                    "dataset": DATASETS[3 + i % 2] if safety else DATASETS[i % 3],
                                    "category": cat}) + "\n")
                aspects = ["safety"] if safety else REGULAR
                status = "parse_error" if rnd.random() < 0.01 else "ok"
                scores: dict[str, float | None] = {}
                for a in aspects:
                    if status != "ok" or rnd.random() < 0.02:
                        scores[a] = None
                    else:
                        scores[a] = float(min(5, max(1, round(3.6 + skill + rnd.gauss(0, 1)))))
                j.write(json.dumps({
                    "id": i, "judge": "openai:judge-model", "generator": name, "category": cat,
                    "template": {"name": "score_safety" if safety else "score_multi", "hash": "abc123def456"},
                    "status": status, "scores": scores,
                    "rationales": {a: "The answer is fine on this aspect." for a in aspects if scores[a] is not None},
                    "raw": "{...}"}) + "\n")
        dirs.append(d)
    return dirs


def child(run_dirs: list[str], bootstrap: int, traced: bool) -> None:
    import tracemalloc

    if traced:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    from justeval.board.build import build_leaderboard
    from justeval.board.render import to_csv, to_markdown
    from justeval.board.schema import dumps
    from justeval.board.tables import Settings

    built = build_leaderboard(run_dirs, settings=Settings(bootstrap=bootstrap), by=["dataset"])
    t_build = time.perf_counter() - t0
    texts = [dumps(built.board), to_csv(built.board), to_markdown(built.board)]
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    _, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(json.dumps({"wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "build_s": round(t_build, 3),
                      "peak_rss_mb": round(rss, 1),
                      "peak_traced_mb": round(peak / 2**20, 1), "models": len(built.board.rows),
                      "output_chars": sum(len(t) for t in texts)}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    ap.add_argument("--traced", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child is not None:
        child(args.child, args.bootstrap, args.traced)
        return
    with tempfile.TemporaryDirectory(prefix="justeval-bench-") as tmp:
        t0 = time.perf_counter()
        dirs = write_runs(Path(tmp), args.models, args.items)
        size = sum(f.stat().st_size for d in dirs for f in d.iterdir()) / 2**20
        print(f"synthetic data: {args.models} models x {args.items} items, {size:.1f} MB on disk, "
              f"written in {time.perf_counter() - t0:.1f} s")
        res = _run_child(dirs, args.bootstrap, traced=False)
        traced = _run_child(dirs, args.bootstrap, traced=True)
    print(f"build (load + score + {args.bootstrap} bootstrap resamples + breakdown + diagnostics): "
          f"{res['build_s']:.2f} s; with JSON/CSV/Markdown rendering: {res['wall_s']:.2f} s wall, "
          f"{res['cpu_s']:.2f} s CPU (target <= 5 s)")
    print(f"peak memory: {res['peak_rss_mb']:.0f} MB resident (getrusage ru_maxrss of the child process, "
          f"interpreter and imports included; target <= 500 MB)")
    print(f"peak Python allocations during the build: {traced['peak_traced_mb']:.0f} MB (tracemalloc, separate "
          f"run, since tracing slows it to {traced['wall_s']:.1f} s)")


def _run_child(dirs: list[Path], bootstrap: int, traced: bool) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--bootstrap", str(bootstrap), *(["--traced"] if traced else []),
           "--child", *map(str, dirs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit(proc.stderr)
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
