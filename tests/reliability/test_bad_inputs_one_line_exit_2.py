"""Every bad input (the catalogue in bad_input_cases.py: instruction files, output files, label
files, config files, templates, a run's generations) ends the command with exactly one line on
stderr naming the file and the line or record, exit code 2, no traceback, and no partial
output file. A judgments file corrupted in the middle is reported and left byte for byte."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from justeval.jsonl import write_jsonl
from justeval.records import Judgment, TemplateRef
from justeval.rundir import RunDir
from justeval.testing.stub_server import StubServer
from tests.conftest import CliRun
from tests.reliability.bad_input_cases import Case, N, all_cases, instruction, label, output
from tests.reliability.judge_stub import FaultyJudge

Runner = Callable[[Path, Path, CliRun, StubServer], tuple[int, str, Callable[[], None]]]


def _files(root: Path) -> dict[str, bytes]:
    """Every file's bytes, but the run directory's empty `.lock` (held while a command runs, and
    left in place by design: `RunDir.lock`)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not (p.name == ".lock" and p.stat().st_size == 0)}


def _good_instructions(tmp: Path) -> Path:
    path = tmp / "good_instructions.jsonl"
    write_jsonl(path, [instruction(i) for i in range(N)])
    return path


def _run_dir(tmp: Path, name: str = "run") -> Path:
    run = tmp / name
    run.mkdir()
    write_jsonl(RunDir(run).generations, [{**output(i), "category": "safety" if i == 4 else "regular"}
                                          for i in range(N)])
    return run


def run_instructions(tmp: Path, bad: Path, cli: CliRun, _: StubServer) -> tuple[int, str, Callable[[], None]]:
    out = tmp / "exported.jsonl"
    code, _out, err = cli("instructions", "export", "--instructions", str(bad), "--out", str(out))

    def check() -> None:
        assert not out.exists() and not list(tmp.glob(".exported*"))
    return code, err, check


def run_outputs(tmp: Path, bad: Path, cli: CliRun, _: StubServer) -> tuple[int, str, Callable[[], None]]:
    out = tmp / "imported"
    code, _out, err = cli("import", str(bad), "--out", str(out), "--instructions", str(_good_instructions(tmp)))

    def check() -> None:
        assert not (out / "generations.jsonl").exists() and not (out / "run.json").exists()
    return code, err, check


def run_labels(tmp: Path, bad: Path, cli: CliRun, _: StubServer) -> tuple[int, str, Callable[[], None]]:
    runs = [_run_dir(tmp, "model_a"), _run_dir(tmp, "model_b")]
    for run in runs:  # different outputs per model
        recs = [json.loads(x) for x in RunDir(run).generations.read_text(encoding="utf-8").splitlines()]
        write_jsonl(RunDir(run).generations, [{**r, "output": f"{r['output']} ({run.name[::-1]})"} for r in recs])
    code, _out, err = cli("export-review", *map(str, runs), "--out", str(tmp / "review"), "--n", str(N),
                          "--format", "jsonl")
    assert code == 0, err
    key = tmp / "review" / "key.json"
    assert {p["pair_id"] for p in json.loads(key.read_text(encoding="utf-8"))["pairs"]} == {
        label(k)["pair_id"] for k in range(1, N + 1)}
    before = _files(tmp)
    code, _out, err = cli("import-review", str(bad), "--key", str(key))

    def check() -> None:
        assert _files(tmp) == before
    return code, err, check


def run_config(tmp: Path, bad: Path, cli: CliRun, srv: StubServer) -> tuple[int, str, Callable[[], None]]:
    out = tmp / "pipeline_out"
    code, _out, err = cli("run", "--config", str(bad), "--out", str(out), "--instructions",
                          str(_good_instructions(tmp)), "--base-url", srv.base_url, "--judge-base-url", srv.base_url)

    def check() -> None:
        assert not out.exists() and srv.count == 0
    return code, err, check


def run_template(tmp: Path, bad: Path, cli: CliRun, srv: StubServer) -> tuple[int, str, Callable[[], None]]:
    run = _run_dir(tmp)
    before = _files(run)
    code, _out, err = cli("judge", str(run), "--judge", "openai:j", "--base-url", srv.base_url,
                          "--template-multi", str(bad), "--no-progress")

    def check() -> None:
        assert _files(run) == before and srv.count == 0
    return code, err, check


def run_generations(tmp: Path, bad: Path, cli: CliRun, srv: StubServer) -> tuple[int, str, Callable[[], None]]:
    run = tmp / "run"
    run.mkdir()
    (run / "generations.jsonl").write_bytes(bad.read_bytes())
    before = _files(run)
    code, _out, err = cli("judge", str(run), "--judge", "openai:j", "--base-url", srv.base_url, "--no-progress")

    def check() -> None:
        assert _files(run) == before and srv.count == 0
    return code, err, check


RUNNERS: dict[str, Runner] = {"instructions": run_instructions, "outputs": run_outputs, "labels": run_labels,
                              "config": run_config, "template": run_template, "generations": run_generations}
CASES = all_cases()


def test_catalogue_has_at_least_100_distinct_cases() -> None:
    assert len(CASES) >= 100 and len({c.id for c in CASES}) == len(CASES)
    assert len({(c.kind, c.data) for c in CASES}) == len(CASES)  # no two cases are the same file


def _assert_one_line(err: str, path: Path, where: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    line = lines[0]
    assert "Traceback" not in err and line.startswith("error:")
    assert path.name in line, line
    assert where in line, f"{where!r} not in {line!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_file_and_record_exit_2(
        case: Case, tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    stub_server.responder = FaultyJudge(fault_rate=0.0, latency=0.0)
    bad = tmp_path / f"bad_{case.kind}{case.suffix}"
    bad.write_bytes(case.data)
    code, err, check = RUNNERS[case.kind](tmp_path, bad, cli, stub_server)
    assert code == 2, err
    shown = Path("generations.jsonl") if case.kind == "generations" else bad
    _assert_one_line(err, shown, case.where)
    check()


@pytest.mark.parametrize("damage", ["malformed_line", "wrong_status", "missing_template", "non_utf8",
                                    "score_off_scale", "score_zero", "score_nan", "score_true", "score_false",
                                    "score_string", "score_list", "two_records_one_line"])
def test_judgments_corrupt_mid_file_is_reported_and_kept_intact(
        damage: str, tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    run = _run_dir(tmp_path)
    recs = [Judgment(id=i, judge="openai:j", generator="m", template=TemplateRef(name="score_multi", hash="h"),
                     status="ok", scores={"helpfulness": 4.0}).model_dump(mode="json") for i in range(3)]
    lines = [json.dumps(r).encode() for r in recs]
    lines[1] = {"malformed_line": b'{"id": 1, "judge": ',
                "wrong_status": json.dumps({**recs[1], "status": "finished"}).encode(),
                "missing_template": json.dumps({k: v for k, v in recs[1].items() if k != "template"}).encode(),
                "non_utf8": lines[1].replace(b'"m"', b'"\xff"'),
                "score_off_scale": json.dumps({**recs[1], "scores": {"helpfulness": 9}}).encode(),
                "score_zero": json.dumps({**recs[1], "scores": {"helpfulness": 0}}).encode(),
                "score_nan": json.dumps({**recs[1], "scores": {"helpfulness": float("nan")}}).encode(),
                "score_true": json.dumps({**recs[1], "scores": {"helpfulness": True}}).encode(),
                "score_false": json.dumps({**recs[1], "scores": {"helpfulness": False}}).encode(),
                "score_string": json.dumps({**recs[1], "scores": {"helpfulness": "4"}}).encode(),
                "score_list": json.dumps({**recs[1], "scores": {"helpfulness": [4]}}).encode(),
                "two_records_one_line": lines[1] + b" " + lines[2]}[damage]
    path = run / "judgments.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    before = path.read_bytes()
    code, _out, err = cli("judge", str(run), "--judge", "openai:j", "--base-url", stub_server.base_url,
                          "--no-progress")
    assert code == 2
    _assert_one_line(err, path, ":2")
    assert path.read_bytes() == before and stub_server.count == 0


def test_leaderboard_refuses_a_score_off_the_scale_in_one_line(tmp_path: Path, cli: CliRun) -> None:
    run = _run_dir(tmp_path)
    recs = [Judgment(id=i, judge="openai:j", generator="m", template=TemplateRef(name="score_multi", hash="h"),
                     status="ok", scores={"helpfulness": 4.0}).model_dump(mode="json") for i in range(3)]
    recs[2]["scores"] = {"helpfulness": 9}  # hand-edited: no judge template scores above 5
    path = run / "judgments.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, out, err = cli("leaderboard", str(run))
    assert code == 2 and not out
    _assert_one_line(err, path, ":3")
    assert "outside the 1-5 scale" in err


@pytest.mark.parametrize("score", [True, False, "4"], ids=["true", "false", "string"])
def test_leaderboard_refuses_a_score_that_is_not_a_number_in_one_line(score: object, tmp_path: Path,
                                                                      cli: CliRun) -> None:
    """`true` would count as 1 (and `"4"` as 4): a score is a JSON number or null."""
    run = _run_dir(tmp_path)
    recs = [Judgment(id=i, judge="openai:j", generator="m", template=TemplateRef(name="score_multi", hash="h"),
                     status="ok", scores={"helpfulness": 4.0}).model_dump(mode="json") for i in range(3)]
    recs[2]["scores"] = {"helpfulness": score}
    path = run / "judgments.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    code, out, err = cli("leaderboard", str(run))
    assert code == 2 and not out
    _assert_one_line(err, path, ":3")
    assert f"score {json.dumps(score)} for 'helpfulness' is not a number" in err


@pytest.mark.parametrize("cell", ["[" * 100_000 + "]" * 100_000, "[" + "7" * 5_000 + "]"], ids=["deep", "digits"])
def test_a_csv_list_cell_that_is_not_json_is_read_as_text_not_a_crash(cell: str, tmp_path: Path, cli: CliRun) -> None:
    src = tmp_path / "ins.csv"
    src.write_text("id,instruction,task_types\n0,Question 0?,coding\n1,Question 1?," + cell + "\n", encoding="utf-8")
    code, _out, err = cli("instructions", "export", "--instructions", str(src), "--out", str(tmp_path / "e.jsonl"))
    assert code == 0 and "Traceback" not in err, err


def test_a_template_cannot_run_a_shell_command(tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    marker = tmp_path / "pwned"
    template = tmp_path / "evil.j2"
    template.write_text("{{ instruction }}\n{{ candidate }}\n{{ cycler.__init__.__globals__.os.system('touch "
                        f"{marker}') }}}}\n{{{{ joiner.__init__.__globals__.os.popen('touch {marker}').read() }}}}\n",
                        encoding="utf-8")
    code, _out, err = cli("judge", str(_run_dir(tmp_path)), "--judge", "openai:j", "--base-url", stub_server.base_url,
                          "--template-multi", str(template), "--no-progress")
    assert code == 2 and "sandbox" in err and not marker.exists() and stub_server.count == 0
    _assert_one_line(err, template, ":3")


def test_one_megabyte_output_is_valid_input(tmp_path: Path, cli: CliRun, stub_server: StubServer) -> None:
    """The documented decision: a 1 MB output is imported byte for byte and judged."""
    huge = ("word " * 210_000)[:1_048_576]
    recs = [output(i) for i in range(N)]
    recs[2]["output"] = huge
    src = tmp_path / "outputs.jsonl"
    write_jsonl(src, recs)
    run = tmp_path / "run"
    code, _out, err = cli("import", str(src), "--out", str(run), "--instructions", str(_good_instructions(tmp_path)))
    assert code == 0, err
    assert {g.id: g.output for g in RunDir(run).load_generations()}[2] == huge
    stub_server.responder = FaultyJudge(fault_rate=0.0, latency=0.0)
    code, _out, err = cli("judge", str(run), "--judge", "openai:j", "--base-url", stub_server.base_url,
                          "--no-progress", "--no-cache")
    assert code == 0, err
    assert {j.id: j.status for j in RunDir(run).load_judgments()} == {i: "ok" for i in range(N)}
    assert any(huge in r.prompt_text for r in stub_server.requests)
