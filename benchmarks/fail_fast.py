"""A dead judge server fails fast with the reason (issue 11): 1,000 items against loopback hosts
that do not answer, with the engine's default settings (call timeout 120 s, 6 retries).

Prints, for each case, the wall time until the run stopped, the calls sent, what was done and
not sent, and the one-line reason the CLI prints. Goal: under 30 s whatever the item count.

    python benchmarks/fail_fast.py [--items 1000]
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")

import justeval.engine  # noqa: F401 - registers the backends
from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import Engine, EngineConfig, RunSummary
from justeval.engine.types import Message, Request
from justeval.testing.dead_hosts import SilentHost, closed_port
from justeval.testing.stub_server import Reply, StubRequest, StubServer

GOAL_S = 30.0


def run(url: str, n: int, **config: Any) -> tuple[RunSummary, float]:
    spec = BackendSpec(spec="openai:judge", base_urls=[url])
    requests = [Request(key=str(i), messages=[Message(role="user", content=f"item {i}")]) for i in range(n)]
    start = time.perf_counter()
    summary = Engine(spec, EngineConfig(progress=False, cache=False, raise_on_stop=False, **config)).run_sync(
        requests, lambda r: None)
    return summary, time.perf_counter() - start


def after(n: int, action: Callable[[], None]) -> Callable[[StubRequest], Reply]:
    """A responder that answers normally and runs `action` (kill, hang) at the n-th call."""
    count = 0
    lock = threading.Lock()

    def responder(req: StubRequest) -> Reply:
        nonlocal count
        with lock:
            count += 1
            if count == n:
                threading.Thread(target=action).start()
        return Reply(text="fine", delay=0.02)

    return responder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    args = parser.parse_args()
    n = args.items
    logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)  # the killed server's own complaints
    rows: list[tuple[str, RunSummary, float]] = []

    with closed_port() as port:
        rows.append(("nothing listening", *run(f"http://127.0.0.1:{port}/v1", n)))
        rows.append(("nothing listening, probes off", *run(f"http://127.0.0.1:{port}/v1", n, probe_timeout_s=None)))
    with SilentHost() as host:
        rows.append(("accepts, never answers", *run(host.base_url, n)))
    with StubServer() as server:
        server.responder = after(100, server.kill)
        rows.append(("killed after 100 calls", *run(server.base_url, n)))
    with StubServer() as server:
        server.responder = after(100, server.hang)
        rows.append(("hangs after 100 calls", *run(server.base_url, n)))
    with StubServer() as server:
        server.responder = lambda req: Reply(status=429, headers={"Retry-After": "3600"})
        rows.append(("Retry-After: 3600", *run(server.base_url, n)))

    met = True
    print(f"fail fast   : {n} items per case, default engine settings (timeout 120 s, 6 retries, breaker 8, "
          "probe 10 s, stall probe 15 s, Retry-After cap 120 s)")
    for label, summary, wall in rows:
        ok = wall < GOAL_S and summary.stop_reason is not None
        met &= ok
        print(f"  {label:<30} {wall:6.2f} s  calls {summary.calls:>4}  ok {summary.ok:>4}  errors {summary.errors:>3}  "
              f"not sent {summary.not_sent:>4}  {'' if ok else '(NOT MET)'}")
        print(f"      {summary.stop_reason}")
    print(f"targets met (every case under {GOAL_S:g} s, with its reason)" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
