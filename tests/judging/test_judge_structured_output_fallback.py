"""A server that refuses structured output (`response_format`) still gets every item judged:
the judge asks once more without it and keeps going without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.judging.test_judge_stage import judge_by_prompt, make_run, records, run_judge, score_for


def refuses_json_schema(req: StubRequest) -> Reply:
    if "response_format" in req.body:
        return Reply(status=400, text="response_format json_schema is not supported by this server")
    return judge_by_prompt(req)


def test_a_server_that_rejects_response_format_is_judged_without_it(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = make_run(tmp_path)
    with StubServer(refuses_json_schema) as srv:
        summary = run_judge(run, srv)
        sent = [r.body for r in srv.requests]
    assert summary.engine.ok == 6 and summary.engine.errors == 0
    assert all(j.status == "ok" and j.scores[next(iter(j.scores))] == score_for(j.id) for j in records(run))
    with_format = [b for b in sent if "response_format" in b]
    assert 1 <= len(with_format) <= 4  # only the first calls in flight (concurrency 4) tried it
    assert len(sent) - len(with_format) == 6  # then each item exactly once without it
    assert capsys.readouterr().err.count("rejected structured output") == 1


def test_other_bad_requests_are_not_resent(tmp_path: Path) -> None:
    run = make_run(tmp_path, n_regular=1, n_safety=0)
    with StubServer(lambda req: Reply(status=400, text="model not found")) as srv:
        summary = run_judge(run, srv)
        assert srv.count == 1  # a 400 about something else is final, as before
    assert summary.engine.errors == 1
