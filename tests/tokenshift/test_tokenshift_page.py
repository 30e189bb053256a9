"""`justeval publish` with token-shift results: the section's figures come from the records (and
only those of the outputs shown now), the per-token data go to side files the item browser
loads on demand, results are found beside the runs or where `--token-shift` says, and every
token string is escaped."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from justeval.board.schema import schema
from justeval.tokenshift import read_token_shift, summarize, token_shift
from justeval.tokenshift.analysis import output_hash
from justeval.tokenshift.records import (
    Alternative,
    PositionDetail,
    ShiftCounts,
    TemplateRef,
    TokenizerRef,
    TokenShiftRecord,
    categorize,
)
from tests.conftest import CliRun
from tests.leaderboard.runs import REGULAR, judgment
from tests.leaderboard.test_leaderboard_page_browser import _probe, chromium  # noqa: F401 - a fixture
from tests.tokenshift import tiny
from tests.tokenshift.conftest import TinyModels, hf_settings

EVIL = '</script><img src=x onerror="window.__pwned=true">'


def _judge(run: Path, generator: str, n: int) -> None:
    lines = [judgment(i, generator, {a: 1.0 + (i % 5) for a in REGULAR}) for i in range(n)]
    (run / "judgments.jsonl").write_text("".join(json.dumps(j) + "\n" for j in lines), encoding="utf-8")


def _side_file(path: Path) -> dict[str, Any]:
    text = path.read_text("utf-8")
    assert text.startswith("justevalShift(") and text.endswith(");\n")
    data: dict[str, Any] = json.loads(text[len("justevalShift("):-3])
    return data


def _index(site: Path) -> dict[str, Any]:
    page = (site / "index.html").read_text("utf-8")
    found = re.search(r'<script type="application/json" id="token-shift-data">(.*?)</script>', page, re.S)
    assert found, "no token-shift index in the page"
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.fixture
def analysed(models: TinyModels, own_run: Path, other_run: Path) -> tuple[Path, Path]:
    """Two judged runs, each analysed by the real stage (records beside the generations)."""
    for run, generator in ((own_run, "tiny-base"), (other_run, "tiny-other")):
        _judge(run, generator, len(tiny.INSTRUCTIONS))
    token_shift([own_run, other_run], hf_settings(models.base))
    return own_run, other_run


def test_publish_adds_the_token_shift_section_from_the_records(cli: CliRun, analysed: tuple[Path, Path],
                                                               tmp_path: Path) -> None:
    own, other = analysed
    site = tmp_path / "site"
    code, _, err = cli("publish", str(own), str(other), "--out", str(site), "--bootstrap", "20")
    assert code == 0, err
    board = json.loads((site / "leaderboard.json").read_text("utf-8"))
    jsonschema.validate(board, schema())
    [analysis] = board["token_shift"]
    by_model = {m["model"]: m for m in analysis["models"]}
    for run, generator in ((own, "tiny-base"), (other, "tiny-other")):
        records = list(read_token_shift(run / "token_shift.jsonl").values())
        expected = summarize(records)
        shown = by_model[generator]
        assert shown["shifted"] == expected.shifted and shown["tokens"] == expected.tokens == sum(
            r.tokens for r in records)
        counted = Counter(d.token for r in records for d in r.shifted_tokens)
        top = shown["top_shifted_tokens"]
        assert len(top) == min(10, len(counted)) and all(counted[t["token"]] == t["count"] for t in top)
        assert [t["count"] for t in top] == sorted(counted.values(), reverse=True)[:len(top)]
        assert shown["regenerated_since"] == 0 and shown["failed"] == 0
    page = (site / "index.html").read_text("utf-8")
    assert 'id="token-shift"' in page and 'href="#token-shift"' in page and 'class="shift-chart"' in page
    other_summary = by_model["tiny-other"]
    assert f"{100 * other_summary['shifted']:.1f} %" in page

    # the per-token data: side files, one status letter per page item
    index = _index(site)
    models = json.loads(re.search(r'id="items-data">(.*?)</script>', page, re.S).group(1))["models"]  # type: ignore[union-attr]
    source = next(s for s in index["sources"] if models[s["model"]] == "tiny-other")
    assert source["status"] == "o" * len(tiny.INSTRUCTIONS)
    number = index["sources"].index(source)
    files = sorted(site.glob(f"items/t{number:03d}-*.js"))
    assert files, "no token data side file"
    rows = {r[0]: r for f in files for r in _side_file(f)["rows"]}
    strings = [s for f in files for s in _side_file(f)["strings"]]  # one file here
    records = read_token_shift(other / "token_shift.jsonl")
    generations = [json.loads(line) for line in (other / "generations.jsonl").read_text("utf-8").splitlines()]
    for n, gen in enumerate(generations):
        record, row = records[gen["id"]], rows[n]
        assert row[4] == [r or 0 for r in record.ranks]
        spans, end, got = row[5], 0, []
        for j in range(0, len(spans), 2):
            start = end + spans[j]
            end = start + spans[j + 1]
            got.append((start, end))
        assert got == [tuple(o) for o in record.offsets or []]
        pieces = [gen["output"][s:e] for s, e in got]
        details = {d[0]: d for d in row[6]}
        for d in [*record.shifted_tokens, *record.marginal_tokens]:
            assert strings[details[d.position][1]] == d.token
            assert [strings[a] for a in details[d.position][3][::2]] == [a.token for a in d.top[:5]]
            assert pieces[d.position].strip() == d.token.strip()
        assert len(details) == record.counts.marginal + record.counts.shifted


def test_a_regenerated_output_is_left_out_and_counted(cli: CliRun, analysed: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    _, other = analysed
    path = other / "generations.jsonl"
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    lines[0]["output"] = "a different answer now"
    path.write_text("".join(json.dumps(g) + "\n" for g in lines), encoding="utf-8")
    code, _, err = cli("publish", str(other), "--out", str(tmp_path / "site"), "--bootstrap", "0")
    assert code == 0, err
    [analysis] = json.loads((tmp_path / "site" / "leaderboard.json").read_text("utf-8"))["token_shift"]
    [shown] = analysis["models"]
    records = read_token_shift(other / "token_shift.jsonl")
    fresh = [r for i, r in records.items() if i != lines[0]["id"]]
    assert shown["regenerated_since"] == 1 and shown["items"] == len(fresh)
    assert shown["tokens"] == sum(r.tokens for r in fresh) and shown["shifted"] == summarize(fresh).shifted
    assert _index(tmp_path / "site")["sources"][0]["status"] == "s" + "o" * (len(lines) - 1)


def test_results_given_with_token_shift_match_their_models(cli: CliRun, models: TinyModels, own_run: Path,
                                                           other_run: Path, tmp_path: Path) -> None:
    _judge(own_run, "tiny-base", len(tiny.INSTRUCTIONS))
    _judge(other_run, "tiny-other", len(tiny.INSTRUCTIONS))
    token_shift([own_run, other_run], hf_settings(models.base, out=tmp_path / "ts"))  # ts/own/, ts/other/
    site = tmp_path / "site"
    code, _, err = cli("publish", str(own_run), str(other_run), "--token-shift", str(tmp_path / "ts"),
                       "--out", str(site), "--bootstrap", "0")
    assert code == 0, err
    [analysis] = json.loads((site / "leaderboard.json").read_text("utf-8"))["token_shift"]
    for shown in analysis["models"]:
        folder = {"tiny-base": "own", "tiny-other": "other"}[shown["model"]]
        assert shown["records"] == str(tmp_path / "ts" / folder / "token_shift.jsonl")
        assert shown["tokens"] == summarize(read_token_shift(Path(shown["records"])).values()).tokens

    # a result of a model not on the board: one line naming the file, exit 2
    code, _, err = cli("publish", str(own_run), "--token-shift", str(tmp_path / "ts" / "other"),
                       "--out", str(tmp_path / "site2"), "--bootstrap", "0")
    assert code == 2
    assert str(tmp_path / "ts" / "other" / "token_shift.jsonl") in err and "tiny-other" in err
    assert len([line for line in err.splitlines() if line.startswith("error")]) == 1
    assert not (tmp_path / "site2").exists()  # refused before anything was written


# -- records written through the records module: hostile tokens, sizes --------------------------
def _record(item: int, generator: str, output: str, pieces: list[str], ranks: list[int | None],
            alternatives: list[str], analysis: str = "a1") -> TokenShiftRecord:
    offsets, at = [], 0
    for p in pieces:
        start = output.index(p, at)
        offsets.append((start, start + len(p)))
        at = start + len(p)
    counts = ShiftCounts()
    details: dict[str, list[PositionDetail]] = {"marginal": [], "shifted": []}
    for j, rank in enumerate(ranks):
        cat = categorize(rank)
        setattr(counts, cat, getattr(counts, cat) + 1)
        if cat != "unshifted":
            details[cat].append(PositionDetail(position=j, token=pieces[j], rank=rank,
                                               top=[Alternative(token=a, logprob=-0.5 - k)
                                                    for k, a in enumerate(alternatives)]))
    return TokenShiftRecord(
        id=item, generator=generator, analysis=analysis, base=f"hf:tiny-{analysis}",
        template=TemplateRef(name="urial", sha256="t"), tokenizer=TokenizerRef(name="tiny", sha256="k"), top_k=10,
        output_sha256=output_hash(output), tokens=len(ranks), counts=counts, unshifted=counts.ratio("unshifted"),
        marginal=counts.ratio("marginal"), shifted=counts.ratio("shifted"), ranks=ranks, offsets=offsets,
        shifted_tokens=details["shifted"], marginal_tokens=details["marginal"])


def _written_run(path: Path, generator: str, outputs: list[str], records: list[TokenShiftRecord]) -> Path:
    path.mkdir(parents=True)
    gens = [{"id": i, "instruction": f"say {i}", "output": o, "generator": generator, "dataset": "lima",
             "category": "regular", "status": "ok"} for i, o in enumerate(outputs)]
    (path / "generations.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gens), encoding="utf-8")
    _judge(path, generator, len(outputs))
    (path / "token_shift.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture
def hostile_site(cli: CliRun, tmp_path: Path) -> tuple[Path, str]:
    output = f"Sure {EVIL} done 😀 end"
    pieces = ["Sure", f" {EVIL}", " done", " 😀", " end"]
    record = _record(0, "evil-model", output, pieces, [1, 7, 2, None, 1], [EVIL, "<b>bold</b>", "&amp;"])
    run = _written_run(tmp_path / "evil", "evil-model", [output], [record])
    code, _, err = cli("publish", str(run), "--out", str(tmp_path / "site"), "--bootstrap", "0")
    assert code == 0, err
    return tmp_path / "site", output


def test_hostile_tokens_are_escaped_in_the_page_and_the_side_files(hostile_site: tuple[Path, str]) -> None:
    site, _ = hostile_site
    page = (site / "index.html").read_text("utf-8")
    assert "<img" not in page and "<b>bold" not in page
    assert "&lt;/script&gt;&lt;img" in page  # the top shifted token, shown as text
    for f in site.glob("items/t*.js"):
        body = f.read_text("utf-8")
        assert "<" not in body and ">" not in body and "&" not in body


@pytest.mark.browser
def test_hostile_tokens_show_as_text_in_the_browser(chromium: str, hostile_site: tuple[Path, str],  # noqa: F811
                                                    tmp_path: Path) -> None:
    site, output = hostile_site
    state, _ = _probe(chromium, site, tmp_path, "probe")
    assert not state["pwned"] and state["imgs"] == 0
    shift = state["tokenShift"]
    assert shift["failed"] == [] and shift["coloured"] == 1
    assert shift["texts"] == [output]  # every character of the output, in order, as text
    assert shift["spans"] == {"ts-u": 2, "ts-m": 1, "ts-s": 2}
    quoted = json.dumps(EVIL)[1:-1]  # tokens show quoted (whitespace visible)
    assert any(f'" {quoted}"' in t and "rank 7" in t and f'"{quoted}" 60.7 %' in t  # e^-0.5: the first alternative
               for t in shift["titles"])
    assert any("outside the base model's top-k" in t and '"<b>bold</b>"' in t for t in shift["titles"])


@pytest.mark.browser
def test_two_analyses_of_one_output_colour_a_copy_each(chromium: str, cli: CliRun, tmp_path: Path) -> None:  # noqa: F811
    output = "one two three"
    pieces = ["one", " two", " three"]
    beside = _record(0, "m", output, pieces, [1, 1, 1], ["x"], analysis="a1")
    run = _written_run(tmp_path / "run", "m", [output], [beside])
    given = _record(0, "m", output, pieces, [None, 2, 1], ["x"], analysis="a2")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "token_shift.jsonl").write_text(given.model_dump_json() + "\n", encoding="utf-8")
    site = tmp_path / "site"
    code, _, err = cli("publish", str(run), "--token-shift", str(tmp_path / "other"), "--out", str(site),
                       "--bootstrap", "0")
    assert code == 0, err
    analyses = json.loads((site / "leaderboard.json").read_text("utf-8"))["token_shift"]
    assert [(a["base"], a["models"][0]["shifted"]) for a in analyses] == [("hf:tiny-a1", 0.0), ("hf:tiny-a2", 1 / 3)]
    state, _ = _probe(chromium, site, tmp_path, "probe")
    shift = state["tokenShift"]
    assert shift["coloured"] == 2 and shift["texts"] == [output, output]
    assert shift["spans"] == {"ts-u": 4, "ts-m": 1, "ts-s": 1}
    assert len(shift["notes"]) == 2 and all("hf:tiny-a" in n for n in shift["notes"])


@pytest.mark.browser
def test_real_analysis_colours_every_token_in_the_browser(chromium: str, analysed: tuple[Path, Path],  # noqa: F811
                                                          cli: CliRun, tmp_path: Path) -> None:
    own, other = analysed
    site = tmp_path / "site"
    code, _, err = cli("publish", str(own), str(other), "--out", str(site), "--bootstrap", "0")
    assert code == 0, err
    state, _ = _probe(chromium, site, tmp_path, "probe")
    shift = state["tokenShift"]
    assert shift["failed"] == [] and shift["coloured"] == 2 * len(tiny.INSTRUCTIONS)
    counts = ShiftCounts()
    for run in (own, other):
        for r in read_token_shift(run / "token_shift.jsonl").values():
            counts = counts + r.counts
    assert shift["spans"] == {"ts-u": counts.unshifted, "ts-m": counts.marginal, "ts-s": counts.shifted}
    state, _ = _probe(chromium, site, tmp_path, "shift-colour:off")
    assert state["tokenShift"]["coloured"] == 0 and len(state["tokenShift"]["notes"]) == 2 * len(tiny.INSTRUCTIONS)


def test_the_page_stays_bounded_and_the_token_data_go_to_side_files(tmp_path: Path) -> None:
    from justeval.board.build import build_leaderboard
    from justeval.board.publish import publish_site
    from justeval.board.tables import Settings
    from justeval.board.token_shift_page import section_maker

    items, tokens = 150, 80
    runs = []
    for m in range(2):
        outputs, records = [], []
        for i in range(items):
            pieces = [f" w{(i * 7 + j * (m + 3)) % 50}" for j in range(tokens)]
            output = "".join(pieces)
            ranks: list[int | None] = [1 + (i + j) % 6 if (i + j) % 6 < 5 else None for j in range(tokens)]
            outputs.append(output)
            records.append(_record(i, f"model-{m}", output, pieces, ranks, ["a", "b", "c"]))
        runs.append(_written_run(tmp_path / f"run{m}", f"model-{m}", outputs, records))
    built = build_leaderboard(runs, settings=Settings(bootstrap=0), keep_judgments=True)
    publish_site(built.board, built.models, tmp_path / "plain")
    (tmp_path / "run0" / "token_shift.jsonl").rename(tmp_path / "kept0.jsonl")
    (tmp_path / "run1" / "token_shift.jsonl").rename(tmp_path / "kept1.jsonl")
    publish_site(built.board, built.models, tmp_path / "shift",
                 sections=[section_maker([tmp_path / "kept0.jsonl", tmp_path / "kept1.jsonl"])])
    plain = (tmp_path / "plain" / "index.html").stat().st_size
    shifted = (tmp_path / "shift" / "index.html").stat().st_size
    side = sum(f.stat().st_size for f in (tmp_path / "shift" / "items").glob("t*.js"))
    # the page grows by its summaries and one status letter per model and item, not with the tokens
    assert shifted - plain < 2 * items + 60_000
    assert side > 2 * items * tokens * 4  # the ranks, spans and alternatives are all in the side files
    assert not list((tmp_path / "plain" / "items").glob("t*.js"))
    # publishing again without the results removes their side files
    publish_site(built.board, built.models, tmp_path / "shift", sections=[section_maker([])])
    assert not list((tmp_path / "shift" / "items").glob("t*.js"))


@pytest.mark.parametrize(("field", "bad"), [("ranks", "many"), ("marginal_tokens", [{"position": 1, "token": "x",
                                                                                      "top": [{"token": "y"}]}])])
def test_a_malformed_record_is_one_line_naming_the_file_and_the_record(cli: CliRun, tmp_path: Path, field: str,
                                                                       bad: Any) -> None:
    outputs = ["one two", "three four", "five six"]
    records = [_record(i, "bad-model", o, [o.split(" ")[0], " " + o.split(" ")[1]], [1, 2], ["a"])
               for i, o in enumerate(outputs)]
    run = _written_run(tmp_path / "run", "bad-model", outputs, records)
    given = tmp_path / "given" / "token_shift.jsonl"
    given.parent.mkdir()
    lines = (run / "token_shift.jsonl").read_text("utf-8").splitlines()
    (run / "token_shift.jsonl").unlink()
    broken = json.loads(lines[1])
    broken[field] = bad  # still a record for the first reading (id, generator, analysis), not for the page
    lines[1] = json.dumps(broken)
    given.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    code, _, err = cli("publish", str(run), "--token-shift", str(given), "--out", str(tmp_path / "site"),
                       "--bootstrap", "0")
    assert code == 2
    [line] = [line for line in err.splitlines() if line.startswith("error")]
    assert str(given) in line and "(record 1)" in line and field in line
