"""Every benchmark script still runs to its report at a tiny size, so the figures the README
quotes can be reproduced with the code as it is now. Speed is not asserted here (the scripts
print their figures and targets); a script that crashes, or no longer covers every script in
benchmarks/, fails."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, SHARED_DATA

pytestmark = pytest.mark.slow

BENCHMARKS = REPO / "benchmarks"
#: script -> the smallest arguments that still exercise it end to end
TINY: dict[str, list[str]] = {
    "throughput.py": ["-n", "64", "-l", "0.01", "--overhead-requests", "50"],
    "judge_stage.py": ["--items", "30", "--parse-rounds", "1"],
    "resume_and_cache.py": ["--latency", "0"],
    "leaderboard_build.py": ["--models", "2", "--items", "50", "--bootstrap", "20"],
    "startup.py": ["--repeat", "1", "--items", "30"],
    "memory.py": ["--items", "20", "--kb", "4", "--bootstrap", "20"],
    "page_load.py": ["--models", "2", "--items", "20", "--repeat", "1"],
    "judge_eval.py": ["--pairs", "40", "--latency", "0.01"],
    "token_shift.py": ["--outputs", "2", "--tokens", "16", "--layers", "1", "--hidden", "32", "--vocab", "300"],
    "icl_selection.py": ["--shots", "2"],
    "fleet.py": ["-n", "80", "-k", "2", "-l", "0.02", "-c", "4"],
    "batch.py": ["--items", "20", "--processing-s", "0.1", "--latency", "0.01"],
    "token_shift_page.py": ["--models", "2", "--items", "20", "--tokens", "30"],
}
#: scripts not run here, and why
NOT_RUN = {
    "run_all.py": "runs the others",
    "fail_fast.py": "its cases wait out the breaker's fixed 10 s probe and cool-down (about a minute in all)",
}
NEEDS = {"page_load.py": "chromium", "resume_and_cache.py": "shared data", "icl_selection.py": "shared data",
         "judge_eval.py": "shared data"}


def test_every_benchmark_script_is_covered() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(TINY) | set(NOT_RUN), "add the new benchmark to TINY (or NOT_RUN, with the reason)"


@pytest.mark.parametrize("script", sorted(TINY))
def test_the_benchmark_runs_to_its_report(script: str) -> None:
    import shutil

    if NEEDS.get(script) == "chromium" and not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.skip("needs headless Chromium")
    if NEEDS.get(script) == "shared data" and not SHARED_DATA.is_dir():
        pytest.skip("needs the shared data")
    env = {**os.environ, "JUSTEVAL_SHARED_DATA": str(SHARED_DATA), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, str(BENCHMARKS / script), *TINY[script]], cwd=BENCHMARKS, env=env,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode in (0, 1), proc.stderr[-3000:]  # 1: a target not met at this size, reported
    assert proc.stdout.strip(), "the benchmark printed no figures"
