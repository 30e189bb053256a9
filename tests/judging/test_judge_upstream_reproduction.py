"""Exact reproduction of just-eval on its recorded judgments: the same prompts byte for byte,
the same parsed scores, through the real judge path against a loopback judge that answers each
recorded prompt with its recorded reply."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from justeval.engine.engine import EngineConfig
from justeval.jsonl import write_jsonl
from justeval.judging.parse import parse_scores
from justeval.judging.run import judge_run
from justeval.judging.templates import load_template
from justeval.records import Generation
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import judge_settings

pytestmark = pytest.mark.integration

UPSTREAM_SYSTEM = "You are an AI assistant that helps people find information."


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _expected_scores(parsed_result: dict[str, Any]) -> dict[str, float | None]:
    return {a: None if v["score"] == "N/A" else float(v["score"]) for a, v in parsed_result.items()}


def _recorded_files(shared_data: Path) -> list[tuple[str, Path]]:
    files = sorted((shared_data / "judgments").glob("score_*/*.jsonl"))
    assert files, "no recorded judgments found"
    return [(f.parent.name.split(".")[0], f) for f in files]


def test_every_recorded_prompt_is_rendered_byte_for_byte(shared_data: Path) -> None:
    templates = {m: load_template(shared_data / "upstream-templates/just-eval" / f"{m}.txt")
                 for m in ("score_multi", "score_safety")}
    checked = 0
    for mode, path in _recorded_files(shared_data):
        for rec in _records(path):
            assert templates[mode].render(instruction=rec["input"], candidate=rec["output_cand"]) == rec["prompt"], \
                f"{path.name} id {rec['id']}"
            checked += 1
    assert checked >= 1200


def test_every_recorded_reply_parses_to_its_recorded_result(shared_data: Path) -> None:
    aspects = {"score_multi": ["helpfulness", "clarity", "factuality", "depth", "engagement"],
               "score_safety": ["safety"]}
    na = 0
    for mode, path in _recorded_files(shared_data):
        for rec in _records(path):
            parsed = parse_scores(rec["result"], aspects[mode])
            assert parsed.scores == _expected_scores(rec["parsed_result"]), f"{path.name} id {rec['id']}"
            assert parsed.rationales == {a: v["reason"] for a, v in rec["parsed_result"].items()}
            na += sum(v is None for v in parsed.scores.values())
    assert na == sum(1 for _, p in _recorded_files(shared_data) for r in _records(p)
                     for v in r["parsed_result"].values() if v["score"] == "N/A")


def test_recorded_judgments_reproduced_through_the_judge_stage(shared_data: Path, tmp_path: Path,
                                                               stub_server: StubServer) -> None:
    multi = _records(shared_data / "judgments/score_multi.gpt-4-1106-preview/gpt-3.5-turbo-0301.jsonl")
    safety = _records(shared_data / "judgments/score_safety.gpt-3.5-turbo-0613/Mistral-7B-Instruct-v0.1.jsonl")
    recorded = {r["id"]: r for r in multi + safety}
    assert len(recorded) == len(multi) + len(safety) == 600
    safety_ids = {r["id"] for r in safety}
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(RunDir(run).generations, [
        Generation(id=r["id"], instruction=r["input"], output=r["output_cand"], generator=r["generator_cand"],
                   category="safety" if r["id"] in safety_ids else "regular") for r in recorded.values()])
    by_prompt = {r["prompt"]: r["result"] for r in recorded.values()}

    def answer(req: StubRequest) -> Reply:
        return Reply(text=by_prompt[req.prompt_text]) if req.prompt_text in by_prompt else Reply(status=400)

    stub_server.responder = answer
    tpl_dir = shared_data / "upstream-templates/just-eval"
    settings = judge_settings(stub_server.base_url, "openai:gpt-4-1106-preview",
                              engine=EngineConfig(concurrency=32, progress=False, parse_retries=2),
                              template_multi=str(tpl_dir / "score_multi.txt"),
                              template_safety=str(tpl_dir / "score_safety.txt"))
    summary = judge_run(run, settings)
    assert summary.engine.ok == 600 and summary.engine.errors == 0 and summary.engine.parse_errors == 0
    # one call per item, except that an item whose prompt repeats an earlier one's (three
    # safety prompts do) may be answered from the cache
    assert stub_server.count + summary.engine.cached == 600 and stub_server.count >= len(by_prompt)

    judgments = RunDir(run).load_judgments()
    assert sorted(j.id for j in judgments) == sorted(recorded)
    for j in judgments:
        rec = recorded[j.id]
        assert j.status == "ok"
        assert j.scores == _expected_scores(rec["parsed_result"])
        assert j.raw == rec["result"]
        assert j.template.name == rec["eval_config"]["mode"]

    sent = {req.prompt_text for req in stub_server.requests}
    assert sent == {r["prompt"] for r in recorded.values()}
    for req in stub_server.requests:
        body = req.body
        assert body["messages"] == [{"role": "system", "content": UPSTREAM_SYSTEM},
                                    {"role": "user", "content": req.prompt_text}]
        assert body["temperature"] == 0 and body["max_tokens"] == 1024
        assert "response_format" not in body
