"""A 429 with Retry-After pauses every worker, not only the one that was told to wait."""

from __future__ import annotations

import threading
import time

from justeval.engine.types import Backend
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_retry_after_holds_back_all_new_requests(stub_server: StubServer, openai_backend: Backend,
                                                 run_engine: RunEngine) -> None:
    wait_s = 0.6
    arrivals: list[float] = []
    lock = threading.Lock()
    refused_at: list[float] = []

    def responder(req: StubRequest) -> Reply:
        with lock:
            arrivals.append(time.monotonic())
            if not refused_at:
                refused_at.append(arrivals[-1])
                return Reply(status=429, headers={"Retry-After": str(wait_s)}, delay=0.0)
        return Reply(text="ok", delay=0.05)

    run_engine(openai_backend, [chat_request("warm-up")], cache=False)  # imports and connections
    stub_server.reset()
    stub_server.responder = responder
    summary, results = run_engine(openai_backend, [chat_request(str(i)) for i in range(12)], concurrency=4)
    assert [r.status for r in results] == ["ok"] * 12 and summary.retries == 1
    t429 = refused_at[0]
    # the first wave (sent together with the refused one) is already in flight; everything after
    # it must wait out the server's Retry-After, whichever worker sends it
    later = sorted(t for t in arrivals if t > t429 + 0.02)
    assert len(later) == 12 + 1 - 4
    assert min(later) >= t429 + wait_s * 0.95
