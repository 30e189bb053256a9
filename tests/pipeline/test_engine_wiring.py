"""The engine's fleet, circuit breaker and batch mode as the commands use them: a dead server
stops a stage fast with its reason (exit 1) and records nothing for what was not sent; several
`--base-url`s share the calls and each record says which server answered; `--batch` sends
through the Batch API and `--no-wait` leaves the batch to be collected by the same command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.records import Generation
from justeval.rundir import RunDir
from justeval.testing.batch_server import BatchPlan, BatchServer
from justeval.testing.dead_hosts import closed_port
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.pipeline.test_run_command import _instructions, responder


def _judged_run(tmp_path: Path, n: int = 6) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    RunDir(run).generations.write_text("".join(
        Generation(id=i, instruction=f"Question number {i}?", output=f"Answer to {i}.", generator="m").model_dump_json()
        + "\n" for i in range(n)), encoding="utf-8")
    return run


def test_a_dead_judge_server_stops_the_command_with_its_reason(tmp_path: Path, cli: CliRun) -> None:
    run = _judged_run(tmp_path)
    with closed_port() as port:
        code, out, err = cli("judge", str(run), "--judge", "openai:the-judge", "--base-url",
                             f"http://127.0.0.1:{port}/v1", "--no-progress")
    assert code == 1
    assert err.strip().splitlines()[-1].startswith(f"error: cannot reach http://127.0.0.1:{port}/v1")
    assert "6 item(s) not sent" in out + err and "Judging" in out  # the stage's table is still shown
    assert not RunDir(run).load_judgments()  # nothing recorded for what was not sent
    with StubServer(responder) as srv:  # the server is back: the same command judges everything
        code, _, err = cli("judge", str(run), "--judge", "openai:the-judge", "--base-url", srv.base_url,
                           "--no-progress")
        assert code == 0, err
        assert srv.count == 6 and len(RunDir(run).load_judgments()) == 6


def test_run_stops_after_a_dead_model_server_without_judging(tmp_path: Path, cli: CliRun) -> None:
    with StubServer(responder) as judge, closed_port() as port:
        code, _, err = cli("run", "--model", "openai:the-model", "--base-url", f"http://127.0.0.1:{port}/v1",
                           "--judge", "openai:the-judge", "--judge-base-url", judge.base_url, "--instructions",
                           str(_instructions(tmp_path)), "--out", str(tmp_path / "run"), "--no-progress")
        assert code == 1 and "cannot reach" in err.strip().splitlines()[-1]
        assert judge.count == 0


def test_several_base_urls_share_the_calls_and_records_name_the_server(tmp_path: Path, cli: CliRun) -> None:
    with StubServer(responder) as one, StubServer(responder) as two:
        code, _, err = cli("generate", "--model", "openai:the-model", "--base-url", one.base_url, "--base-url",
                           two.base_url, "--instructions", str(_instructions(tmp_path)), "--out",
                           str(tmp_path / "run"), "--no-progress", "--concurrency", "1")
        assert code == 0, err
        gens = RunDir(tmp_path / "run").load_generations()
        assert len(gens) == 8 and all(g.status == "ok" for g in gens)
        assert {g.endpoint for g in gens} == {one.base_url, two.base_url}
        assert one.count + two.count == 8 and one.count and two.count
        section = RunDir(tmp_path / "run").read_manifest().generate
        assert section is not None and section.settings.model.base_urls == [one.base_url, two.base_url]


def test_judge_in_batch_mode_submits_and_a_rerun_collects(tmp_path: Path, cli: CliRun) -> None:
    run = _judged_run(tmp_path)
    with BatchServer(responder, default_plan=BatchPlan(processing_s=0.3)) as srv:
        base = ["judge", str(run), "--judge", "openai:the-judge", "--base-url", srv.base_url, "--no-progress",
                "--batch"]
        code, out, err = cli(*base, "--no-wait")
        assert code == 0, err
        assert "6 request(s) waiting in 1 provider batch(es)" in out + err
        assert not RunDir(run).load_judgments() and len(srv.batches) == 1
        assert (run / "batches.jsonl").exists()
        code, _, err = cli(*base)  # the same command collects the batch: nothing submitted twice
        assert code == 0, err
        judged = RunDir(run).load_judgments()
        assert len(judged) == 6 and all(j.status == "ok" and j.batch_id for j in judged)
        assert len(srv.batches) == 1 and set(srv.batched.values()) == {1}
        assert all(not r.path.endswith("/chat/completions") for r in srv.requests)  # no ordinary calls
        recorded = json.loads((run / "run.json").read_text(encoding="utf-8"))
        assert recorded["judging"]["openai:the-judge"]["settings"]["engine"]["batch"] is True


def test_judge_dry_run_prices_synchronous_batch_and_prompt_caching(tmp_path: Path, cli: CliRun) -> None:
    run = _judged_run(tmp_path, n=400)
    code, out, err = cli("judge", str(run), "--judge", "openai:gpt-4o-mini", "--dry-run")
    assert code == 0, err
    line = next(x for x in out.splitlines() if x.startswith("openai:gpt-4o-mini:"))
    prices = [float(p.split("$")[1].split()[0].rstrip(";").replace(",", "")) for p in line.split(";")[:2]]
    sync, batch = prices
    assert "synchronous: $" in line and "batch (--batch): $" in line and "with prompt caching:" in line
    assert batch == pytest.approx(sync / 2, rel=0.02)  # the batch price map, or half where it has none
