"""What the review commands print: usage errors without placeholders, --stratify task without
task types, tables not cut when piped, and an accurate hint after unfinished pairwise runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.errors import InputError
from justeval.review.export import export_review
from justeval.testing.stub_server import Reply, StubRequest, StubServer
from tests.conftest import CliRun

from .helpers_review import make_run, side_for, write_csv_labels
from .test_review_pairwise_stage import JUDGE, fair, item_of, shown

RERUN = "run the same command again"
PARSE_FLAG = "add --retry-parse-errors"


@pytest.fixture
def runs(tmp_path: Path) -> list[Path]:
    return [make_run(tmp_path / "runs", m) for m in ("alpha", "beta")]


@pytest.mark.parametrize(("extra", "message"), [
    (["--format", "xml"], "--format must be one of csv, jsonl, label-studio, not 'xml'"),
    (["--stratify", "topic"], "--stratify must be one of category, task, dataset, not 'topic'"),
    (["--aspects", "two words"], "aspect name 'two words' must be a plain identifier"),
])
def test_usage_errors_are_one_plain_line_exit_2(runs: list[Path], tmp_path: Path, cli: CliRun, extra: list[str],
                                               message: str) -> None:
    code, _, err = cli("export-review", *map(str, runs), "--out", str(tmp_path / "r"), "--n", "3", *extra)
    assert (code, err) == (2, f"error: {message}\n")


def test_export_review_with_one_run_says_so_plainly(runs: list[Path], tmp_path: Path,
                                                    cli: CliRun) -> None:
    code, _, err = cli("export-review", str(runs[0]), "--out", str(tmp_path / "r"), "--n", "3")
    assert (code, err) == (2, "error: export-review needs at least two runs\n")


def test_stratify_task_without_task_types_is_an_error_naming_instructions(
        runs: list[Path], tmp_path: Path, cli: CliRun) -> None:
    code, _, err = cli("export-review", *map(str, runs), "--out", str(tmp_path / "r"), "--n", "4",
                       "--stratify", "task")
    assert code == 2 and err.count("\n") == 1 and "--instructions" in err and "<input>" not in err
    assert not (tmp_path / "r" / "key.json").exists()


def test_stratify_task_with_instructions_that_have_no_task_types_names_the_file(runs: list[Path],
                                                                               tmp_path: Path) -> None:
    from justeval.jsonl import write_jsonl
    from justeval.records import Instruction

    path = tmp_path / "instructions.jsonl"
    write_jsonl(path, [Instruction(id=i, instruction=f"question {i}") for i in range(20)]
                + [Instruction(id=99, instruction="not in the runs", task_types=["coding"])])
    with pytest.raises(InputError, match="no task_types for the items of these runs") as info:
        export_review(runs, tmp_path / "r", n=4, seed=0, stratify="task", instructions=path)
    assert info.value.path == str(path)
    tagged = [Instruction(id=i, instruction=f"question {i}", task_types=["coding"] if i == 3 else [])
              for i in range(20)]
    write_jsonl(path, tagged)  # one tagged item is enough: the rest form the "(none)" stratum
    res = export_review(runs, tmp_path / "r", n=20, seed=0, stratify="task", instructions=path)
    assert sorted({str(p.stratum) for p in res.key.pairs}) == ["(none)", "coding"]


def test_import_review_tables_are_not_cut_when_piped(runs: list[Path], tmp_path: Path,
                                                     cli: CliRun) -> None:
    res = export_review(runs, tmp_path / "r", n=12, seed=4)
    winners = ["alpha", "beta", "tie", "beta"]
    labels = write_csv_labels(tmp_path / "ann.csv", [
        {"pair_id": p.pair_id, "label": side_for(winners[k % 4], p.model_dump())} for k, p in enumerate(res.key.pairs)])
    key = str(tmp_path / "r" / "key.json")
    code, out, _ = cli("import-review", str(labels), "--key", key, "--json")
    assert code == 0
    (row,) = json.loads(out)["win_rates"]
    code, text, _ = cli("import-review", str(labels), "--key", key)
    assert code == 0
    for outcome in ("A", "tie", "B", "score"):
        r = row[outcome]
        assert f"{100 * r['value']:.1f} [{100 * r['low']:.1f}-{100 * r['high']:.1f}]" in text


def _parse_error_on_item_4(req: StubRequest) -> Reply:
    return Reply(text="I lean to the first.") if item_of(shown(req)["1"]) == 4 else fair(req)


def _http_error_on_item_4(req: StubRequest) -> Reply:
    return Reply(status=400, text="bad request") if item_of(shown(req)["1"]) == 4 else fair(req)


@pytest.mark.parametrize(("responder", "flags", "wanted", "unwanted"), [
    (_parse_error_on_item_4, [], [PARSE_FLAG, "2 order(s) got replies that could not be parsed"], [RERUN]),
    (_parse_error_on_item_4, ["--retry-parse-errors"], [RERUN, "2 order(s)"], [PARSE_FLAG]),
    (_http_error_on_item_4, [], [RERUN, "2 order(s) failed"], [PARSE_FLAG]),
    (fair, [], [], [RERUN, PARSE_FLAG]),
])
def test_pairwise_hint_says_what_a_rerun_retries(tmp_path: Path, stub_server: StubServer,
                                                 cli: CliRun,
                                                 responder: object, flags: list[str], wanted: list[str],
                                                 unwanted: list[str]) -> None:
    run_a, run_b = make_run(tmp_path, "alpha", n=6), make_run(tmp_path, "beta", n=6)
    stub_server.responder = responder  # type: ignore[assignment]
    code, text, _ = cli("pairwise", str(run_a), str(run_b), "--judge", JUDGE, "--base-url", stub_server.base_url,
                        "--no-progress", "--no-cache", "--max-retries", "0", "--parse-retries", "0", *flags)
    assert code == 0 and stub_server.count == 12
    assert [w for w in wanted if w not in text] == [] and [u for u in unwanted if u in text] == []


def test_pairwise_tables_are_not_cut_when_piped(tmp_path: Path, stub_server: StubServer,
                                                cli: CliRun) -> None:
    from justeval.jsonl import read_records
    from justeval.review.pairwise_report import pairwise_rates
    from justeval.review.records import PairwiseJudgment

    run_a, run_b = make_run(tmp_path, "alpha", n=9), make_run(tmp_path, "beta", n=9)
    stub_server.responder = fair
    out = tmp_path / "pw.jsonl"
    code, text, _ = cli("pairwise", str(run_a), str(run_b), "--judge", JUDGE, "--base-url", stub_server.base_url,
                        "--no-progress", "--no-cache", "--out", str(out))
    assert code == 0
    rates = pairwise_rates(read_records(out, PairwiseJudgment))
    assert "not sent (budget)" in text and "unknown" in text  # a self-hosted judge has no price
    for row in [rates["overall"], *rates["by_category"]]:
        for outcome in ("A", "tie", "B", "score"):
            r = row[outcome]
            assert f"{100 * r['value']:.1f} [{100 * r['low']:.1f}-{100 * r['high']:.1f}]" in text



def test_a_run_directory_given_as_a_label_file_says_how_to_repeat_the_option(tmp_path: Path) -> None:
    """`import-review labels.json --judge-run runs/a runs/b` reads runs/b as a label file."""
    from justeval.errors import InputError
    from justeval.review.labels import read_labels

    run = tmp_path / "runs" / "b"
    run.mkdir(parents=True)
    (run / "generations.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match=r"is a folder, not a label file .*--judge-run A --judge-run B"):
        read_labels(run)
