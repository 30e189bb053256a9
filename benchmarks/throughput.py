"""Engine throughput against the loopback OpenAI-compatible server.

Runs N requests at latency L and concurrency C through the real Engine and openai backend
(cache and progress off) and prints the wall time and its ratio to the ideal N·L/C; then the
client overhead per request with L = 0 (wall / N), at concurrency C and at 1, with the client
process's CPU time per request beside it (on a busy machine wall also counts waiting for a core). The server runs in its
own process so it does not share the client's GIL.

    python benchmarks/throughput.py                 # targets: ratio <= 1.15, overhead <= 2 ms
    python benchmarks/throughput.py -n 200 -l 0.1 -c 16
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Iterator
from multiprocessing.connection import Connection

os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")

import justeval.engine  # noqa: F401 - registers the backends
from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import CallResult, Engine, EngineConfig, RunSummary
from justeval.engine.types import Message, Request
from justeval.testing.stub_server import StubServer


def _serve(latency: float, conn: Connection) -> None:
    with StubServer(latency=latency) as server:
        conn.send(server.base_url)
        conn.recv()  # until the parent says stop


@contextlib.contextmanager
def server_process(latency: float) -> Iterator[str]:
    """The stub server in its own process, so it does not compete with the client for the GIL."""
    parent, child = mp.Pipe()
    proc = mp.get_context("spawn").Process(target=_serve, args=(latency, child), daemon=True)
    proc.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        proc.join(10)


def run(base_url: str, n: int, concurrency: int) -> tuple[float, float, RunSummary]:
    """(wall seconds, this process's CPU seconds, summary) for n requests."""
    backend = BackendSpec(spec="openai:bench-model", base_urls=[base_url]).build()
    config = EngineConfig(concurrency=concurrency, cache=False, progress=False, max_retries=0)
    requests = [Request(key=str(i), messages=[Message(role="user", content=f"question {i}")]) for i in range(n)]
    failures: list[CallResult] = []

    def on_result(result: CallResult) -> None:
        if result.status != "ok":
            failures.append(result)

    start, cpu_start = time.perf_counter(), time.process_time()
    summary = Engine(backend, config).run_sync(requests, on_result)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if failures:
        print(f"  {len(failures)} failed, e.g. {failures[0].error}", file=sys.stderr)
    return wall, cpu, summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--requests", type=int, default=1000, help="requests per run (default 1000)")
    parser.add_argument("-l", "--latency", type=float, default=0.5, help="server latency in seconds (default 0.5)")
    parser.add_argument("-c", "--concurrency", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--overhead-requests", type=int, default=2000, help="requests for the L=0 runs")
    parser.add_argument("--max-ratio", type=float, default=1.15, help="target for wall / (N·L/C)")
    parser.add_argument("--max-overhead-ms", type=float, default=2.0, help="target client overhead per request")
    args = parser.parse_args()

    ok = True
    with server_process(args.latency) as base_url:
        run(base_url, min(50, args.requests), args.concurrency)  # warm up imports and connections
        wall, _, summary = run(base_url, args.requests, args.concurrency)
        bound = args.requests * args.latency / args.concurrency
        ratio = wall / bound if bound else float("nan")
        print(f"latency run : N={args.requests} L={args.latency * 1000:.0f} ms C={args.concurrency}: "
              f"wall {wall:.2f} s, bound N·L/C {bound:.2f} s, ratio {ratio:.3f} "
              f"(target <= {args.max_ratio}); ok {summary.ok}")
        ok &= ratio <= args.max_ratio and summary.ok == args.requests

    with server_process(0.0) as base_url:
        run(base_url, 50, args.concurrency)
        for concurrency in (args.concurrency, 1):
            n = args.overhead_requests
            wall, cpu, summary = run(base_url, n, concurrency)
            per_ms = wall / n * 1000
            print(f"overhead    : N={n} L=0 C={concurrency}: wall {wall:.2f} s, {per_ms:.3f} ms/request "
                  f"(target <= {args.max_overhead_ms} ms); client CPU {cpu / n * 1000:.3f} ms/request")
            ok &= per_ms <= args.max_overhead_ms and summary.ok == n
    print("targets met" if ok else "targets NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
