"""Pairwise judging through the loopback server: both orders, bookkeeping, position bias,
resume and parse errors."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest

from justeval.engine.engine import EngineConfig
from justeval.jsonl import read_records
from justeval.review.pairwise import pairwise_run
from justeval.review.pairwise_report import pairwise_rates
from justeval.review.records import PairwiseJudgment
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import pairwise_settings, split_stage_options

from .helpers_review import make_run

JUDGE = "openai:pair-judge"
ANSWER = re.compile(r"\[BEGIN ANSWER (\d) \w+\]\n(.*?)\n\[END ANSWER \1")


def shown(req: StubRequest) -> dict[str, str]:
    """Answer number -> the text quoted under it."""
    return dict(ANSWER.findall(req.prompt_text))


def model_of(text: str) -> str:
    return text.rsplit(" by ", 1)[1][::-1]


def item_of(text: str) -> int:
    return int(text.split()[1])


def truth(item: int) -> str:
    return ["alpha", "beta", "tie"][item % 3]


def reply(pref: str, aspects: dict[str, str] | None = None) -> Reply:
    body: dict[str, Any] = {"rationale": "because", "preference": pref}
    if aspects:
        body = {"aspects": {a: {"rationale": "r", "preference": p} for a, p in aspects.items()}, **body}
    return Reply(text=json.dumps(body))


def fair(req: StubRequest) -> Reply:
    """Prefers the truly better answer wherever it is shown; clarity always the opposite of overall."""
    answers = shown(req)
    winner = truth(item_of(answers["1"]))
    pos = "tie" if winner == "tie" else ("1" if model_of(answers["1"]) == winner else "2")
    other = {"1": "2", "2": "1", "tie": "tie"}[pos]
    return reply(pos, {"helpfulness": pos, "clarity": other} if "helpfulness" in req.prompt_text else None)


def always_first(req: StubRequest) -> Reply:
    return reply("1")


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return make_run(tmp_path, "alpha", n=9), make_run(tmp_path, "beta", n=9, skip=(8,))


def run(runs: tuple[Path, Path], srv: StubServer, **kw: Any) -> Any:
    cfg = kw.pop("engine_config", None) or EngineConfig(concurrency=4, progress=False, cache=False,
                                                        max_retries=0)
    stage = split_stage_options(kw)
    return pairwise_run(runs[0], runs[1], pairwise_settings(srv.base_url, JUDGE, engine=cfg, **kw), **stage)


def latest(path: Path) -> dict[int, PairwiseJudgment]:
    return {int(r.id): r for r in read_records(path, PairwiseJudgment)}


def test_each_shared_item_judged_in_both_orders_and_mapped_back_to_models(runs: Any, stub_server: StubServer) -> None:
    stub_server.responder = fair
    summary = run(runs, stub_server, aspects=["helpfulness", "clarity"])
    assert summary.path == runs[0] / "pairwise" / "alpha__vs__beta.openai_pair-judge.jsonl"
    assert summary.items == 8 and stub_server.count == 16 and summary.engine.ok == 16
    firsts = {(item_of(shown(r)["1"]), model_of(shown(r)["1"])) for r in stub_server.requests}
    assert firsts == {(i, m) for i in range(8) for m in ("alpha", "beta")}  # each item, each model shown first
    recs = latest(summary.path)
    assert sorted(recs) == list(range(8))  # item 8 was answered by one run only
    expected = {"alpha": "A", "beta": "B", "tie": "tie"}
    opposite = {"A": "B", "B": "A", "tie": "tie"}
    for i, rec in recs.items():
        want = expected[truth(i)]
        assert rec.status == "ok" and rec.result == want
        assert rec.orders["AB"].preference == want and rec.orders["BA"].preference == want
        assert rec.aspect_results == {"helpfulness": want, "clarity": opposite[want]}
        assert (rec.generator_a, rec.generator_b, rec.aspects) == ("alpha", "beta", ["helpfulness", "clarity"])
    lines = summary.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 16  # a line per finished order; the second line of an item holds both
    meta = json.loads((runs[0] / "run.json").read_text(encoding="utf-8"))["pairwise"][str(summary.path)]
    settings = meta["settings"]
    assert settings["judge"]["spec"] == JUDGE and settings["aspects"] == ["helpfulness", "clarity"]
    assert "sk-" not in json.dumps(meta)


def test_position_biased_judge_gives_inconsistent_verdicts(runs: Any, stub_server: StubServer) -> None:
    stub_server.responder = always_first
    summary = run(runs, stub_server)
    for rec in latest(summary.path).values():
        assert rec.result == "inconsistent"
        assert (rec.orders["AB"].preference, rec.orders["BA"].preference) == ("A", "B")
    rates = pairwise_rates(summary.records)
    assert rates["overall"]["inconsistent"]["value"] == 1.0 and rates["overall"]["A"]["value"] == 0.0


def test_rates_overall_and_per_category_with_partial_position_bias(tmp_path: Path, stub_server: StubServer) -> None:
    a, b = make_run(tmp_path, "alpha"), make_run(tmp_path, "beta")  # 20 items, 15-19 safety

    def half_biased(req: StubRequest) -> Reply:
        return always_first(req) if item_of(shown(req)["1"]) % 2 == 0 else fair(req)

    stub_server.responder = half_biased
    summary = run((a, b), stub_server)
    want = {i: "inconsistent" if i % 2 == 0 else {"alpha": "A", "beta": "B", "tie": "tie"}[truth(i)]
            for i in range(20)}
    rates = pairwise_rates(summary.records, seed=3)
    for outcome in ("A", "B", "tie", "inconsistent"):
        assert rates["overall"][outcome]["value"] == pytest.approx(sum(v == outcome for v in want.values()) / 20)
        safety = [want[i] for i in range(15, 20)]
        (srow,) = [r for r in rates["by_category"] if r["name"] == "safety"]
        assert srow[outcome]["value"] == pytest.approx(safety.count(outcome) / 5)
        lo, hi = rates["overall"][outcome]["low"], rates["overall"][outcome]["high"]
        assert lo <= rates["overall"][outcome]["value"] <= hi
    a_share = sum(v == "A" for v in want.values()) / 20
    half = sum(v in ("tie", "inconsistent") for v in want.values()) / 20
    assert rates["overall"]["score"]["value"] == pytest.approx(a_share + 0.5 * half)


def test_resume_repeats_only_failed_orders(runs: Any, stub_server: StubServer) -> None:
    def flaky(req: StubRequest) -> Reply:
        first = shown(req)["1"]
        if item_of(first) in (2, 5) and model_of(first) == "beta":  # the BA order of items 2 and 5
            return Reply(status=400, text="bad request")
        return fair(req)

    stub_server.responder = flaky
    first = run(runs, stub_server)
    assert first.engine.errors == 2 and first.engine.ok == 14
    recs = latest(first.path)
    assert recs[2].status == "error" and recs[2].result is None and recs[2].orders["AB"].status == "ok"
    stub_server.reset()
    stub_server.responder = fair
    second = run(runs, stub_server)
    assert stub_server.count == 2 and second.calls == 2 and second.already_done == 6
    assert {item_of(shown(r)["1"]) for r in stub_server.requests} == {2, 5}
    assert all(r.status == "ok" for r in latest(first.path).values())
    stub_server.reset()
    third = run(runs, stub_server)
    assert stub_server.count == 0 and third.already_done == 8


def test_unparseable_reply_is_a_parse_error_never_a_verdict(runs: Any, stub_server: StubServer) -> None:
    def vague(req: StubRequest) -> Reply:
        if item_of(shown(req)["1"]) == 4:
            return Reply(text="Both answers have merits; I lean to the first.")
        return fair(req)

    stub_server.responder = vague
    summary = run(runs, stub_server, engine_config=EngineConfig(concurrency=2, progress=False, cache=False,
                                                                max_retries=0, parse_retries=1))
    rec = latest(summary.path)[4]
    assert rec.status == "parse_error" and rec.result is None
    for order in ("AB", "BA"):
        v = rec.orders[order]
        assert v.status == "parse_error" and v.preference is None and v.raw and "lean" in v.raw and v.attempts == 2
    assert pairwise_rates(summary.records)["overall"]["n"] == 7
    stub_server.reset()
    run(runs, stub_server)
    assert stub_server.count == 0  # a parse error already spent its retries
    run(runs, stub_server, retry_parse_errors=True)
    assert stub_server.count == 2


def test_bad_preference_value_and_missing_aspect_are_parse_errors(runs: Any, stub_server: StubServer) -> None:
    stub_server.script.extend([reply("3"), reply("1", {"helpfulness": "1"})])
    stub_server.responder = fair
    summary = run(runs, stub_server, aspects=["helpfulness", "clarity"], ids="0", engine_config=EngineConfig(
        concurrency=1, progress=False, cache=False, max_retries=0))
    rec = latest(summary.path)[0]
    assert {o: v.status for o, v in rec.orders.items()} == {"AB": "parse_error", "BA": "parse_error"}
    assert "clarity" in (rec.orders["BA"].error or "") and "'3'" in (rec.orders["AB"].error or "")


def test_cli_pairwise_writes_default_file(runs: Any, stub_server: StubServer, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from justeval.cli import main

    stub_server.responder = fair
    monkeypatch.setattr(sys, "argv", ["justeval", "pairwise", str(runs[0]), str(runs[1]), "--judge", JUDGE,
                                      "--base-url", stub_server.base_url, "--no-progress", "--no-cache",
                                      "--limit", "3", "--aspects", "helpfulness", "--aspects", "clarity"])
    main()
    text = capsys.readouterr().out
    recs = latest(runs[0] / "pairwise" / "alpha__vs__beta.openai_pair-judge.jsonl")
    assert sorted(recs) == [0, 1, 2] and all(r.aspects == ["helpfulness", "clarity"] for r in recs.values())
    assert all(r.result == {"alpha": "A", "beta": "B", "tie": "tie"}[truth(i)] for i, r in recs.items())
    assert "inconsistent" in text and stub_server.count == 6


def test_crash_between_orders_resumes_with_the_missing_order_only(runs: Any, stub_server: StubServer) -> None:
    stub_server.responder = fair
    summary = run(runs, stub_server, engine_config=EngineConfig(concurrency=1, progress=False, cache=False))
    lines = summary.path.read_text(encoding="utf-8").splitlines(keepends=True)
    # concurrency 1: lines come in pairs per item, the first holding one order ("pending").
    assert json.loads(lines[6])["status"] == "pending" and len(json.loads(lines[6])["orders"]) == 1
    summary.path.write_text("".join(lines[:7]) + lines[7][:20], encoding="utf-8")  # torn write of item 3's 2nd line
    stub_server.reset()
    again = run(runs, stub_server)
    assert again.calls == 9 and stub_server.count == 9  # one order of item 3, both of items 4-7
    recs = latest(summary.path)
    assert sorted(recs) == list(range(8)) and all(r.status == "ok" for r in recs.values())
