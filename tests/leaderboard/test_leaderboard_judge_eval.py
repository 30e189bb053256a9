"""`--judge-eval DIR`: the board's Judge section, from judge-eval reports only. The board's
judge is measured through the real `judge-eval` against a loopback server (alone, and in a
panel), beside published judges' real recorded verdicts on PandaLM's 999 human-labelled pairs
(`judge-eval --verdicts`); every figure shown is checked against the report file it names.
Bad folders are one line and exit 2; hostile names are escaped on the page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from justeval.board.render import md_text
from justeval.board.schema import schema
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun
from tests.validity.helpers_validity import pairwise_reply, shown

from .runs import uniform_run
from .test_leaderboard_outputs import EVIL

BOARD_JUDGE = "openai:judge"  # the judge of `uniform_run`'s judgments


def _judges(req: StubRequest) -> Reply:
    """The board's judge always picks the answer shown first; the other the longer answer."""
    if req.body["model"] == "judge":
        return pairwise_reply("1")
    answers = shown(req)
    return pairwise_reply("1" if len(answers.get("1", "")) >= len(answers.get("2", "")) else "2")


@pytest.fixture
def reports(tmp_path: Path, cli: CliRun, stub_server: StubServer, shared_data: Path) -> dict[str, Path]:
    data = shared_data / "human-labels" / "PandaLM" / "data"
    pandalm = str(data / "testset-v1.json")
    stub_server.responder = _judges
    common = ["--set", pandalm, "--base-url", stub_server.base_url, "--max-retries", "0", "--no-progress",
              "--bootstrap", "50", "--limit", "12", "--json"]
    dirs = {"own": tmp_path / "je-own", "panel": tmp_path / "je-panel", "published": tmp_path / "je-published"}
    code, _, err = cli("judge-eval", "--judge", BOARD_JUDGE, "--out", str(dirs["own"]), *common)
    assert code == 0, err
    code, _, err = cli("judge-eval", "--judge", BOARD_JUDGE, "--judge", "openai:other", "--panel", "majority",
                       "--out", str(dirs["panel"]), *common)
    assert code == 0, err
    code, _, err = cli("judge-eval", "--set", pandalm, "--verdicts", str(data / "pandalm-7b-testset-v1.json"),
                       "--verdicts", str(data / "gpt-3.5-turbo-testset-v1.json"), "--out", str(dirs["published"]),
                       "--bootstrap", "50", "--json")
    assert code == 0, err
    return dirs


def _on_disk(folder: Path) -> list[tuple[dict[str, Any], str | None]]:
    """The reports of a judge-eval folder as written, each with the panel it is a member of."""
    doc = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    out: list[tuple[dict[str, Any], str | None]] = []
    for r in doc.get("reports", [doc]):
        out += [(r, None), *((m, r["judge"]) for m in r.get("members", []))]
    return out


def test_the_judge_block_copies_every_figure_from_the_report_it_names(tmp_path: Path, cli: CliRun,
                                                                      reports: dict[str, Path]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    run = uniform_run(tmp_path / "a", "alpha", [4.0, 5.0, 3.0])
    args = [a for d in reports.values() for a in ("--judge-eval", str(d))]
    code, out, err = cli("leaderboard", str(run), *args, "--format", "json", "--bootstrap", "0")
    assert code == 0, err
    doc = json.loads(out)
    jsonschema.validate(doc, schema())
    block = doc["judge_eval"]
    assert block["files"] == [str(d / "report.json") for d in reports.values()]
    assert block["board_judges"] == [BOARD_JUDGE]
    shown_rows = {(r["file"], r["judge"], r["member_of"]): r for r in block["reports"]}
    expected = {(str(d / "report.json"), r["judge"], owner): r for d in reports.values() for r, owner in _on_disk(d)}
    assert set(shown_rows) == set(expected)
    for key, rec in expected.items():
        row = shown_rows[key]
        assert row["set"] == rec["set"] == "pandalm" and row["pairs"] == rec["n"]
        assert row["accuracy"] == rec["accuracy"] and row["kappa_majority"] == rec["kappa"]["majority"]
        assert row["human_kappa"] == rec["humans"]["kappa"] and row["consistency"] == rec["consistency"]
        assert row["bias"] == rec["bias"] and row["panel"] == rec.get("panel")
    roles = {(r["judge"], r["member_of"]): r["role"] for r in block["reports"]}
    assert roles == {(BOARD_JUDGE, None): "board", (BOARD_JUDGE, "panel:majority"): "board",
                     ("openai:other", "panel:majority"): "reference", ("panel:majority", None): "reference",
                     ("pandalm-7b", None): "reference", ("gpt-3.5-turbo", None): "reference"}
    own = shown_rows[(str(reports["own"] / "report.json"), BOARD_JUDGE, None)]
    assert own["bias"]["first_position"] == 1.0  # it always picked the answer shown first: the reader sees it
    # the board's rows come first within the set
    assert [r["role"] for r in block["reports"]][:2] == ["board", "board"]

    code, md, _ = cli("leaderboard", str(run), *args, "--format", "md", "--bootstrap", "0")
    assert "## Judge" in md and md_text(str(reports["published"] / "report.json")) in md
    pandalm_7b = next(r for r, _ in _on_disk(reports["published"]) if r["judge"] == "pandalm-7b")
    line = next(x for x in md.splitlines() if "| pandalm-7b |" in x)
    assert f"{pandalm_7b['accuracy']['average'] * 100:.2f}%" in line  # 66.77% as PandaLM reports
    kappas = sorted(pandalm_7b["humans"]["kappa"].values())
    assert f"{kappas[0]:.3f}-{kappas[-1]:.3f}" in line
    panel = next(r for r, _ in _on_disk(reports["panel"]) if r["judge"] == "panel:majority")
    assert f"Krippendorff's alpha between them {panel['panel']['alpha']:.3f}" in md

    code, table, _ = cli("leaderboard", str(run), *args, "--bootstrap", "0")
    assert code == 0 and "Judge: agreement with people" in table and "pandalm-7b" in table


def test_the_page_has_the_judge_section_escaped(tmp_path: Path, cli: CliRun, reports: dict[str, Path]) -> None:
    hostile = tmp_path / "je-hostile"
    hostile.mkdir()
    doc = json.loads((reports["own"] / "report.json").read_text(encoding="utf-8"))
    doc["judge"] = EVIL
    (hostile / "report.json").write_text(json.dumps(doc), encoding="utf-8")
    run = uniform_run(tmp_path / "a", "alpha", [4.0, 5.0, 3.0])
    plain = tmp_path / "plain"
    code, _, err = cli("publish", str(run), "--out", str(plain), "--bootstrap", "0")
    assert code == 0, err
    site = tmp_path / "site"
    code, _, err = cli("publish", str(run), "--judge-eval", str(reports["published"]), "--judge-eval", str(hostile),
                       "--out", str(site), "--bootstrap", "0")
    assert code == 0, err
    page = (site / "index.html").read_text(encoding="utf-8")
    assert '<section id="judge">' in page and '<a href="#judge">' in page
    assert str(reports["published"] / "report.json") in page and "pandalm-7b" in page
    assert "<script>document.title" not in page and "&lt;script&gt;document.title" in page
    assert '<section id="judge">' not in (plain / "index.html").read_text(encoding="utf-8")
    saved = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    assert [r["judge"] for r in saved["judge_eval"]["reports"]][-1] == EVIL


def test_a_folder_without_a_readable_report_is_one_line_and_exit_2(tmp_path: Path, cli: CliRun) -> None:
    run = uniform_run(tmp_path / "a", "alpha", [4.0])
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = cli("leaderboard", str(run), "--judge-eval", str(empty))
    assert code == 2 and str(empty) in err and "no report.json" in err and len(err.strip().splitlines()) == 1
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "report.json").write_text('{"format": "justeval-judge-eval", "set": "x"}', encoding="utf-8")
    code, _, err = cli("publish", str(run), "--judge-eval", str(broken), "--out", str(tmp_path / "site"))
    assert code == 2 and str(broken / "report.json") in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "site").exists()
    (broken / "report.json").write_text("[1, 2", encoding="utf-8")
    code, _, err = cli("leaderboard", str(run), "--judge-eval", str(broken / "report.json"))
    assert code == 2 and "not a readable judge-eval report" in err
    code, _, err = cli("leaderboard", str(run), "--judge-eval", str(tmp_path / "missing"))
    assert code == 2 and str(tmp_path / "missing") in err
