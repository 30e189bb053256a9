"""A judgment's identity (judge + template set) decides where it is stored and how a board
picks it; a failed second judge is no judge; judgments of replaced outputs are left out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.board import Settings, build_leaderboard
from justeval.engine.engine import EngineConfig
from justeval.errors import InputError
from justeval.judging.templates import load_template
from justeval.records import judging_identity
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun
from tests.judging.test_judge_stage import (
    MULTI,
    judge_by_prompt,
    make_run,
    multi_reply,
    records,
    run_judge,
    safety_reply,
)

JUDGE = "openai:gpt-4o-mini"


def upstream_templates(shared_data: Path) -> dict[str, str]:
    folder = shared_data / "upstream-templates/just-eval"
    return {"template_multi": str(folder / "score_multi.txt"), "template_safety": str(folder / "score_safety.txt")}


def ours_or_upstream(req: StubRequest) -> Reply:
    """Scores 4 to our templates and 2 to the upstream ones (sent with the original's system
    message), so each judging's numbers can be told apart."""
    upstream = req.body["messages"][0]["role"] == "system"
    text = req.prompt_text
    score = 2 if upstream else 4
    is_safety = '"safety"' in text and '"helpfulness"' not in text
    return Reply(text=safety_reply(score) if is_safety else multi_reply(score))


def no_cache() -> EngineConfig:
    return EngineConfig(concurrency=4, progress=False, parse_retries=0, cache=False, max_retries=0)


def test_a_failed_second_judge_does_not_make_the_board_refuse_the_run(tmp_path: Path,
                                                                       stub_server: StubServer) -> None:
    run = make_run(tmp_path)
    stub_server.responder = judge_by_prompt
    run_judge(run, stub_server, JUDGE)
    stub_server.responder = lambda req: Reply(status=400, text="bad request")
    failed = run_judge(run, stub_server, "openai:other-judge", engine_config=no_cache())
    assert failed.engine.errors == 6 and failed.engine.ok == 0
    assert {j.judge for j in records(run) if j.status == "error"} == {"openai:other-judge"}
    built = build_leaderboard([run], settings=Settings(bootstrap=0))
    row = built.board.rows[0]
    assert row.aspects["helpfulness"].judges == [JUDGE] and row.counts["judged"] == 6
    assert row.counts["judge_errors"] == 0  # the other judge's failures are not this board's
    # item i scores i % 5 + 1 (judge_by_prompt): the mean of items 0-3
    assert row.aspects["helpfulness"].mean == pytest.approx((1 + 2 + 3 + 4) / 4)
    assert any("openai:other-judge" in n and "only failed calls" in n for n in built.board.notes)


def test_an_upstream_rejudge_is_stored_apart_and_template_picks_either(tmp_path: Path, stub_server: StubServer,
                                                                       shared_data: Path, cli: CliRun) -> None:
    run = make_run(tmp_path)
    stub_server.responder = ours_or_upstream
    ours = run_judge(run, stub_server, JUDGE, engine_config=no_cache())
    upstream = run_judge(run, stub_server, JUDGE, engine_config=no_cache(), **upstream_templates(shared_data))
    assert ours.path == run / "judgments.jsonl"  # the first judging writes where it always did
    assert upstream.path == run / "judgments" / f"openai_gpt-4o-mini@{upstream.identity}.jsonl"
    assert upstream.identity != ours.identity and upstream.engine.ok == 6 and stub_server.count == 12
    up_multi = load_template(upstream_templates(shared_data)["template_multi"])
    assert upstream.identity == judging_identity(JUDGE, [up_multi.hash, upstream.templates["safety"].hash])
    for path, identity in ((ours.path, ours.identity), (upstream.path, upstream.identity)):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert len(lines) == 6 and {rec["identity"] for rec in lines} == {identity}  # never mixed

    # both judgings give every cell: the board asks which, in one line, exit 2
    code, out, err = cli("leaderboard", str(run), "--bootstrap", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--template" in err and ours.identity in err and upstream.identity in err
    # the upstream template's name is ours too (score_multi), its hash is not
    for choice, score in ((up_multi.hash, 2.0), (upstream.identity, 2.0), (ours.identity, 4.0),
                          (load_template("score_multi").hash, 4.0)):
        code, out, err = cli("leaderboard", str(run), "--template", choice, "--bootstrap", "0", "--format", "json")
        assert code == 0, err
        model = json.loads(out)["models"][0]
        assert model["aspects"]["helpfulness"]["mean"] == score and model["aspects"]["safety"]["mean"] == score
        assert model["counts"]["judged"] == 6


def test_resuming_one_judging_never_pays_the_calls_of_another(tmp_path: Path, stub_server: StubServer,
                                                              shared_data: Path) -> None:
    run = make_run(tmp_path)
    stub_server.responder = ours_or_upstream
    up = upstream_templates(shared_data)
    run_judge(run, stub_server, JUDGE, engine_config=no_cache(), selection={"limit": 3})  # ours, half done
    run_judge(run, stub_server, JUDGE, engine_config=no_cache(), **up)    # upstream, all
    assert stub_server.count == 3 + 6
    again = run_judge(run, stub_server, JUDGE, engine_config=no_cache())   # ours resumes: the other 3
    assert again.to_do == 3 and again.already_done == 3 and stub_server.count == 12
    assert run_judge(run, stub_server, JUDGE, engine_config=no_cache(), **up).to_do == 0
    assert run_judge(run, stub_server, JUDGE, engine_config=no_cache()).to_do == 0
    assert stub_server.count == 12
    assert len((run / "judgments.jsonl").read_text().splitlines()) == 6


def _as_old_records(run: Path) -> None:
    """Rewrite the judgments as a version before identities and output digests wrote them."""
    for path in RunDir(run).judgment_files():
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        for rec in lines:
            for key in ("identity", "output_sha256", "repeat"):
                rec.pop(key, None)
        path.write_text("".join(json.dumps(rec) + "\n" for rec in lines))


def test_an_old_run_directory_loads_and_resumes_unchanged(tmp_path: Path, stub_server: StubServer) -> None:
    run = make_run(tmp_path)
    stub_server.responder = judge_by_prompt
    run_judge(run, stub_server, JUDGE, engine_config=no_cache(), selection={"limit": 4})
    _as_old_records(run)
    before = build_leaderboard([run], settings=Settings(bootstrap=50)).board.rows[0]
    assert before.aspects["helpfulness"].mean == pytest.approx((1 + 2 + 3 + 4) / 4)
    assert before.counts["judged"] == 4 and before.counts["items"] == 6  # the safety items not judged yet
    # a newer version resumes in the same file, paying only the 2 items left
    more = run_judge(run, stub_server, JUDGE, engine_config=no_cache())
    assert more.path == run / "judgments.jsonl" and more.to_do == 2 and stub_server.count == 6
    after = build_leaderboard([run], settings=Settings(bootstrap=50, template=more.choice())).board.rows[0]
    assert after.counts["judged"] == 6 and after.aspects["helpfulness"].mean == before.aspects["helpfulness"].mean
    assert after.aspects["helpfulness"].ci_low == before.aspects["helpfulness"].ci_low  # same records, same draws


@pytest.mark.parametrize("old_records", [False, True], ids=["new-records", "records-of-an-older-version"])
def test_import_overwrite_leaves_the_replaced_outputs_not_judged(tmp_path: Path, stub_server: StubServer,
                                                                 cli: CliRun, old_records: bool) -> None:
    items = tmp_path / "instructions.jsonl"
    items.write_text("".join(json.dumps({"id": i, "instruction": f"QUESTION-{i} please"}) + "\n" for i in range(4)))
    first = tmp_path / "gpt4.jsonl"
    first.write_text("".join(json.dumps({"id": i, "output": f"answer {i}", "generator": "gpt-4"}) + "\n"
                             for i in range(4)))
    run = tmp_path / "run"
    assert cli("import", str(first), "--out", str(run), "--instructions", str(items))[0] == 0
    stub_server.responder = judge_by_prompt
    run_judge(run, stub_server, JUDGE, engine_config=no_cache())
    if old_records:
        _as_old_records(run)
    second = tmp_path / "gpt35.jsonl"  # item 1's output replaced, the others as they were
    second.write_text("".join(json.dumps({"id": i, "output": "other" if i == 1 else f"answer {i}",
                                          "generator": "gpt-3.5"}) + "\n" for i in range(4)))
    assert cli("import", str(second), "--out", str(run), "--instructions", str(items), "--overwrite")[0] == 0
    code, out, err = cli("leaderboard", str(run), "--bootstrap", "0", "--format", "json")
    assert code == 0, err
    board = json.loads(out)
    assert [m["model"] for m in board["models"]] == ["gpt-3.5"]  # no gpt-4 row made of its old judgments
    model = board["models"][0]
    assert model["counts"]["judged"] == 3 and model["counts"]["not_judged"] == 1
    # items 0, 2, 3 keep their scores (i % 5 + 1); item 1's old score (2) is gone
    assert model["aspects"]["helpfulness"]["mean"] == pytest.approx((1 + 3 + 4) / 3)
    assert any("1 item(s) judged an output that has since been replaced" in n for n in board["notes"])
    # judging again scores only the new output
    again = run_judge(run, stub_server, JUDGE, engine_config=no_cache())
    assert again.to_do == 1 and again.already_done == 3


def test_judgments_of_several_judges_record_their_identity_and_output(tmp_path: Path,
                                                                       stub_server: StubServer) -> None:
    run = make_run(tmp_path, n_regular=2, n_safety=0)
    stub_server.responder = judge_by_prompt
    run_judge(run, stub_server, JUDGE)
    run_judge(run, stub_server, "openai:second")
    files = sorted(p.relative_to(run).as_posix() for p in RunDir(run).judgment_files())
    assert files == ["judgments.jsonl", "judgments/openai_second.jsonl"]  # not piled up in one file
    gens = RunDir(run).ok_generations()
    from justeval.records import output_digest

    for rec in records(run):
        assert rec.output_sha256 == output_digest(gens[rec.id].output or "") and rec.repeat == 0
    with pytest.raises(InputError, match="pick one with --judge"):
        build_leaderboard([run], settings=Settings(bootstrap=0))
    assert set(MULTI) <= set(build_leaderboard([run], settings=Settings(bootstrap=0, judge=["openai:second"]))
                             .board.aspects)


def test_a_newer_version_retrying_an_old_failed_call_supersedes_it(tmp_path: Path, stub_server: StubServer) -> None:
    run = make_run(tmp_path, n_regular=2, n_safety=0)
    stub_server.responder = lambda req: Reply(status=400, text="bad request")
    run_judge(run, stub_server, JUDGE, engine_config=no_cache())
    _as_old_records(run)  # two failed calls, as an older version recorded them
    stub_server.responder = judge_by_prompt
    retried = run_judge(run, stub_server, JUDGE, engine_config=no_cache())
    assert retried.to_do == 2 and retried.path == run / "judgments.jsonl"
    stat = build_leaderboard([run], settings=Settings(bootstrap=0)).board.rows[0].aspects["helpfulness"]
    assert stat.n == 2 and stat.judge_errors == 0 and stat.repeats == 1 and stat.spread is None
