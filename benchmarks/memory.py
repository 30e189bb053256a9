"""Benchmark: peak memory of `judge`, `leaderboard` and `publish` on long outputs.

Writes a run of N items (default 1,000) whose outputs are S KB each (default 200 KB, 80% regular
and 20% safety items), judges it with `justeval judge` against the loopback judge server (in
this process; the command runs in a child), then builds its leaderboard and publishes its
page, each command in a fresh child process. Prints each command's wall time and peak
resident set size (as `/usr/bin/time` reports it: interpreter and imports included), and the
size of the published page (`index.html`) and of its side files.
Targets: judge, leaderboard and publish under 300 MB, the page under 20 MB.

    python benchmarks/memory.py [--items 1000] [--kb 200] [--bootstrap 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

TIME = "/usr/bin/time"
REGULAR = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
WORDS = ["the", "answer", "explains", "a", "careful", "step", "with", "examples", "and", "some", "detail", "while",
         "keeping", "to", "the", "question", "asked", "here"]


def write_run(run: Path, items: int, kb: int, seed: int = 3) -> None:
    rnd = random.Random(seed)
    run.mkdir(parents=True)
    n_safety = items // 5
    with open(run / "generations.jsonl", "w", encoding="utf-8") as fh:
        for i in range(items):
            safety = i >= items - n_safety
            words: list[str] = []
            size = 0
            while size < kb * 1024:
                w = rnd.choice(WORDS)
                words.append(w)
                size += len(w) + 1
            fh.write(json.dumps({"id": i, "instruction": f"Instruction {i}: explain something at length.",
                                 "output": " ".join(words), "generator": "long-writer",
                                 "dataset": "red_team" if safety else "alpaca_eval",
                                 "category": "safety" if safety else "regular", "status": "ok"}) + "\n")


def run_child(cmd: list[str], env: dict[str, str], scratch: Path) -> tuple[float, float, int]:
    """(wall s, peak RSS MB, exit code) of one child process, measured by /usr/bin/time: a
    child forked from this process would count this process's pages in its ru_maxrss."""
    report = scratch / "time.txt"
    start = time.perf_counter()
    proc = subprocess.run([TIME, "-f", "%M", "-o", str(report), *cmd], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        print(f"  {' '.join(cmd[2:])} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[-2000:]}")
    kib = int(report.read_text().strip().splitlines()[-1])
    return wall, kib / 1024, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--kb", type=int, default=200, help="size of each output in KB")
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--keep", type=Path, help="write the run and site into this folder and keep them")
    args = ap.parse_args()
    if not os.access(TIME, os.X_OK):
        sys.exit(f"{TIME} is needed to measure a child's peak memory (apt-get install time)")

    from justeval.testing.stub_server import Reply, StubServer

    reply = json.dumps({a: {"rationale": "Covers the question with care.", "score": 4} for a in [*REGULAR, "safety"]})
    with tempfile.TemporaryDirectory(prefix="justeval-mem-") as tmp, \
            StubServer(lambda req: Reply(text=reply)) as srv:
        root = args.keep or Path(tmp)
        run = root / "run"
        t0 = time.perf_counter()
        write_run(run, args.items, args.kb)
        size = (run / "generations.jsonl").stat().st_size / 2**20
        print(f"synthetic run: {args.items} items x {args.kb} KB outputs, generations.jsonl {size:.0f} MB, "
              f"written in {time.perf_counter() - t0:.1f} s")
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench-not-a-key", "JUSTEVAL_CACHE_DIR": str(root / "cache")}
        justeval = [sys.executable, "-m", "justeval"]
        results = {}
        results["judge"] = run_child([*justeval, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--base-url",
                                      srv.base_url, "--concurrency", "32", "--no-progress", "--no-cache"], env, root)
        srv.reset()  # the server keeps every request it saw: not needed any more
        results["leaderboard"] = run_child([*justeval, "leaderboard", str(run), "--bootstrap", str(args.bootstrap)],
                                           env, root)
        site = root / "site"
        results["publish"] = run_child([*justeval, "publish", str(run), "--out", str(site), "--bootstrap",
                                        str(args.bootstrap)], env, root)
        page = (site / "index.html").stat().st_size / 2**20 if (site / "index.html").exists() else float("nan")
        side = [p for p in (site / "items").glob("*.js")] if (site / "items").is_dir() else []
        side_mb = sum(p.stat().st_size for p in side) / 2**20
        biggest = max((p.stat().st_size for p in side), default=0) / 2**20
    for name, (wall, rss, code) in results.items():
        target = " (target < 300 MB)"
        print(f"{name:<12} {wall:6.1f} s  peak {rss:6.0f} MB resident{target}{'' if code == 0 else f'  EXIT {code}'}")
    print(f"page: index.html {page:.1f} MB (target < 20 MB); items/ {len(side)} side files, {side_mb:.0f} MB in all, "
          f"largest {biggest:.1f} MB")


if __name__ == "__main__":
    main()
