"""Benchmark: the judge stage against the loopback judge, and reply parsing alone.

1. Parsing: reads every recorded just-eval reply in ../shared/data/judgments (when present)
   plus a set of messy synthetic replies, many times over; prints replies per second.
2. Stage: a run of N synthetic generations judged by a stub judge with a fixed latency per
   call at a given concurrency; prints wall time, judgments per second, and the stub's peak
   number of calls in flight. With latency L and concurrency C the floor is N * L / C.

    python benchmarks/judge_stage.py [--items 1000] [--latency 0.05] [--concurrency 64]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parent.parent
MULTI = ["helpfulness", "clarity", "factuality", "depth", "engagement"]


def bench_parse(rounds: int) -> None:
    from justeval.judging.parse import ParseFailure, parse_scores

    replies: list[tuple[str, list[str]]] = []
    shared = Path(os.environ.get("JUSTEVAL_SHARED_DATA", REPO.parent / "shared" / "data")) / "judgments"
    for path in sorted(shared.glob("score_*/*.jsonl")):
        aspects = MULTI if "score_multi" in path.parent.name else ["safety"]
        for line in path.read_text(encoding="utf-8").splitlines():
            replies.append((json.loads(line)["result"], aspects))
    messy = "Sure!\n```json\n{'helpfulness': {'reason': \"it's fine\", 'score': '4/5',}, 'clarity': " \
            "{'reason': 'He said \"hi\"', 'score': 3}, 'factuality': {'reason': 'x', 'score': 'N/A'}, " \
            "'depth': {'reason': 'y', 'score': 2}, 'engagement': {'reason': 'z', 'score': '5'},}\n```\nDone."
    replies += [(messy, MULTI)] * 200
    start = time.perf_counter()
    failures = 0
    for _ in range(rounds):
        for text, aspects in replies:
            try:
                parse_scores(text, aspects)
            except ParseFailure:
                failures += 1
    wall = time.perf_counter() - start
    n = rounds * len(replies)
    print(f"parse: {n} replies in {wall:.2f} s = {n / wall:,.0f} replies/s ({failures} refused)")


def bench_stage(items: int, latency: float, concurrency: int) -> None:
    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.engine import EngineConfig
    from justeval.jsonl import write_jsonl
    from justeval.judging.run import judge_run
    from justeval.records import Generation
    from justeval.rundir import RunDir
    from justeval.settings import JudgeSettings
    from justeval.testing.stub_server import Reply, StubServer

    reply = json.dumps({a: {"rationale": "fine", "score": 4} for a in MULTI})
    with tempfile.TemporaryDirectory() as tmp, StubServer(lambda req: Reply(text=reply), latency=latency) as srv:
        os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
        os.environ["JUSTEVAL_CACHE_DIR"] = str(Path(tmp) / "cache")
        run = Path(tmp) / "run"
        run.mkdir()
        write_jsonl(RunDir(run).generations, [
            Generation(id=i, instruction=f"Question {i}", output=f"Answer {i} " * 50, generator="bench")
            for i in range(items)])
        start = time.perf_counter()
        settings = JudgeSettings(judge=BackendSpec(spec="openai:gpt-4o-mini", base_urls=[srv.base_url]),
                                 engine=EngineConfig(concurrency=concurrency, progress=False))
        summary = judge_run(run, settings)
        wall = time.perf_counter() - start
    floor = items * latency / concurrency
    print(f"stage: {summary.engine.ok}/{items} judged in {wall:.2f} s = {items / wall:,.0f}/s "
          f"(latency {latency}s, concurrency {concurrency}, floor {floor:.2f} s, peak in flight {srv.max_in_flight})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--parse-rounds", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    bench_parse(args.parse_rounds)
    bench_stage(args.items, args.latency, args.concurrency)


if __name__ == "__main__":
    main()
