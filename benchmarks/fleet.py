"""A fleet of servers: N calls spread over K loopback OpenAI-compatible servers (each in its own
process) at latency L and concurrency C per server, one server killed with SIGKILL part way.

Prints the wall time against the bound N·L/(K·C) (every server up all the time) and against the
bound with the killed server's share moved to the survivors, after a reference run of the same
calls with every server up (what the machine itself allows at that size; the target compares
the run with the kill to that reference, scaled to the bound with the kill); checks that every call ended ok,
that no item got a full reply twice (the survivors' own logs, and the killed server's replies as
the client received them), and how the calls were spread.

    python benchmarks/fleet.py                      # N=1000, K=4, L=0.2 s, C=16, kill at 30 %
    python benchmarks/fleet.py -n 400 -l 0.1 --kill-at 0.5
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from multiprocessing.connection import Connection

os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark-not-a-real-key")

import justeval.engine  # noqa: F401 - registers the backends
from justeval.engine.backend_spec import BackendSpec
from justeval.engine.engine import CallResult, Engine, EngineConfig
from justeval.engine.types import Message, Request
from justeval.testing.stub_server import StubServer


def _serve(latency: float, conn: Connection) -> None:
    with StubServer(latency=latency) as server:
        conn.send(server.base_url)
        while conn.recv() == "report":
            conn.send([req.prompt_text for req in server.completed])


@contextlib.contextmanager
def servers(k: int, latency: float) -> Iterator[list[tuple[mp.process.BaseProcess, Connection, str]]]:
    ctx = mp.get_context("spawn")
    started = []
    try:
        for _ in range(k):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_serve, args=(latency, child), daemon=True)
            proc.start()
            started.append((proc, parent, ""))
        yield [(proc, conn, conn.recv()) for proc, conn, _ in started]
    finally:
        for proc, conn, _ in started:
            with contextlib.suppress(OSError, BrokenPipeError):
                conn.send("stop")
            proc.join(5)
            if proc.is_alive():
                proc.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--calls", type=int, default=1000)
    parser.add_argument("-k", "--servers", type=int, default=4)
    parser.add_argument("-l", "--latency", type=float, default=0.2, help="seconds per call at each server")
    parser.add_argument("-c", "--concurrency", type=int, default=16, help="calls in flight per server")
    parser.add_argument("--kill-at", type=float, default=0.3, help="kill one server after this share of the calls")
    parser.add_argument("--max-ratio", type=float, default=1.25,
                        help="target: wall with the kill / (the reference wall scaled to the bound with the kill)")
    args = parser.parse_args()
    n, k, latency, c = args.calls, args.servers, args.latency, args.concurrency

    with servers(k, latency) as fleet:
        urls = [url for _, _, url in fleet]
        victim_proc, _, victim_url = fleet[-1]
        spec = BackendSpec(spec="openai:replica-model", base_urls=urls)
        config = EngineConfig(concurrency=c, cache=False, progress=False, retry_base_s=0.05)
        warm = Engine(spec, config).run_sync([Request(key=str(i), messages=[Message(role="user", content=f"w{i}")])
                                             for i in range(4 * k)], lambda r: None)
        assert warm.ok == 4 * k, "warm-up failed"
        requests = [Request(key=str(i), messages=[Message(role="user", content=f"question {i}")]) for i in range(n)]
        # reference: the same calls with every server up (what this machine does at this size)
        start = time.perf_counter()
        reference = Engine(spec, config).run_sync(
            [Request(key=f"ref-{i}", messages=[Message(role="user", content=f"reference {i}")]) for i in range(n)],
            lambda r: None)
        reference_wall = time.perf_counter() - start
        results: list[CallResult] = []
        killed_at: list[float] = []

        def on_result(result: CallResult) -> None:
            results.append(result)
            if len(results) >= args.kill_at * n and not killed_at:
                killed_at.append(time.perf_counter())
                os.kill(victim_proc.pid or 0, signal.SIGKILL)

        start = time.perf_counter()
        summary = Engine(spec, config).run_sync(requests, on_result)
        wall = time.perf_counter() - start
        victim_proc.join(5)
        survivors: Counter[str] = Counter()
        for _proc, conn, _url in fleet[:-1]:
            conn.send("report")
            survivors.update(text for text in conn.recv() if text.startswith("question "))

    ok = [r for r in results if r.status == "ok"]
    from_victim = Counter(f"question {r.request.key}" for r in ok if r.endpoint == victim_url)
    answered = survivors + from_victim
    twice = sum(1 for count in answered.values() if count > 1)
    bound = n * latency / (k * c)
    t_kill = killed_at[0] - start if killed_at else wall
    # with the kill: K servers until t_kill, then K-1 take the rest
    done_by_kill = min(n, t_kill / latency * k * c)
    fair = t_kill + max(0.0, n - done_by_kill) * latency / ((k - 1) * c)
    spread = Counter(r.endpoint for r in ok)
    print(f"fleet       : N={n} K={k} L={latency * 1000:.0f} ms C={c} per server, one server SIGKILLed after "
          f"{t_kill:.2f} s ({args.kill_at:.0%} of the calls)")
    print(f"  reference, all {k} up: wall {reference_wall:.2f} s, ratio to N·L/(K·C) {reference_wall / bound:.3f}; "
          f"ok {reference.ok}")
    expected = reference_wall * fair / bound  # what this machine would take with the kill
    print(f"  with the kill: wall {wall:.2f} s; bound N·L/(K·C) {bound:.2f} s (ratio {wall / bound:.3f}); bound "
          f"with the kill {fair:.2f} s (ratio {wall / fair:.3f}); against the reference scaled to it "
          f"({expected:.2f} s): {wall / expected:.3f} (target <= {args.max_ratio})")
    print(f"  ok {len(ok)}/{n}, errors {summary.errors}, not sent {summary.not_sent}, retries {summary.retries}; "
          f"items answered twice: {twice}; stop: {summary.stop_reason or 'none'}")
    print("  calls per server: " + ", ".join(f"{url.rsplit(':', 1)[-1]}{' (killed)' if url == victim_url else ''}: "
                                              f"{spread.get(url, 0)}" for url in urls))
    met = len(ok) == n and twice == 0 and wall / expected <= args.max_ratio and summary.stop_reason is None
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
