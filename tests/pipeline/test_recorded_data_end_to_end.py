"""The stages composed on the real recorded data: the published outputs of gpt-3.5-turbo-0301
are imported, judged through the CLI by a loopback judge that answers each original prompt with
its recorded reply (upstream templates), and the leaderboard built from our own judgment records
reproduces the original report arithmetic."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun

pytestmark = pytest.mark.integration
MODEL = "gpt-3.5-turbo-0301"


def _recorded(shared_data: Path) -> list[dict]:
    files = [shared_data / f"judgments/score_multi.gpt-4-1106-preview/{MODEL}.jsonl",
             shared_data / f"judgments/score_safety.gpt-3.5-turbo-0613/{MODEL}.jsonl"]
    return [json.loads(line) for f in files for line in f.read_text(encoding="utf-8").splitlines()]


def test_import_judge_leaderboard_reproduce_the_report(shared_data: Path, tmp_path: Path, cli: CliRun) -> None:
    recorded = _recorded(shared_data)
    judged_ids = {r["id"] for r in recorded}
    by_prompt = {r["prompt"]: r["result"] for r in recorded}
    instructions = shared_data / "just-eval-instruct/instructions.jsonl"
    templates = shared_data / "upstream-templates/just-eval"
    run = tmp_path / "run"

    outputs = tmp_path / "outputs.jsonl"  # the published outputs of exactly the recorded items
    rows = [json.loads(line) for line in (shared_data / f"outputs/{MODEL}.jsonl").read_text().splitlines()]
    outputs.write_text("".join(json.dumps(r) + "\n" for r in rows if r["id"] in judged_ids))
    code, _, err = cli("import", str(outputs), "--out", str(run), "--instructions", str(instructions),
                       "--generator", MODEL)
    assert code == 0, err

    def judge(req: StubRequest) -> Reply:
        return Reply(text=by_prompt[req.prompt_text]) if req.prompt_text in by_prompt else Reply(status=400)

    with StubServer(judge) as server:
        code, _, err = cli("judge", str(run), "--judge", "openai:gpt-4-1106-preview", "--base-url", server.base_url,
                           "--template-multi", str(templates / "score_multi.txt"),
                           "--template-safety", str(templates / "score_safety.txt"),
                           "--concurrency", "32", "--no-progress")
    assert code == 0, err

    code, stdout, err = cli("leaderboard", str(run), "--na-as", "5", "--format", "json", "--bootstrap", "0")
    assert code == 0, err
    (row,) = json.loads(stdout)["models"]
    scores: dict[str, list[str]] = {}
    for r in recorded:
        for aspect, entry in r["parsed_result"].items():
            scores.setdefault(aspect, []).append(entry["score"])
    assert set(row["aspects"]) == set(scores) == {"helpfulness", "clarity", "factuality", "depth", "engagement",
                                                  "safety"}
    for aspect, given in scores.items():
        report_mean = sum(5.0 if s == "N/A" else float(s) for s in given) / len(given)
        assert row["aspects"][aspect]["mean"] == pytest.approx(report_mean, abs=1e-9), aspect
        assert row["aspects"][aspect]["n"] == len(given)
