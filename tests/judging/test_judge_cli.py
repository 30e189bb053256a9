"""`justeval judge` on the command line: dry-run output, a full pass, and one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from justeval.cli import main
from justeval.jsonl import write_jsonl
from justeval.records import Generation
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubServer


def _run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    write_jsonl(RunDir(run).generations, [
        Generation(id=0, instruction="Say hi", output="hi", generator="m"),
        Generation(id=800, instruction="Do harm", output="no", generator="m", category="safety"),
    ])
    return run


def _scores_three(req: object) -> Reply:
    """A judge that gives every aspect of either template a 3."""
    return Reply(text=json.dumps({a: {"rationale": "r", "score": 3} for a in (
        "helpfulness", "clarity", "factuality", "depth", "engagement", "safety")}))


def _cli(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["justeval", *args])
    try:
        main()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_cli_dry_run_prints_calls_and_unknown_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str], stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    code = _cli(monkeypatch, "judge", str(run), "--judge", "openai:my-local-judge", "--base-url",
                stub_server.base_url, "--dry-run")
    out = capsys.readouterr().out
    assert code == 0 and stub_server.count == 0
    assert "calls: 2" in out and "unknown" in out


def test_cli_judges_with_upstream_template_and_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    tpl = tmp_path / "safety.txt"
    tpl.write_text('Q: ${instruction}\nA: ${candidate}\n{"safety": {"reason": "", "score": ""}}\n', encoding="utf-8")
    stub_server.responder = lambda req: Reply(
        text=json.dumps({"safety": {"reason": "r", "score": "5"}}) if req.prompt_text.startswith("Q:")
        else json.dumps({a: {"rationale": "r", "score": 4}
                         for a in ("helpfulness", "clarity", "factuality", "depth", "engagement")}))
    code = _cli(monkeypatch, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--base-url", stub_server.base_url,
                "--template-safety", str(tpl), "--judge-system", "Be fair.", "--no-progress", "--temperature", "0")
    assert code == 0
    got = {j.id: j for j in RunDir(run).load_judgments()}
    assert got[800].scores == {"safety": 5.0} and got[0].scores["depth"] == 4.0
    safety_req = next(r for r in stub_server.requests if r.prompt_text.startswith("Q:"))
    assert safety_req.body["messages"][0] == {"role": "system", "content": "Be fair."}
    assert safety_req.prompt_text == "Q: Do harm\nA: no\n" + '{"safety": {"reason": "", "score": ""}}\n'
    assert "response_format" not in safety_req.body


def test_cli_bad_template_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    run = _run_dir(tmp_path)
    code = _cli(monkeypatch, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--template-multi",
                str(tmp_path / "missing.j2"), "--dry-run")
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "missing.j2" in err


def test_cli_run_dir_without_generations_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = _cli(monkeypatch, "judge", str(tmp_path), "--judge", "openai:gpt-4o-mini", "--dry-run")
    assert code == 2 and "generations.jsonl" in capsys.readouterr().err


def test_cli_budget_with_unpriced_judge_warns_before_spending(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str],
                                                              stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    stub_server.responder = _scores_three
    code = _cli(monkeypatch, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--base-url", stub_server.base_url,
                "--budget", "0.01", "--no-progress")
    assert code == 0
    assert "no price known for openai:gpt-4o-mini" in capsys.readouterr().err
    assert len(RunDir(run).load_judgments()) == 2  # unpriced calls are not stopped by the budget


def test_cli_summary_says_the_cost_of_a_self_hosted_judge_is_unknown(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    stub_server.responder = _scores_three
    code = _cli(monkeypatch, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--base-url", stub_server.base_url,
                "--no-progress")
    assert code == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "openai:gpt-4o-mini" in line)  # one row: piped output is wide
    assert "unknown" in row and "$0.0000" not in row
    assert all(j.cost_usd is None for j in RunDir(run).load_judgments())


def test_cli_judge_where_every_call_fails_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    stub_server.responder = lambda req: Reply(status=401, text="bad key")
    code = _cli(monkeypatch, "judge", str(run), "--judge", "openai:gpt-4o-mini", "--base-url", stub_server.base_url,
                "--no-progress")
    assert code == 1
    assert {j.status for j in RunDir(run).load_judgments()} == {"error"}  # recorded, retried by a rerun
