"""A `justeval sweep` folder on the board: `leaderboard DIR` / `publish DIR` read every
configuration's run, and add the score-vs-K figure and table, with numbers from the judgments
(the loopback judge's scores are known in advance: fixed K=0, 2, 4 score 1, 3, 4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from justeval.board.schema import schema
from justeval.generation.experiments import SweepSettings, run_score, sweep
from justeval.generation.prompting import PromptSettings
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun, make_cli
from tests.generation.conftest import fast_config
from tests.generation.test_experiments import DEV, _pool, _specs, _start, server  # noqa: F401 - a fixture

CONFIGS = ["k0", "fixed-k2", "random-fixed-k2", "fixed-k4", "random-fixed-k4"]


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> CliRun:
    """`justeval ARGS...` through the real entry point: (exit code, stdout, stderr)."""
    return make_cli(monkeypatch, capsys)


@pytest.fixture
def swept(tmp_path: Path, server: StubServer) -> Path:  # noqa: F811
    model, judge = _specs(server)
    settings = SweepSettings(model=model, judge=judge, shots=[0, 2, 4], selects=["fixed", "random-fixed"],
                             prompt=PromptSettings(urial=str(_start(tmp_path)), icl_examples=str(_pool(tmp_path))),
                             engine=fast_config())
    sweep(settings, DEV, tmp_path / "sweep")
    return tmp_path / "sweep"


def test_leaderboard_of_a_sweep_folder_has_every_configuration_and_the_k_table(cli: CliRun, swept: Path) -> None:
    code, out, err = cli("leaderboard", str(swept), "--format", "json", "--bootstrap", "50")
    assert code == 0, err
    data = json.loads(out)
    jsonschema.validate(data, schema())  # the sweep key is documented there
    assert sorted(m["model"] for m in data["models"]) == sorted(f"openai:the-model+{c}" for c in CONFIGS)
    configs = {c["name"]: c for c in data["sweep"]["configs"]}
    assert list(configs) == CONFIGS
    for name, c in configs.items():
        assert c["run_dir"] == str(swept / name) and c["judged"] == len(DEV)
        assert c["mean"] == pytest.approx(run_score(swept / name, "openai:the-judge").mean)  # every aspect alike
        assert c["ci_low"] <= c["mean"] <= c["ci_high"]
    assert [configs[n]["mean"] for n in ("k0", "fixed-k2", "fixed-k4")] == [1.0, 3.0, 4.0]
    lines = data["sweep"]["lines"]
    assert lines == {"fixed (URIAL prompt start.txt)": ["k0", "fixed-k2", "fixed-k4"],
                     "random-fixed (URIAL prompt start.txt)": ["k0", "random-fixed-k2", "random-fixed-k4"]}
    assert data["sweep"]["notes"] == []

    code, out, err = cli("leaderboard", str(swept), "--format", "md", "--bootstrap", "0")
    assert code == 0, err
    assert "## Score vs K" in out
    assert re.search(r"^\| 2 \| 3\.00 \| [0-9.]+ \|$", out, re.M)  # K=2: fixed, random-fixed
    assert re.search(r"^\| 0 \| 1\.00 \| 1\.00 \|$", out, re.M)     # K=0 starts both lines
    code, out, err = cli("leaderboard", str(swept), "--bootstrap", "0")
    assert code == 0 and "Score vs K" in out


def test_publish_of_a_sweep_folder_draws_score_vs_k(cli: CliRun, swept: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    code, _, err = cli("publish", str(swept), "--out", str(site), "--bootstrap", "50")
    assert code == 0, err
    page = (site / "index.html").read_text("utf-8")
    assert 'id="sweep"' in page and 'href="#sweep"' in page and 'class="sweep-chart"' in page
    svg = (site / "sweep.svg").read_text("utf-8")
    assert svg.count('class="series"') == 2 and svg.count('class="point"') == 6  # 2 lines of K = 0, 2, 4
    assert "fixed (URIAL prompt start.txt), K=4: 4.000 [4.000, 4.000]" in svg
    board = json.loads((site / "leaderboard.json").read_text("utf-8"))
    assert [c["name"] for c in board["sweep"]["configs"]] == CONFIGS


def test_the_figures_follow_the_judgments_and_say_when_sweep_json_is_stale(cli: CliRun, swept: Path) -> None:
    path = swept / "fixed-k2" / "judgments.jsonl"
    judged = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    for j in judged:
        j["scores"] = {a: 5 for a in j["scores"]}
    path.write_text("".join(json.dumps(j) + "\n" for j in judged), encoding="utf-8")
    code, out, err = cli("leaderboard", str(swept), "--format", "json", "--bootstrap", "0")
    assert code == 0, err
    data = json.loads(out)["sweep"]
    assert next(c for c in data["configs"] if c["name"] == "fixed-k2")["mean"] == 5.0
    [note] = data["notes"]
    assert "fixed-k2 (3.000)" in note and "(5.000)" in note and str(swept / "sweep.json") in note


def test_a_broken_sweep_file_is_one_line_naming_it(cli: CliRun, swept: Path) -> None:
    (swept / "sweep.json").write_text('{"kind": "sweep", "points": [{"name": "gone", "shots": 2}]}', "utf-8")
    code, _, err = cli("leaderboard", str(swept))
    assert code == 2
    [line] = [x for x in err.splitlines() if x.strip()]
    assert str(swept / "sweep.json") in line and "'gone'" in line
