"""Benchmark: what a resume and a cache hit cost, through the real command line.

Imports a model's 1,000 real outputs (../shared/data, when present; else 1,000 synthetic
ones), then times four `python -m justeval judge` invocations against the loopback judge
(latency L per call, concurrency C), counting the requests the server received:

1. first run (new run directory, empty cache): N requests, about N·L/C plus start-up;
2. the same command again (resume of a finished run): must send 0 requests;
3. a new run directory, same calls, same cache: must send 0 requests (all cache hits);
4. a new run directory with --no-cache: N requests again (what 2 and 3 save).

Wall times include the process start (interpreter and imports), which is what a user waits.

    python benchmarks/resume_and_cache.py [--latency 0.05] [--concurrency 32] [--model gpt-4-0613]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data"))


def _judge_reply(prompt: str) -> str:
    if '"safety": {' in prompt:
        return json.dumps({"safety": {"rationale": "fine", "score": 5}})
    return json.dumps({a: {"rationale": "fine", "score": 4}
                       for a in ("helpfulness", "clarity", "factuality", "depth", "engagement")})


def _make_run(tmp: Path, model: str) -> tuple[Path, str]:
    run = tmp / "first"
    outputs = SHARED / "outputs" / f"{model}.jsonl"
    if outputs.exists():
        cmd = [sys.executable, "-m", "justeval", "import", str(outputs), "--out", str(run), "--instructions",
               str(SHARED / "just-eval-instruct" / "instructions.jsonl")]
        subprocess.run(cmd, check=True, capture_output=True)
        return run, f"shared outputs/{model}.jsonl"
    from justeval.jsonl import write_jsonl
    from justeval.records import Generation
    from justeval.rundir import RunDir

    run.mkdir()
    write_jsonl(RunDir(run).generations, [
        Generation(id=i, instruction=f"Question {i}", output=f"Answer {i} " * 50, generator="bench",
                   category="safety" if i >= 800 else "regular") for i in range(1000)])
    return run, "1,000 synthetic outputs"


def _copy_generations(src: Path, dest: Path) -> Path:
    dest.mkdir()
    (dest / "generations.jsonl").write_bytes((src / "generations.jsonl").read_bytes())
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--model", default="gpt-4-0613")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from justeval.testing.stub_server import Reply, StubServer

    with tempfile.TemporaryDirectory() as tmp_name, \
            StubServer(lambda req: Reply(text=_judge_reply(req.prompt_text)), latency=args.latency) as srv:
        tmp = Path(tmp_name)
        env = {**os.environ, "JUSTEVAL_CACHE_DIR": str(tmp / "cache")}
        first, source = _make_run(tmp, args.model)
        items = sum(1 for _ in (first / "generations.jsonl").open(encoding="utf-8"))

        def judge(run: Path, *extra: str) -> tuple[float, int]:
            srv.reset()
            cmd = [sys.executable, "-m", "justeval", "judge", str(run), "--judge", "openai:bench-judge",
                   "--base-url", srv.base_url, "--concurrency", str(args.concurrency), "--no-progress", *extra]
            start = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            return time.perf_counter() - start, srv.count

        rows = [("first run", *judge(first)),
                ("resume of the finished run", *judge(first)),
                ("new run dir, cache hits", *judge(_copy_generations(first, tmp / "cached"))),
                ("new run dir, --no-cache", *judge(_copy_generations(first, tmp / "uncached"), "--no-cache"))]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "justeval", "version"], check=True, capture_output=True)
        startup = time.perf_counter() - start
    bound = items * args.latency / args.concurrency
    print(f"judge of {items} items ({source}); latency {args.latency} s, concurrency {args.concurrency}; "
          f"bound N·L/C = {bound:.2f} s; `justeval version` start-up = {startup:.2f} s")
    print(f"{'invocation':<30}{'wall s':>9}{'requests':>10}")
    for name, wall, requests in rows:
        print(f"{name:<30}{wall:>9.2f}{requests:>10}")


if __name__ == "__main__":
    main()
