"""`--panel mean|median|majority`: three judges score one run through the real `justeval judge`
against a loopback server; the board's panel means, its counts and the judges' alpha are
recomputed here from the judgment files on disk. Also: the majority's tie rule, the panel's
state when no judge scored a cell, and self-preference flagged in every output."""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import justeval
from justeval.board.family import family, own_judges
from justeval.board.panel import combine
from justeval.board.schema import schema
from justeval.jsonl import write_jsonl
from justeval.records import Generation, Judgment
from justeval.rundir import RunDir
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun

from .test_leaderboard_alpha import pairwise_alpha

MULTI = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
JUDGES = ["openai:judge-a", "openai:judge-b", "openai:gpt-4o-mini-2024-07-18"]
N_ITEMS = 6


def _score(model: str, item: int, aspect: str) -> int:
    """Each judge's score: they agree on some items, split on others."""
    base = {"judge-a": item % 5 + 1, "judge-b": (item + 1) % 5 + 1, "gpt-4o-mini-2024-07-18": item % 5 + 1}[model]
    return base if aspect != "depth" else min(5, base + (model == "judge-b"))


def _panel_judge(req: StubRequest) -> Reply:
    model = req.body["model"]
    item = int(req.prompt_text.split("QUESTION-", 1)[1].split(" ", 1)[0])
    if item >= 800:
        return Reply(text=json.dumps({"safety": {"rationale": "ok", "score": 5 if model == "judge-a" else 4}}))
    if model == "judge-a" and item == 3:
        return Reply(text="no JSON here")  # a parse error: the other two judges carry the item
    scores = {a: {"rationale": "r", "score": "N/A" if (model == "judge-b" and item == 2 and a == "clarity")
                  else _score(model, item, a)} for a in MULTI}
    return Reply(text=json.dumps(scores))


@pytest.fixture
def judged_run(tmp_path: Path, stub_server: StubServer, cli: CliRun) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    gens = [Generation(id=i, instruction=f"QUESTION-{i} please", output=f"answer {i}", generator="gpt-4o-mini")
            for i in range(N_ITEMS)]
    gens += [Generation(id=800 + i, instruction=f"QUESTION-{800 + i} harmful", output="no", generator="gpt-4o-mini",
                        category="safety") for i in range(2)]
    write_jsonl(RunDir(run).generations, gens)
    stub_server.responder = _panel_judge
    args = [a for j in JUDGES for a in ("--judge", j)]
    code, _, err = cli("judge", str(run), *args, "--base-url", stub_server.base_url, "--parse-retries", "0",
                       "--no-progress")
    assert code == 0, err
    return run


def _scores_on_disk(run: Path) -> dict[tuple[int, str], list[float]]:
    """(item, aspect) -> the scores the judges gave, read back from every judgment file."""
    cells: dict[tuple[int, str], list[float]] = {}
    for path in RunDir(run).judgment_files():
        for line in path.read_text(encoding="utf-8").splitlines():
            j = Judgment.model_validate_json(line)
            if j.status == "ok":
                for a, s in j.scores.items():
                    if s is not None:
                        cells.setdefault((int(j.id), a), []).append(float(s))
    return cells


def _majority(values: list[float]) -> float:
    counts = Counter(values).most_common()
    top = [v for v, c in counts if c == counts[0][1]]
    return sum(top) / len(top)


PANEL = {"mean": statistics.mean, "median": statistics.median, "majority": _majority}


@pytest.mark.parametrize("method", ["mean", "median", "majority"])
def test_the_panel_board_is_the_per_item_combination_of_the_judges_on_disk(judged_run: Path, cli: CliRun,
                                                                           method: str) -> None:
    code, out, err = cli("leaderboard", str(judged_run), "--panel", method, "--format", "json", "--bootstrap", "0")
    assert code == 0, err
    doc = json.loads(out)
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(doc, schema())
    cells = _scores_on_disk(judged_run)
    assert len(RunDir(judged_run).judgment_files()) == 3
    (row,) = doc["models"]
    for aspect in [*MULTI, "safety"]:
        per_item = [PANEL[method](v) for (i, a), v in sorted(cells.items()) if a == aspect]
        stat = row["aspects"][aspect]
        assert stat["mean"] == pytest.approx(statistics.mean(per_item)), aspect
        assert stat["n"] == len(per_item) and sorted(stat["judge"]) == sorted(JUDGES)
    # item 3: judge-a's reply was unreadable, the other two scored it: nothing lost, no error counted
    assert row["aspects"]["helpfulness"]["n"] == N_ITEMS and row["counts"]["parse_errors"] == 0
    panel = doc["panel"]
    assert panel["method"] == method and panel["judges"] == sorted(JUDGES)
    assert panel["metric"] == ("nominal" if method == "majority" else "interval")
    for aspect in MULTI:
        units = [v for (i, a), v in cells.items() if a == aspect and len(v) >= 2]
        alpha = panel["alpha"][aspect]
        assert alpha["alpha"] == pytest.approx(pairwise_alpha(units, panel["metric"]), abs=1e-12)
        assert alpha["units"] == len(units) and alpha["values"] == sum(map(len, units))
    assert any(n.startswith("Panel: the " + method) for n in doc["notes"])
    # the generator gpt-4o-mini is judged by openai:gpt-4o-mini-2024-07-18: self-preference
    assert row["self_preference"] == ["openai:gpt-4o-mini-2024-07-18"]


def test_without_panel_several_judges_still_ask_to_pick_one(judged_run: Path, cli: CliRun) -> None:
    code, _, err = cli("leaderboard", str(judged_run), "--bootstrap", "0")
    assert code == 2 and "pick one with --judge" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("leaderboard", str(judged_run), "--panel", "vote")
    assert code == 2 and "unknown --panel 'vote'" in err


def test_panel_of_chosen_judges_and_every_output_shows_it(judged_run: Path, cli: CliRun, tmp_path: Path) -> None:
    two = ["--judge", JUDGES[0], "--judge", JUDGES[1]]
    code, out, err = cli("leaderboard", str(judged_run), *two, "--panel", "mean", "--format", "json",
                         "--bootstrap", "0")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["panel"]["judges"] == JUDGES[:2] and doc["settings"]["panel"] == "mean"
    assert doc["models"][0]["self_preference"] == []  # its own family's judge is not in this panel
    code, out, _ = cli("leaderboard", str(judged_run), "--panel", "median", "--format", "md", "--bootstrap", "0")
    assert "gpt-4o-mini †" in out and "Krippendorff's alpha (interval)" in out and "self-preference" in out
    code, out, _ = cli("leaderboard", str(judged_run), "--panel", "median", "--bootstrap", "0")
    assert "gpt-4o-mini †" in out and "Panel: the median of 3 judges" in out
    code, out, _ = cli("leaderboard", str(judged_run), "--panel", "median", "--format", "csv", "--bootstrap", "0")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["self_preference"] == "openai:gpt-4o-mini-2024-07-18"
    site = tmp_path / "site"
    code, _, err = cli("publish", str(judged_run), "--panel", "majority", "--out", str(site), "--bootstrap", "0")
    assert code == 0, err
    page = (site / "index.html").read_text(encoding="utf-8")
    assert 'class="self-pref"' in page and "Krippendorff&#39;s alpha (nominal)" in page
    frame = justeval.leaderboard(judged_run, panel="median", bootstrap=0)
    assert bool(frame.loc[0, "self_preference"]) and frame.attrs["panel"]["method"] == "median"
    assert set(frame.attrs["panel"]["alpha"]) == {*MULTI, "safety"}


def test_majority_ties_take_the_mean_of_the_tied_scores_and_judges_without_a_score_are_left_out() -> None:
    n = np.nan
    scores = np.array([[3, 4, n], [2, 2, 5], [1, 3, 5], [n, n, n], [4, n, n]])
    assert np.allclose(combine(scores, "majority"), [3.5, 2.0, 3.0, n, 4.0], equal_nan=True)
    assert np.allclose(combine(scores, "median"), [3.5, 2.0, 3.0, n, 4.0], equal_nan=True)
    assert np.allclose(combine(scores, "mean"), [3.5, 3.0, 3.0, n, 4.0], equal_nan=True)


def test_family_rule() -> None:
    assert family("openai:gpt-4o-mini-2024-07-18") == family("gpt-4o-mini") == "gpt-4o-mini"
    assert family("gpt-4-1106-preview") == family("openai:gpt-4") == "gpt-4"
    assert family("gpt-3.5-turbo-0301") == "gpt-3.5-turbo"
    assert family("hf:meta-llama/Llama-2-70b-chat-hf") == "llama-2-70b-chat-hf"
    assert family("Llama-2-70b-chat-hf.p=1.0.t=0.0") == "llama-2-70b-chat-hf"
    assert family("openai:m+k5") == "m" and family("ollama:llama3:8b") == "llama3:8b"
    assert family("anthropic:claude-3-5-sonnet-20241022") == family("claude-3-5-sonnet@20240620")
    assert family("gpt-4o") != family("gpt-4o-mini") and family("gpt-4") != family("gpt-4-turbo")
    assert own_judges("gpt-4o-mini", ["openai:gpt-4o-mini", "openai:gpt-4o"]) == ["openai:gpt-4o-mini"]


def test_self_preference_on_the_recorded_just_eval_judgments(shared_data: Path, cli: CliRun) -> None:
    """Upstream's safety judge was gpt-3.5-turbo-0613: its score of gpt-3.5-turbo-0301 is self-preference."""
    folder = shared_data / "judgments" / "score_safety.gpt-3.5-turbo-0613"
    files = [folder / "gpt-3.5-turbo-0301.jsonl", folder / "gpt-4-0613.jsonl"]
    code, out, err = cli("leaderboard", *(a for f in files for a in ("--upstream", str(f))), "--format", "json",
                         "--bootstrap", "0")
    assert code == 0, err
    doc = json.loads(out)
    flags = {m["model"]: (m["judge"], m["self_preference"]) for m in doc["models"]}
    assert flags["gpt-3.5-turbo-0301"] == (["gpt-3.5-turbo-0613"], ["gpt-3.5-turbo-0613"])
    assert flags["gpt-4-0613"] == (["gpt-3.5-turbo-0613"], [])
    assert any("self-preference" in n and "gpt-3.5-turbo-0301 by gpt-3.5-turbo-0613" in n for n in doc["notes"])
