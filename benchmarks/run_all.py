"""Run every benchmark with its default settings, show each one's output, and end with a
summary: the machine, the exact command of each benchmark, its wall time and exit status.

    python benchmarks/run_all.py            # all of them (a few minutes on 2 cores)
    python benchmarks/run_all.py --quick    # smaller sizes, for a smoke check
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

FULL = [
    ["throughput.py"],
    ["judge_stage.py"],
    ["judge_stage.py", "--latency", "0.5", "--parse-rounds", "1"],
    ["resume_and_cache.py"],
    ["leaderboard_build.py"],
    ["startup.py"],
    ["memory.py"],
    ["page_load.py"],
    ["judge_eval.py"],
    ["token_shift.py"],
    ["icl_selection.py"],
    ["fleet.py"],
    ["batch.py"],
    ["fail_fast.py"],
]
QUICK = [
    ["throughput.py", "-n", "256", "-l", "0.5", "--overhead-requests", "300"],  # the bound must dwarf start-up
    ["judge_stage.py", "--items", "200", "--parse-rounds", "1"],
    ["resume_and_cache.py", "--latency", "0.01"],
    ["leaderboard_build.py", "--models", "5", "--bootstrap", "200"],
    ["startup.py", "--repeat", "3", "--items", "200"],
    ["memory.py", "--items", "100", "--bootstrap", "200"],
    ["page_load.py", "--models", "5", "--items", "200", "--repeat", "1"],
    ["judge_eval.py", "--pairs", "200", "--latency", "0.05"],
    ["token_shift.py", "--outputs", "4", "--tokens", "64"],
    ["icl_selection.py"],
    ["fleet.py", "-n", "400", "-l", "0.1"],
    ["batch.py", "--items", "200", "--processing-s", "0.5", "--latency", "0.05"],
    ["fail_fast.py", "--items", "200"],
]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    args = parser.parse_args()
    results = []
    for script, *script_args in QUICK if args.quick else FULL:
        cmd = [sys.executable, str(HERE / script), *script_args]
        shown = " ".join(["python", f"benchmarks/{script}", *script_args])
        print(f"\n=== {shown}", flush=True)
        start = time.perf_counter()
        code = subprocess.run(cmd, check=False).returncode
        results.append((shown, time.perf_counter() - start, code))
    print(f"\n=== summary ({machine()})")
    width = max(len(r[0]) for r in results)
    print(f"{'command':<{width}}  {'wall s':>7}  exit")
    for shown, wall, code in results:
        print(f"{shown:<{width}}  {wall:>7.1f}  {code}")
    sys.exit(max(code for _, _, code in results))


if __name__ == "__main__":
    main()
