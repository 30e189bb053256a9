"""Benchmark: start-up time of the command line.

Prints the median wall time, over fresh processes, of `justeval --help` and of
`justeval judge RUN --judge openai:gpt-4o-mini --dry-run` on a run of 1,000 outputs (the real
outputs in ../shared/data/outputs when present, else synthetic ones of the same length),
and whether the dry run imported LiteLLM (it must not: prices come from LiteLLM's bundled
JSON price map and token counts from the tiktoken files in its package folder).
Targets: `--help` under 0.3 s, the dry run under 2 s.

    python benchmarks/startup.py [--repeat 5] [--items 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_run(run: Path, items: int) -> str:
    run.mkdir(parents=True)
    real = sorted((SHARED / "outputs").glob("*.jsonl")) if (SHARED / "outputs").is_dir() else []
    with open(run / "generations.jsonl", "w", encoding="utf-8") as out:
        if real:
            rows = [json.loads(line) for line in real[-1].read_text(encoding="utf-8").splitlines()][:items]
            for row in rows:
                out.write(json.dumps({k: row[k] for k in ("id", "instruction", "output", "generator", "dataset",
                                                          "category")}) + "\n")
            return f"the {len(rows)} real outputs of {real[-1].stem}"
        rnd = random.Random(0)
        words = ["the", "answer", "explains", "each", "step", "with", "care", "and", "an", "example"]
        for i in range(items):
            text = " ".join(rnd.choice(words) for _ in range(rnd.randint(60, 400)))
            out.write(json.dumps({"id": i, "instruction": f"Question {i}?", "output": text, "generator": "m",
                                  "dataset": "alpaca_eval", "category": "safety" if i >= items * 4 // 5 else "regular"})
                      + "\n")
        return f"{items} synthetic outputs"


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed: {proc.stderr[-2000:]}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--items", type=int, default=1000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="justeval-startup-") as tmp:
        run = Path(tmp) / "run"
        what = write_run(run, args.items)
        env = {**os.environ, "OPENAI_API_KEY": "sk-bench-not-a-key", "JUSTEVAL_CACHE_DIR": str(Path(tmp) / "cache")}
        justeval = [sys.executable, "-m", "justeval"]
        wall([*justeval, "--help"], env)  # the first start compiles and caches bytecode: not counted
        helps = [wall([*justeval, "--help"], env) for _ in range(args.repeat)]
        dry = [*justeval, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--dry-run"]
        dries = [wall(dry, env) for _ in range(max(3, args.repeat // 2))]
        probe = ("import sys\nfrom justeval.cli import app\n"
                 f"app({dry[3:]!r}, standalone_mode=False)\n"
                 "print('LITELLM', 'litellm' in sys.modules)")
        out = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
        imported = "yes" if "LITELLM True" in out.stdout else "no" if "LITELLM False" in out.stdout else "unknown"
    print(f"justeval --help: median {statistics.median(helps):.2f} s over {len(helps)} starts "
          f"(min {min(helps):.2f}, max {max(helps):.2f}; target < 0.3 s)")
    print(f"justeval judge RUN --judge openai:gpt-4o-mini --dry-run on {what}: median "
          f"{statistics.median(dries):.2f} s over {len(dries)} runs (min {min(dries):.2f}, max {max(dries):.2f}; "
          f"target < 2 s); LiteLLM imported: {imported}")


if __name__ == "__main__":
    main()
