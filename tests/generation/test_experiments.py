"""The K sweep and greedy selection over the real generate and judge stages, against a loopback
server that plays both the model (its answer names the demonstrations it was shown) and the
judge (it scores those names), so the best choices are known in advance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.errors import JustevalError
from justeval.generation import urial as urial_mod
from justeval.generation.experiments import IclSelectSettings, SweepSettings, icl_select, sweep
from justeval.generation.prompting import PromptSettings
from justeval.records import Instruction
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.generation.conftest import fast_config

ASPECTS = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
TOPICS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
#: what the judge gives an answer that mentions each demonstration's topic (base score 1)
VALUE = {"alpha": 0, "beta": 2, "gamma": 0, "delta": 1, "epsilon": 0, "zeta": 0}
DEV = [Instruction(id=i, instruction=f"Dev question {i}: explain something.") for i in range(3)]


def _pool(tmp_path: Path) -> Path:
    rows = [{"instruction": f"Tell me about {t}.", "output": f"All about {t}."} for t in TOPICS]
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def responder(req: StubRequest) -> Reply:
    if req.body["model"] == "the-model":
        shown = [t for t in TOPICS if f"Tell me about {t}." in req.prompt_text]
        return Reply(text="Shown: " + (" ".join(shown) or "none") + f"\n{'`' * 3}\n")
    answer = req.prompt_text
    score = min(5, 1 + sum(v for t, v in VALUE.items() if re.search(rf"\b{t}\b", answer.split("Shown:")[-1])))
    return Reply(text=json.dumps({a: {"rationale": "ok", "score": score} for a in ASPECTS}))


@pytest.fixture
def server(stub_server: StubServer) -> StubServer:
    stub_server.responder = responder
    return stub_server


def _specs(server: StubServer) -> tuple[BackendSpec, BackendSpec]:
    return (BackendSpec(spec="openai:the-model", base_urls=[server.base_url], endpoint="completions"),
            BackendSpec(spec="openai:the-judge", base_urls=[server.base_url]))


def _start(tmp_path: Path) -> Path:
    path = tmp_path / "start.txt"
    path.write_text(urial_mod.load_urial("default").text, encoding="utf-8")
    return path


def test_the_sweep_runs_every_k_on_the_same_items_and_returns_the_chart(tmp_path: Path, server: StubServer) -> None:
    model, judge = _specs(server)
    settings = SweepSettings(model=model, judge=judge, shots=[0, 2, 4], selects=["fixed", "random-fixed"],
                             prompt=PromptSettings(urial=str(_start(tmp_path)), icl_examples=str(_pool(tmp_path))),
                             engine=fast_config())
    result = sweep(settings, DEV, tmp_path / "sweep")
    names = [p.name for p in result.points]
    assert names == ["k0", "fixed-k2", "random-fixed-k2", "fixed-k4", "random-fixed-k4"]
    by_name = {p.name: p for p in result.points}
    # fixed shows alpha, beta (k2) then gamma, delta (k4): the judge's values add up
    assert by_name["k0"].score.mean == 1.0
    assert by_name["fixed-k2"].score.mean == 3.0 and by_name["fixed-k4"].score.mean == 4.0
    for p in result.points:
        assert p.score.items == p.score.scored == len(DEV)
        assert set(p.score.aspects) == set(ASPECTS)
        gens = [json.loads(line) for line in (p.run_dir / "generations.jsonl").read_text().splitlines()]
        assert {g["id"] for g in gens} == {0, 1, 2} and {g["generator"] for g in gens} == {f"openai:the-model+{p.name}"}
        if p.shots:
            assert all(g["params"]["icl"]["used"] == p.shots for g in gens)
    chart = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["points"]
    assert [(row["name"], row["shots"], row["mean"]) for row in chart] == [
        (p.name, p.shots, p.score.mean) for p in result.points]
    calls = server.count
    again = sweep(settings, DEV, tmp_path / "sweep")
    assert server.count == calls and [p.score.mean for p in again.points] == [p.score.mean for p in result.points]


def test_greedy_selection_keeps_the_best_candidate_at_each_step(tmp_path: Path, server: StubServer) -> None:
    model, judge = _specs(server)
    start = _start(tmp_path)
    settings = IclSelectSettings(model=model, judge=judge, pool=str(_pool(tmp_path)), start=str(start), steps=2,
                                 candidates=10, engine=fast_config())
    out = tmp_path / "best.txt"
    result = icl_select(settings, DEV, out)
    assert result.chosen == [TOPICS.index("beta"), TOPICS.index("delta")]
    assert result.start is not None and result.start.mean == 1.0 and result.step_scores == [3.0, 4.0]
    # the prompt file: the chosen demonstrations before the start prompt's own examples, in order
    base = urial_mod.load_urial(str(start))
    assert out.read_text(encoding="utf-8") == base.with_examples(
        before=[("Tell me about beta.", "All about beta."), ("Tell me about delta.", "All about delta.")])
    log = [json.loads(line) for line in result.log.read_text().splitlines()]
    kinds = [(r["kind"], r["step"]) for r in log]
    assert kinds.count(("candidate", 1)) == 6 and kinds.count(("candidate", 2)) == 5
    assert ("start", 0) in kinds and [r["candidate"] for r in log if r["kind"] == "chosen"] == result.chosen
    step1 = {r["candidate"]: r["mean"] for r in log if r["kind"] == "candidate" and r["step"] == 1}
    assert step1 == {i: 1.0 + VALUE[t] for i, t in enumerate(TOPICS)}
    # a rerun pays for nothing and logs nothing again
    calls, lines = server.count, len(log)
    icl_select(settings, DEV, out)
    assert server.count == calls and len(result.log.read_text().splitlines()) == lines
    # one more step continues the same selection: only the third step's candidates are new
    more = icl_select(settings.model_copy(update={"steps": 3}), DEV, out)
    assert more.chosen[:2] == result.chosen and server.count > calls


def test_greedy_dry_run_plans_every_call_and_sends_none(tmp_path: Path, server: StubServer) -> None:
    model, _ = _specs(server)
    settings = IclSelectSettings(model=model, judge=BackendSpec(spec="openai:gpt-4o-mini"),
                                 pool=str(_pool(tmp_path)), start=str(_start(tmp_path)), steps=2, candidates=4,
                                 engine=fast_config())
    result = icl_select(settings, DEV, tmp_path / "best.txt", dry_run=True)
    assert result.plan is not None and server.count == 0
    passes = 1 + 4 + 4  # the start prompt, then four candidates per step
    assert result.plan.generation_calls == result.plan.judge_calls == passes * len(DEV)
    assert result.plan.generation_cost_usd is None  # a self-hosted model has no price
    assert result.plan.judge_cost_usd is not None and result.plan.judge_cost_usd > 0
    assert not (tmp_path / "best.txt").exists()


def test_a_work_folder_of_another_selection_is_refused(tmp_path: Path, server: StubServer) -> None:
    model, judge = _specs(server)
    settings = IclSelectSettings(model=model, judge=judge, pool=str(_pool(tmp_path)), start=str(_start(tmp_path)),
                                 steps=1, candidates=2, engine=fast_config())
    icl_select(settings, DEV, tmp_path / "best.txt")
    with pytest.raises(JustevalError, match="different candidates"):
        icl_select(settings.model_copy(update={"candidates": 3}), DEV, tmp_path / "best.txt")


def test_candidates_that_duplicate_a_dev_instruction_are_never_tried(tmp_path: Path, server: StubServer) -> None:
    model, judge = _specs(server)
    dev = [Instruction(id=0, instruction="Tell me about beta!")]  # the best candidate, up to punctuation
    settings = IclSelectSettings(model=model, judge=judge, pool=str(_pool(tmp_path)), start=str(_start(tmp_path)),
                                 steps=1, candidates=10, engine=fast_config())
    result = icl_select(settings, dev, tmp_path / "best.txt")
    assert TOPICS.index("beta") not in {c.candidate for c in result.scores}
    assert result.chosen == [TOPICS.index("delta")]
