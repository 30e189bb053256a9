"""A judge run over the 1,000 real outputs against a server that fails ~30 % of attempts
(429 + Retry-After, 500, dropped connections, 5x slow replies, malformed JSON) ends with
every item judged or explicitly failed: none lost, none duplicated, no invented score."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from justeval.engine.engine import EngineConfig
from justeval.judging.run import judge_run
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.conftest import judge_settings
from tests.reliability.judge_stub import MULTI, SAFETY, FaultyJudge, expected_scores, instruction_of

pytestmark = pytest.mark.integration


def _fast_config(**overrides: object) -> EngineConfig:
    base: dict[str, object] = dict(concurrency=32, max_retries=8, timeout_s=5.0, parse_retries=2,
                                   progress=False, retry_base_s=0.005, retry_max_wait_s=0.05)
    base.update(overrides)
    return EngineConfig(**base)  # type: ignore[arg-type]


def test_every_item_ends_judged_or_explicitly_failed_under_30_percent_faults(
        imported_run: Path, stub_server: StubServer) -> None:
    gens = RunDir(imported_run).load_generations()
    instructions = sorted({g.instruction for g in gens})
    judge = FaultyJudge(fault_rate=0.3, seed=7, latency=0.002,
                        always_malformed=set(instructions[:5]), always_500=set(instructions[5:8]))
    stub_server.responder = judge

    summary = judge_run(imported_run, judge_settings(stub_server.base_url, "openai:stub-judge", engine=_fast_config()))

    records = RunDir(imported_run).load_judgments()
    per_id = Counter(r.id for r in records)
    assert len(gens) == 1000 and set(per_id) == {g.id for g in gens}, "an item was lost"
    assert max(per_id.values()) == 1, "an item was recorded twice"
    by_id = {r.id: r for r in records}
    statuses = Counter(r.status for r in records)
    # every fault kind really happened, at about the configured rate
    assert set(judge.faults) == set(FaultyJudge.KINDS)
    assert 0.2 < sum(judge.faults.values()) / stub_server.count < 0.45
    for gen in gens:
        rec = by_id[gen.id]
        aspects = SAFETY if gen.category == "safety" else MULTI
        if gen.instruction in judge.always_malformed:
            assert rec.status == "parse_error" and rec.raw and all(v is None for v in rec.scores.values())
        elif gen.instruction in judge.always_500:
            assert rec.status == "error" and rec.error and all(v is None for v in rec.scores.values())
        else:
            assert rec.status == "ok", (gen.id, rec.status, rec.error)
            assert rec.scores == expected_scores(gen.instruction, aspects)
    bad_malformed = sum(g.instruction in judge.always_malformed for g in gens)
    bad_500 = sum(g.instruction in judge.always_500 for g in gens)
    assert statuses == {"ok": 1000 - bad_malformed - bad_500, "parse_error": bad_malformed, "error": bad_500}
    assert (summary.engine.ok, summary.engine.parse_errors, summary.engine.errors) == (
        statuses["ok"], statuses["parse_error"], statuses["error"])


def test_faulty_run_resumes_only_the_failed_items(imported_run: Path, stub_server: StubServer) -> None:
    """After a faulty run, items recorded `error` are retried on the next run and nothing else is
    sent again; the file then holds one final `ok` per id (readers take the last line)."""
    gens = RunDir(imported_run).load_generations()
    instructions = sorted({g.instruction for g in gens})
    failing = set(instructions[:20])
    judge = FaultyJudge(fault_rate=0.3, seed=11, always_500=failing)
    stub_server.responder = judge
    judge_run(imported_run, judge_settings(stub_server.base_url, "openai:stub-judge",
                                           engine=_fast_config(max_retries=2)))
    first = RunDir(imported_run).load_judgments()
    errored = {r.id for r in first if r.status == "error"}
    # the outage's items failed, plus any whose 3 attempts all hit a transient fault
    assert {g.id for g in gens if g.instruction in failing} <= errored
    by_id = {g.id: g for g in gens}

    judge.always_500.clear()  # the outage is over
    stub_server.reset()
    judge_run(imported_run, judge_settings(stub_server.base_url, "openai:stub-judge", engine=_fast_config()))
    asked = {instruction_of(r.prompt_text) for r in stub_server.requests}
    assert asked == {by_id[i].instruction for i in errored}  # only the failed items were sent again
    latest = {r.id: r for r in RunDir(imported_run).load_judgments()}
    assert len(latest) == 1000 and all(r.status == "ok" for r in latest.values())
