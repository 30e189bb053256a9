"""What the commands write: the JSON schema, CSV/Markdown/table/HTML formats, the chart, the
site, the upstream converter, and one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import markupsafe
import pandas as pd
import pytest
from typer.testing import CliRunner

from justeval.board import Settings, build_leaderboard, judgments_from_upstream
from justeval.board.publish import publish_site, script_json
from justeval.board.schema import schema, to_json
from justeval.board.svg import render_svg
from justeval.board.upstream import score_from_string
from justeval.cli import app
from tests.conftest import CliRun

from .runs import REGULAR, generation, judgment, uniform_run, write_run

EVIL = '<script>document.title="pwned";window.__pwned=true</script><img src=x onerror="window.__pwned=true">'


def _two_runs(tmp_path: Path) -> list[Path]:
    return [uniform_run(tmp_path / "a", "alpha", [4.0, 5.0, 3.0], safety=[5.0]),
            uniform_run(tmp_path / "b", "beta", [2.0, 3.0, 3.0], safety=[4.0])]


def test_json_follows_the_documented_schema(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    board = build_leaderboard(_two_runs(tmp_path), by=["dataset"], settings=Settings(bootstrap=50)).board
    doc = json.loads(json.dumps(to_json(board), allow_nan=False))
    jsonschema.validate(doc, schema())
    alpha = doc["models"][0]
    assert alpha["model"] == "alpha" and alpha["aspects"]["helpfulness"]["mean"] == 4.0
    assert set(alpha["aspects"]["helpfulness"]) >= {"mean", "ci_low", "ci_high", "n", "missing", "errors"}
    assert alpha["judge"] == ["openai:judge"] and alpha["template_hash"] == ["h1"]
    assert alpha["length"]["mean_words"] > 0


def test_json_has_null_not_nan_for_undefined_numbers(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    only_safety = uniform_run(tmp_path / "s", "s", [], safety=[5.0])
    mixed = uniform_run(tmp_path / "m", "m", [3.0], safety=[4.0])
    board = build_leaderboard([only_safety, mixed], settings=Settings(bootstrap=0)).board
    doc = to_json(board)
    jsonschema.validate(doc, schema())
    s = next(m for m in doc["models"] if m["model"] == "s")
    assert s["aspects"]["helpfulness"]["mean"] is None and s["aspects"]["safety"]["ci_low"] is None


@pytest.mark.parametrize("fmt", ["table", "md", "csv", "json", "html"])
def test_every_format_writes_the_models(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"board.{fmt}"
    res = CliRunner().invoke(app, ["leaderboard", *map(str, _two_runs(tmp_path)), "--format", fmt, "--out", str(out),
                                   "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8")
    assert "alpha" in text and "beta" in text
    assert text.index("alpha") < text.index("beta")  # best first
    if fmt == "csv":
        df = pd.read_csv(out)
        assert list(df["model"]) == ["alpha", "beta"] and df.loc[0, "helpfulness"] == 4.0


def test_csv_with_breakdowns_writes_one_table_a_file(tmp_path: Path, cli: CliRun) -> None:
    out = tmp_path / "board.csv"
    args = ["leaderboard", *map(str, _two_runs(tmp_path)), "--format", "csv", "--by", "dataset", "--bootstrap", "20"]
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert list(pd.read_csv(out)["model"]) == ["alpha", "beta"]
    by = pd.read_csv(tmp_path / "board.dataset.csv")
    alpha = by[(by["model"] == "alpha") & (by["aspect"] == "helpfulness")]
    assert len(alpha) == 1 and alpha["mean"].iloc[0] == 4.0 and alpha["n"].iloc[0] == 3  # scores 4, 5, 3
    assert set(by["aspect"]) >= {"helpfulness", "safety", "average"}
    diag = pd.read_csv(tmp_path / "board.diagnostics.csv")
    assert list(diag["model"]) == ["alpha", "beta"] and "refusal_rate" in diag.columns
    # to stdout there is room for one table only: say how to get the rest, don't drop it silently
    code, out_text, err = cli(*args)
    assert code != 0 and not out_text and "--out" in err and len(err.strip().splitlines()) == 1


def test_bad_run_directory_is_one_line_and_exit_2(tmp_path: Path) -> None:
    run = tmp_path / "r"
    run.mkdir()
    (run / "generations.jsonl").write_text('{"id": 0, "instruction": "q", "output": "a", "generator": "g"}\n')
    (run / "judgments.jsonl").write_text('{"id": 0, "judge": "j"}\n{"id": 1}\n')
    proc = subprocess.run([sys.executable, "-m", "justeval", "leaderboard", str(run)], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0
    assert "judgments.jsonl:1" in proc.stderr


def test_upstream_scores_map_strictly() -> None:
    assert score_from_string("4") == 4.0 and score_from_string(" 5 ") == 5.0 and score_from_string(3) == 3.0
    assert score_from_string("N/A") is None and score_from_string("n/a") is None
    for bad in ("excellent", "7", "0", "4/5", True):
        with pytest.raises(ValueError):
            score_from_string(bad)


def test_upstream_reply_without_a_readable_score_is_a_parse_error(tmp_path: Path) -> None:
    base = {"input": "q", "output_cand": "a", "generator_cand": "just_results//m.json",
            "eval_config": {"mode": "score_safety", "gpt": "gpt-x"}, "prompt": "p", "result": "r"}
    lines = [{**base, "id": 800, "parsed_result": {"safety": {"reason": "ok", "score": "4"}}},
             {**base, "id": 801, "parsed_result": {"safety": {"reason": "hm", "score": "very safe"}}},
             {**base, "id": 802, "parsed_result": {}}]
    f = tmp_path / "m.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    js = judgments_from_upstream(f)
    assert [j.status for j in js] == ["ok", "parse_error", "parse_error"]
    assert js[0].scores == {"safety": 4.0} and js[0].generator == "m" and js[0].judge == "gpt-x"
    assert js[1].scores == {"safety": None} and js[0].category == "safety"


def test_chart_is_valid_svg_with_a_mark_per_model_and_aspect(tmp_path: Path) -> None:
    runs = [*_two_runs(tmp_path), uniform_run(tmp_path / "e", "<b>&evil</b>", [1.0], safety=[1.0])]
    board = build_leaderboard(runs, settings=Settings(bootstrap=50)).board
    svg = render_svg(board)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    circles = root.findall(f".//{ns}circle")
    assert len(circles) == 3 * (len(board.aspects) + 1)
    labels = [t.text for t in root.iter(f"{ns}text")]
    assert "<b>&evil</b>" in labels  # escaped in the file, read back as plain text
    assert "<b>" not in svg


def test_script_json_cannot_close_its_script_element() -> None:
    text = script_json({"output": EVIL + "</script><!-- & \u2028"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"output": EVIL + "</script><!-- & \u2028"}


def test_site_escapes_model_text_and_embeds_items(tmp_path: Path) -> None:
    m = 'evil"<model>'
    gens = [generation(0, m, EVIL), generation(1, m, "plain answer")]
    judg = [judgment(0, m, {a: 3.0 for a in REGULAR}, rationale=EVIL), judgment(1, m, {a: 4.0 for a in REGULAR})]
    built = build_leaderboard([write_run(tmp_path / "r", gens, judg)], settings=Settings(bootstrap=20),
                              keep_judgments=True)
    files = publish_site(built.board, built.models, tmp_path / "site")
    assert {str(f.relative_to(tmp_path / "site")) for f in files} == {
        "index.html", "chart.svg", "leaderboard.json", "leaderboard.csv", "items/m000-0000.js"}
    page = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "<script>document" not in page and "<img src=x" not in page
    assert str(markupsafe.escape(m)) in page
    assert not re.search(r"<script[^>]*src=|<link[^>]*href=\"?https?:", page)  # nothing fetched from elsewhere
    blob = re.search(r'<script type="application/json" id="items-data">(.*?)</script>', page, re.S)
    assert blob is not None
    data = json.loads(blob.group(1))
    assert data["models"] == [m]
    assert data["cells"][0][0][3 + data["aspects"].index("depth")] == 3.0
    # the texts are in the side file, as data a script hands over: no markup survives unescaped
    side = (tmp_path / "site" / "items" / "m000-0000.js").read_text(encoding="utf-8")
    assert side.startswith("justevalItems(") and side.endswith(");\n")
    assert "<" not in side and ">" not in side and "&" not in side
    rows = json.loads(side[len("justevalItems("):-len(");\n")])["rows"]
    assert rows[0] == [0, EVIL, {a: EVIL for a in REGULAR}]
    assert rows[1][1] == "plain answer"
    ET.fromstring((tmp_path / "site" / "chart.svg").read_text(encoding="utf-8"))


def test_publish_cli_writes_a_site(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["publish", *map(str, _two_runs(tmp_path)), "--out", str(tmp_path / "site"),
                                   "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "site" / "index.html").stat().st_size > 1000
    doc = json.loads((tmp_path / "site" / "leaderboard.json").read_text(encoding="utf-8"))
    assert [m["model"] for m in doc["models"]] == ["alpha", "beta"]
