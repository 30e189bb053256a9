"""judge-eval through the real engine, client and CLI against the loopback OpenAI-compatible
server: both orders asked and mapped back, unreadable replies counted, resume asking nothing
twice, absolute scoring, upstream templates, panels, dry-run, budget, and a review export's
labels as the set."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from justeval.jsonl import read_records
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from justeval.validity.records import VerdictRecord
from tests.conftest import CliRun
from tests.judging.conftest import priced_kind  # noqa: F401  (the list-priced loopback judge)

from .helpers_validity import (
    SINGLE,
    absolute_judge,
    always_first,
    fair_judge,
    pairwise_reply,
    pandalm_rows,
    scores_reply,
    shown,
    write_json,
)

QUESTION = re.compile(r"question (\d+)")


def question(req: StubRequest) -> int:
    return int(QUESTION.findall(req.prompt_text)[0])


@pytest.fixture
def pandalm_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "PandaLM" / "data" / "testset-v1.json", pandalm_rows(10))


def judge_eval(cli: CliRun, srv: StubServer, set_file: Path, out: Path, *args: str,
               judge: str = "openai:stub-judge") -> dict[str, Any]:
    code, stdout, err = cli("judge-eval", "--set", str(set_file), "--judge", judge, "--base-url",
                            srv.base_url, "--out", str(out), "--max-retries", "0", "--parse-retries", "0",
                            "--no-progress", "--json", "--bootstrap", "200", *args)
    assert code == 0, err
    return json.loads(stdout)  # type: ignore[no-any-return]


def test_pairwise_asks_both_orders_maps_them_back_and_counts_unreadable(cli: CliRun, stub_server: StubServer,
                                                                        pandalm_file: Path, tmp_path: Path) -> None:
    def judge(req: StubRequest) -> Reply:
        i = question(req)
        if i == 3 and shown(req)["1"].startswith("bad"):
            return Reply(text="I cannot decide between these.")  # unreadable in the set's order (bad shown first)
        if i == 4:
            return always_first(req)  # position bias: right in one order only
        return fair_judge(req)

    stub_server.responder = judge
    r = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out")
    assert stub_server.count == 20
    seen: dict[int, set[str]] = {}
    for req in stub_server.requests:  # every pair shown once with each response first
        seen.setdefault(question(req), set()).add(shown(req)["1"].split()[0])
    assert seen == {i: {"good", "bad"} for i in range(10)}
    records = read_records(tmp_path / "out" / "verdicts.jsonl", VerdictRecord)
    assert len(records) == 20 and {r.call for r in records} == {"original", "swapped"}
    by = {(rec.id, rec.call): rec for rec in records}
    assert by[("1", "original")].verdict == "2" and by[("1", "swapped")].verdict == "2"  # response 2 is good on odd
    assert by[("3", "original")].status == "parse_error" and by[("3", "original")].verdict is None
    assert by[("3", "original")].raw == "I cannot decide between these."
    assert (by[("4", "original")].verdict, by[("4", "swapped")].verdict) == ("1", "2")
    assert r["n"] == 10 and r["unreadable"] == 1
    # pair 3 is unreadable in the set's order, pair 4 (always "1") wrong when swapped
    assert r["accuracy"] == {"first_order": 0.9, "second_order": 0.9, "average": 0.9, "both": 0.8}
    assert r["consistency"] == 0.8
    assert r["counts"]["unreadable"] == 1 and r["counts"]["both_unreadable"] == 0
    assert r["tie_rate"] == 0.0 and r["mode"] == "pairwise" and r["template"]["name"] == "pairwise"
    assert r["humans"]["label_counts"] == {"tie": 0, "1": 5, "2": 5}
    assert set(r) >= {"set", "judge", "mode", "n", "unreadable", "accuracy", "consistency", "tie_rate", "kappa",
                      "humans", "bias", "ci", "cost_usd", "wall_s", "accuracy_without_ties"}
    assert r["wall_s"] is not None and r["wall_s"] > 0
    saved = json.loads((tmp_path / "out" / "report.json").read_text(encoding="utf-8"))
    assert saved == r
    settings = json.loads((tmp_path / "out" / "settings.json").read_text(encoding="utf-8"))
    assert settings["judges"][0]["spec"] == "openai:stub-judge" and settings["mode"] == "pairwise"
    assert "sk-test" not in (tmp_path / "out" / "settings.json").read_text(encoding="utf-8")


def test_a_rerun_asks_nothing_twice_and_only_what_failed(cli: CliRun, stub_server: StubServer,
                                                         pandalm_file: Path, tmp_path: Path) -> None:
    failing = {2, 7}

    def judge(req: StubRequest) -> Reply:
        if question(req) in failing and shown(req)["1"].startswith("good"):
            return Reply(status=500, text="server fell over")
        return fair_judge(req)

    stub_server.responder = judge
    first = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out")
    assert first["n"] == 8 and first["pending"] == 2
    assert stub_server.count == 20
    stub_server.reset()
    failing.clear()
    second = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out")
    assert stub_server.count == 2  # only the two failed calls
    assert {question(req) for req in stub_server.requests} == {2, 7}
    assert second["n"] == 10 and second["pending"] == 0 and second["accuracy"]["both"] == 1.0
    stub_server.reset()
    third = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out", "--no-cache")
    assert stub_server.count == 0  # everything settled: nothing asked, even without the cache
    assert third["accuracy"] == second["accuracy"]


def test_absolute_scores_each_response_alone_and_prefers_by_the_averages(cli: CliRun, stub_server: StubServer,
                                                                         pandalm_file: Path, tmp_path: Path) -> None:
    def judge(req: StubRequest) -> Reply:
        if question(req) == 5:
            return Reply(text="no scores here")
        if question(req) == 6:
            return scores_reply(3)  # both responses 3: a tie
        return absolute_judge(req)

    stub_server.responder = judge
    r = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out", "--mode", "absolute")
    assert stub_server.count == 20
    texts = sorted(SINGLE.findall(req.prompt_text)[0].split()[0] for req in stub_server.requests)
    assert texts == ["bad"] * 10 + ["good"] * 10  # each response scored alone, once
    assert r["mode"] == "absolute" and r["orders"] == 1 and r["template"]["name"] == "score_multi"
    assert r["accuracy"]["first_order"] == 0.8 and r["accuracy"]["second_order"] is None
    assert r["consistency"] is None and r["bias"]["first_position"] is None
    assert r["unreadable"] == 1 and r["tie_rate"] == 0.1
    # a wider margin turns more into ties, from the same records: nothing asked again
    stub_server.reset()
    wide = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out", "--mode", "absolute", "--tie-margin", "3")
    assert stub_server.count == 0 and wide["tie_rate"] == 0.9 and wide["tie_margin"] == 3.0
    one = judge_eval(cli, stub_server, pandalm_file, tmp_path / "out", "--mode", "absolute", "--aspect", "depth")
    assert one["aspect"] == "depth" and one["accuracy"]["first_order"] == 0.8


def test_upstream_string_template_prompts_work_in_both_modes(cli: CliRun, stub_server: StubServer,
                                                             pandalm_file: Path, tmp_path: Path) -> None:
    pair_tpl = tmp_path / "pairwise_up.txt"
    pair_tpl.write_text("## Query:\n${instruction}\n\n## Candidate Output A:\n${candidateA}\n\n## Candidate Output B\n"
                        "${candidateB}\n\nReply {\"preference\": \"[A or B or same]\", \"reason\": \"...\"}\n",
                        encoding="utf-8")

    def judge(req: StubRequest) -> Reply:
        a = req.prompt_text.split("## Candidate Output A:\n", 1)[1]
        return Reply(text=json.dumps({"preference": "A" if a.startswith("good") else "B", "reason": "r"}))

    stub_server.responder = judge
    r = judge_eval(cli, stub_server, pandalm_file, tmp_path / "pw", "--template", str(pair_tpl))
    assert r["accuracy"]["both"] == 1.0 and r["template"]["name"] == "pairwise_up"
    system = stub_server.requests[0].body["messages"][0]
    assert system["role"] == "system"  # the upstream scorer's system message goes with an upstream prompt
    assert "response_format" not in stub_server.requests[0].body


@pytest.mark.integration
def test_the_upstream_just_eval_score_multi_template_measures_absolute_scoring(
        cli: CliRun, stub_server: StubServer, pandalm_file: Path, tmp_path: Path, shared_data: Path) -> None:
    template = shared_data / "upstream-templates" / "just-eval" / "score_multi.txt"

    def judge(req: StubRequest) -> Reply:
        output = req.prompt_text.split("## Output:\n", 1)[1]
        return scores_reply(5 if output.startswith("good") else 1)

    stub_server.responder = judge
    r = judge_eval(cli, stub_server, pandalm_file, tmp_path / "abs", "--mode", "absolute", "--template",
                   str(template))
    assert r["accuracy"]["first_order"] == 1.0 and r["template"]["name"] == "score_multi"
    assert "${" not in stub_server.requests[0].prompt_text


def test_a_panel_is_measured_beside_each_of_its_judges(cli: CliRun, stub_server: StubServer, pandalm_file: Path,
                                                       tmp_path: Path) -> None:
    def judge(req: StubRequest) -> Reply:
        model = req.body["model"]
        if model == "biased":
            return always_first(req)
        if model == "broken" and question(req) < 5:
            return pairwise_reply("tie")
        return fair_judge(req)

    stub_server.responder = judge
    code, out, err = cli("judge-eval", "--set", str(pandalm_file), "--judge", "openai:fair", "--judge",
                         "openai:biased", "--judge", "openai:broken", "--panel", "majority", "--base-url",
                         stub_server.base_url, "--out", str(tmp_path / "p"), "--no-progress", "--json",
                         "--bootstrap", "100")
    assert code == 0, err
    r = json.loads(out)
    assert r["judge"] == "panel:majority" and r["panel"]["judges"] == ["openai:fair", "openai:biased", "openai:broken"]
    members = {m["judge"]: m for m in r["members"]}
    assert members["openai:fair"]["accuracy"]["both"] == 1.0
    assert members["openai:biased"]["bias"]["first_position"] == 1.0
    assert members["openai:broken"]["tie_rate"] == 0.5
    # fair and broken agree on pairs 5-9; on 0-4 fair, biased and broken split or agree with fair
    assert r["accuracy"]["average"] >= members["openai:biased"]["accuracy"]["average"]
    assert r["panel"]["alpha"] is not None and stub_server.count == 60
    code, out, err = cli("judge-eval", "--set", str(pandalm_file), "--judge", "openai:fair", "--judge",
                         "openai:biased", "--base-url", stub_server.base_url, "--out", str(tmp_path / "p"),
                         "--no-progress", "--json", "--bootstrap", "0")
    assert code == 0, err
    separate = json.loads(out)
    assert [x["judge"] for x in separate["reports"]] == ["openai:fair", "openai:biased"]
    assert stub_server.count == 60  # already judged: nothing asked again


def test_dry_run_counts_calls_and_sends_and_writes_nothing(cli: CliRun, stub_server: StubServer,
                                                           pandalm_file: Path, tmp_path: Path) -> None:
    code, out, err = cli("judge-eval", "--set", str(pandalm_file), "--judge", "openai:gpt-4o-mini", "--base-url",
                         stub_server.base_url, "--out", str(tmp_path / "d"), "--dry-run", "--limit", "4")
    assert code == 0, err
    assert stub_server.count == 0 and not (tmp_path / "d").exists()
    assert "Dry run" in out and " 8 " in out  # 4 pairs x 2 orders


def test_budget_stops_sending_and_the_rest_stays_pending(cli: CliRun, stub_server: StubServer, pandalm_file: Path,
                                                         tmp_path: Path, priced_kind: str) -> None:  # noqa: F811
    stub_server.responder = fair_judge
    priced = f"{priced_kind}:gpt-4o-mini"  # a judge with a list price, so the budget can count it
    r = judge_eval(cli, stub_server, pandalm_file, tmp_path / "b", "--concurrency", "1", "--budget", "0.0001",
                   "--no-cache", judge=priced)
    sent = stub_server.count
    assert 0 < sent < 20 and r["pending"] > 0 and r["cost_usd"] is not None and r["cost_usd"] >= 0.0001
    done = judge_eval(cli, stub_server, pandalm_file, tmp_path / "b", "--no-cache", judge=priced)
    assert done["pending"] == 0 and stub_server.count == 20  # the rest, and nothing twice


def test_a_review_exports_labels_are_a_set(cli: CliRun, stub_server: StubServer, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from justeval.review.export import export_review
    from tests.review.helpers_review import make_run, write_csv_labels

    monkeypatch.chdir(tmp_path)
    run_a, run_b = make_run(tmp_path, "alpha", n=8), make_run(tmp_path, "beta", n=8)
    res = export_review([run_a, run_b], tmp_path / "export", n=6, seed=1)
    pairs = list(__import__("csv").DictReader((tmp_path / "export" / "pairs.csv").open(encoding="utf-8")))
    # the annotator prefers alpha's answer wherever it is shown
    labels = write_csv_labels(tmp_path / "ann.csv", [
        {"pair_id": p["pair_id"], "label": "left" if "ahpla" in p["left"] else "right", "annotator": "ann"}
        for p in pairs])

    def judge(req: StubRequest) -> Reply:
        return pairwise_reply("1" if "ahpla" in shown(req)["1"] else "2")

    stub_server.responder = judge
    code, out, err = cli("judge-eval", "--set", str(labels), "--key", str(tmp_path / "export" / "key.json"),
                         "--judge", "openai:stub-judge", "--base-url", stub_server.base_url, "--out",
                         str(tmp_path / "o"), "--no-progress", "--json", "--bootstrap", "0")
    assert code == 0, err
    r = json.loads(out)
    assert r["set"] == f"review-{res.key.export_id}" and r["n"] == 6 and r["accuracy"]["both"] == 1.0
    assert r["humans"]["annotators"] == ["ann"] and stub_server.count == 12


def test_a_dead_server_fails_fast_with_the_reason_and_exit_1(cli: CliRun, pandalm_file: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, _out, err = cli("judge-eval", "--set", str(pandalm_file), "--judge", "openai:j", "--base-url",
                          f"http://127.0.0.1:{port}/v1", "--out", str(tmp_path / "o"), "--max-retries", "0",
                          "--no-progress", "--limit", "2")
    assert code == 1
    # the engine's circuit breaker: the probe finds nothing listening before any call is sent
    assert f"cannot reach http://127.0.0.1:{port}/v1: connection refused" in err and "nothing was charged" in err
    assert err.strip().count("\n") == 0
    verdicts = tmp_path / "o" / "verdicts.jsonl"  # nothing sent, so nothing recorded as failed
    assert not verdicts.exists() or read_records(verdicts, VerdictRecord) == []


def test_absolute_panel_mean_averages_the_scores_where_a_vote_splits(cli: CliRun, stub_server: StubServer,
                                                                    pandalm_file: Path, tmp_path: Path) -> None:
    def judge(req: StubRequest) -> Reply:
        is_good = SINGLE.findall(req.prompt_text)[0].startswith("good")
        if req.body["model"] == "sure":
            return scores_reply(5 if is_good else 1)
        return scores_reply(2 if is_good else 3)  # "contrary" is wrong, but only by a little

    stub_server.responder = judge

    def panel(method: str) -> dict[str, Any]:
        code, out, err = cli("judge-eval", "--set", str(pandalm_file), "--mode", "absolute", "--judge", "openai:sure",
                             "--judge", "openai:contrary", "--panel", method, "--base-url", stub_server.base_url,
                             "--out", str(tmp_path / "abs"), "--no-progress", "--json", "--bootstrap", "0")
        assert code == 0, err
        return json.loads(out)  # type: ignore[no-any-return]

    mean, vote = panel("mean"), panel("majority")
    assert stub_server.count == 40  # the second panel reuses every verdict
    assert mean["accuracy"]["first_order"] == 1.0      # (5 + 2) / 2 > (1 + 3) / 2 everywhere
    assert vote["accuracy"]["first_order"] == 0.0 and vote["tie_rate"] == 1.0  # one right, one wrong: split
    assert [m["accuracy"]["first_order"] for m in mean["members"]] == [1.0, 0.0]
