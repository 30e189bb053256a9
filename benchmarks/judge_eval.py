"""Benchmark: judge-eval of the 999 PandaLM pairs against the loopback judge.

Pairwise mode asks every pair in both orders (2 x 999 calls; the cache is off unless `--cache`,
which pays identical prompts once). With a fixed latency L per call
and concurrency C the bound is ceil(2N / C) * L (16.0 s at L = 0.5 s, C = 64). Prints the wall
time of the judging pass against that bound, the stub's peak calls in flight, the wall time of
a resumed run (nothing to ask), and of building the report from the records alone.

Reads ../shared/data/human-labels/PandaLM/data/testset-v1.json when present; otherwise writes
999 synthetic pairs of the same layout.

    python benchmarks/judge_eval.py [--pairs 999] [--latency 0.5] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data"))


def labelled_set(tmp: Path, pairs: int, prefix: str = "Question") -> tuple[Path, str]:
    real = SHARED / "human-labels" / "PandaLM" / "data" / "testset-v1.json"
    if real.is_file() and pairs == 999:
        return real, "PandaLM testset-v1 (shared data)"
    rows = [{"idx": i, "instruction": f"{prefix} {i}", "input": "", "response1": f"Answer one {i} " * 20,
             "response2": f"Answer two {i} " * 20, "annotator1": 1 + i % 2, "annotator2": 1 + i % 2,
             "annotator3": i % 3} for i in range(pairs)]
    path = tmp / "testset-v1.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path, f"{pairs} synthetic pairs"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=999)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--cache", action="store_true", help="use the reply cache (identical prompts paid once: "
                        "some PandaLM pairs repeat, so fewer than 2 x 999 calls are sent)")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))

    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.config import EngineConfig
    from justeval.testing.stub_server import Reply, StubServer
    from justeval.validity import JudgeEvalSettings, judge_eval

    reply = Reply(text=json.dumps({"rationale": "the first is clearer", "preference": "1"}))
    with tempfile.TemporaryDirectory() as tmp, StubServer(lambda req: reply, latency=args.latency) as srv:
        os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
        os.environ["JUSTEVAL_CACHE_DIR"] = str(Path(tmp) / "cache")
        path, what = labelled_set(Path(tmp), args.pairs)
        settings = JudgeEvalSettings(
            set=[str(path)], judges=[BackendSpec(spec="openai:bench-judge", base_urls=[srv.base_url])],
            engine=EngineConfig(concurrency=args.concurrency, progress=False, max_retries=0, cache=args.cache))
        # warm up (imports of the client and scikit-learn, a process pays them once) on 2 other pairs
        warm = Path(tmp) / "warm"
        warm.mkdir()
        warm_set, _ = labelled_set(warm, 2, prefix="Warm-up")
        judge_eval(settings.model_copy(update={"set": [str(warm_set)]}), warm / "out")
        srv.reset()
        out = Path(tmp) / "out"
        start = time.perf_counter()
        result = judge_eval(settings, out)
        wall = time.perf_counter() - start
        calls = srv.count
        engine_wall = result.passes[0].wall_s
        report = result.reports[0]
        start = time.perf_counter()
        judge_eval(settings, out)
        resumed = time.perf_counter() - start
        again = settings.model_copy(update={"judges": [], "verdicts": [str(out / "verdicts.jsonl")]})
        start = time.perf_counter()
        judge_eval(again, None)
        rebuilt = time.perf_counter() - start
    bound = math.ceil(calls / args.concurrency) * args.latency
    ratio = f"{wall / bound:.2f}x the bound" if bound > 0 else "no latency"
    print(f"judge-eval: {report.n} pairs of {what}, {calls} calls (both orders) in {wall:.2f} s "
          f"(of which the engine pass {engine_wall:.2f} s; the rest is reading the set, building the requests and "
          f"the report with its bootstrap intervals); bound ceil({calls}/{args.concurrency}) x {args.latency} s = "
          f"{bound:.2f} s ({ratio}); peak in flight {srv.max_in_flight}")
    print(f"resumed run: {srv.count - calls} calls, {resumed:.2f} s (settled calls are not asked again, cache or "
          f"not); report from the records alone "
          f"(--verdicts verdicts.jsonl): {rebuilt:.2f} s")


if __name__ == "__main__":
    main()
