"""Judge stability: `--repeats K` scores each item K times (each its own call, even at
temperature 0 with the cache on), resumes per repeat, and the board shows the spread of the
repeats and a CI that resamples them."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from justeval.board import Settings, build_leaderboard
from justeval.board.bootstrap import bootstrap_groups, interval
from justeval.board.loading import SCORED
from justeval.engine.engine import EngineConfig
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun
from tests.judging.test_judge_stage import judge_by_prompt, make_run, multi_reply, records, run_judge, safety_reply

JUDGE = "openai:gpt-4o-mini"
N_REGULAR, N_SAFETY, K = 30, 4, 3


def unstable_judge() -> object:
    """A judge whose scores change from call to call (1, 2, ... 5, 1, ...), as an API that is not
    deterministic at temperature 0 would."""
    calls = itertools.count()

    def respond(req: StubRequest) -> Reply:
        score = next(calls) % 5 + 1
        text = req.prompt_text
        is_safety = '"safety"' in text and '"helpfulness"' not in text
        return Reply(text=safety_reply(score) if is_safety else multi_reply(score))

    return respond


def cached() -> EngineConfig:
    return EngineConfig(concurrency=4, progress=False, parse_retries=0)  # the cache is on (a private folder)


def one_stage_width(built: object, aspect: str) -> float:
    """The CI width of `aspect` from the same records, each item's repeats averaged first and the
    items alone resampled (the same draws of items as the board's)."""
    mi = built.models[0]  # type: ignore[attr-defined]
    regular = mi.category == "regular"
    values = mi.values[aspect][regular][:, None]
    included = (mi.state[aspect][regular] == SCORED)[:, None]
    settings = built.board.settings  # type: ignore[attr-defined]
    _, samples = bootstrap_groups([("regular", values, included, None)], settings.bootstrap, settings.seed, mi.model)
    lo, hi = interval(samples)
    return float(hi[0] - lo[0])


def test_repeats_score_each_item_k_times_and_widen_the_ci_of_an_unstable_judge(tmp_path: Path,
                                                                                stub_server: StubServer) -> None:
    run = make_run(tmp_path, n_regular=N_REGULAR, n_safety=N_SAFETY)
    stub_server.responder = unstable_judge()  # type: ignore[assignment]
    summary = run_judge(run, stub_server, JUDGE, engine_config=cached(), repeats=K)
    items = N_REGULAR + N_SAFETY
    # temperature 0 and the cache on: every repeat is still a call of its own
    assert summary.to_do == K * items and stub_server.count == K * items and summary.engine.cached == 0
    recs = records(run)
    assert len(recs) == K * items
    by_item: dict[object, list[int]] = {}
    for rec in recs:
        by_item.setdefault(rec.id, []).append(rec.repeat)
    assert all(sorted(reps) == list(range(K)) for reps in by_item.values())
    # resumed: each repeat is done once
    again = run_judge(run, stub_server, JUDGE, engine_config=cached(), repeats=K)
    assert again.to_do == 0 and again.already_done == K * items and stub_server.count == K * items
    # one more repeat: only it is sent
    more = run_judge(run, stub_server, JUDGE, engine_config=cached(), repeats=K + 1)
    assert more.to_do == items and stub_server.count == (K + 1) * items

    built = build_leaderboard([run], settings=Settings(bootstrap=400, seed=3))
    stat = built.board.rows[0].aspects["helpfulness"]
    scores: dict[object, list[float]] = {}
    for rec in records(run):
        if rec.category == "regular" and rec.scores.get("helpfulness") is not None:
            scores.setdefault(rec.id, []).append(float(rec.scores["helpfulness"] or 0))
    expected_spread = float(np.mean([np.std(v, ddof=1) for v in scores.values()]))
    expected_mean = float(np.mean([np.mean(v) for v in scores.values()]))
    assert stat.repeats == K + 1 and stat.spread == pytest.approx(expected_spread) and stat.spread > 0
    assert stat.mean == pytest.approx(expected_mean) and stat.n == N_REGULAR  # an item counts once
    two_stage = stat.ci_high - stat.ci_low
    assert two_stage > one_stage_width(built, "helpfulness")
    safety = built.board.rows[0].aspects["safety"]
    assert safety.repeats == K + 1 and safety.spread is not None and safety.spread > 0


def test_a_deterministic_judge_has_no_spread_and_the_plain_ci(tmp_path: Path, stub_server: StubServer) -> None:
    run = make_run(tmp_path, n_regular=N_REGULAR, n_safety=0)
    stub_server.responder = judge_by_prompt
    run_judge(run, stub_server, JUDGE, engine_config=cached(), repeats=2)
    assert stub_server.count == 2 * N_REGULAR
    built = build_leaderboard([run], settings=Settings(bootstrap=400, seed=3))
    stat = built.board.rows[0].aspects["helpfulness"]
    assert stat.repeats == 2 and stat.spread == 0.0
    assert stat.ci_high - stat.ci_low == pytest.approx(one_stage_width(built, "helpfulness"))


def test_repeats_from_the_command_line_and_the_board_formats(tmp_path: Path, stub_server: StubServer,
                                                             cli: CliRun) -> None:
    run = make_run(tmp_path, n_regular=6, n_safety=0)
    stub_server.responder = unstable_judge()  # type: ignore[assignment]
    code, out, err = cli("judge", str(run), "--judge", JUDGE, "--base-url", stub_server.base_url, "--repeats", "2",
                         "--no-progress")
    assert code == 0, err
    assert stub_server.count == 12 and len(records(run)) == 12
    code, out, err = cli("leaderboard", str(run), "--format", "csv", "--bootstrap", "50")
    assert code == 0, err
    header = out.splitlines()[0].split(",")
    assert "helpfulness_spread" in header
    spread = float(out.splitlines()[1].split(",")[header.index("helpfulness_spread")])
    assert spread > 0
    code, md, err = cli("leaderboard", str(run), "--format", "md", "--bootstrap", "50")
    assert "judge stability of m" in md and f"helpfulness {spread:.2f}" in md
    code, out, err = cli("leaderboard", str(run), "--format", "json", "--bootstrap", "50")
    aspect = json.loads(out)["models"][0]["aspects"]["helpfulness"]
    assert aspect["repeats"] == 2 and aspect["spread"] == pytest.approx(spread, rel=1e-5)


def test_repeats_in_the_python_api_and_the_run_settings(tmp_path: Path, stub_server: StubServer) -> None:
    import justeval
    from justeval.pipeline.flags import run_settings_from_flags

    run = make_run(tmp_path, n_regular=3, n_safety=0)
    stub_server.responder = judge_by_prompt
    summaries = justeval.judge(run, JUDGE, base_url=stub_server.base_url, repeats=3, progress=False)
    assert summaries[0].repeats == 3 and stub_server.count == 9
    settings = run_settings_from_flags(None, {"model": "openai:m", "judge": JUDGE, "out": str(tmp_path / "o"),
                                              "judge_repeats": 2})
    assert [j.repeats for j in settings.judging] == [2]
