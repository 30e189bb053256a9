"""The per-request timeout measures the server, not the time spent waiting for a rate-limit slot."""

from __future__ import annotations

from justeval.engine.types import Backend
from justeval.testing.stub_server import StubServer
from tests.engine.conftest import RunEngine, chat_request


def test_waiting_for_an_rpm_slot_does_not_count_against_the_timeout(stub_server: StubServer,
                                                                    openai_backend: Backend,
                                                                    run_engine: RunEngine) -> None:
    rpm, n, timeout_s = 240.0, 8, 0.5  # 4 per second: the last requests wait ~1 s for their slot
    slot_wait_of_last = (n - rpm / 60) / (rpm / 60)
    assert slot_wait_of_last > timeout_s  # the situation this test is about
    run_engine(openai_backend, [chat_request("warm-up")], cache=False)  # imports and first connection
    stub_server.reset()
    summary, results = run_engine(openai_backend, [chat_request(str(i)) for i in range(n)],
                                  concurrency=n, rpm=rpm, timeout_s=timeout_s, max_retries=0)
    assert [(r.status, r.error) for r in results] == [("ok", None)] * n
    assert all(r.attempts == 1 for r in results) and summary.retries == 0
    assert stub_server.count == n
    assert summary.wall_s >= slot_wait_of_last * 0.9  # the pacing really happened


def test_a_slow_server_still_times_out_under_rpm_pacing(stub_server: StubServer, openai_backend: Backend,
                                                        run_engine: RunEngine) -> None:
    stub_server.latency = 0.6
    _, results = run_engine(openai_backend, [chat_request("a")], rpm=600.0, timeout_s=0.2, max_retries=1)
    assert results[0].status == "error" and "timed out" in (results[0].error or "")
    assert results[0].attempts == 2 and stub_server.count == 2
