"""The round trip: export from runs the tests build, labels the tests write, import; every
reported number is recomputed here independently (by hand or with scikit-learn directly)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sklearn.metrics import cohen_kappa_score

from justeval.errors import InputError
from justeval.review.export import export_review
from justeval.review.import_report import import_review
from tests.conftest import pairwise_settings

from .helpers_review import make_run, side_for, write_csv_labels, write_jsonl_labels, write_scores

FLIP = {"alpha": "beta", "beta": "tie", "tie": "alpha"}
AB = {"alpha": "A", "beta": "B", "tie": "tie"}


def truth(item: int) -> str:
    return ["alpha", "beta", "tie"][item % 3]


def implied_by_scores(item: int) -> str:
    """alpha always scores 4; beta 5, 4 or 3: so beta wins, ties, or loses."""
    return ["B", "tie", "A", "A"][item % 4]


@pytest.fixture
def exported(tmp_path: Path) -> tuple[list[Path], Path, list[dict[str, Any]]]:
    runs = [make_run(tmp_path / "runs", m) for m in ("alpha", "beta")]
    write_scores(runs[0], "alpha", {i: 4.0 for i in range(20)})
    write_scores(runs[1], "beta", {i: [5.0, 4.0, 3.0, 3.0][i % 4] for i in range(20)})
    out = tmp_path / "review"
    export_review(runs, out, n=16, seed=7)
    pairs = json.loads((out / "key.json").read_text(encoding="utf-8"))["pairs"]
    return runs, out, pairs


def share(pairs: list[dict[str, Any]], votes: dict[str, list[str]], outcome: str) -> float:
    return sum(Counter(votes[p["pair_id"]])[outcome] / len(votes[p["pair_id"]]) for p in pairs) / len(pairs)


def test_one_annotator_win_rates_and_agreement_with_score_judge(exported: Any, tmp_path: Path) -> None:
    runs, out, pairs = exported
    labels = write_csv_labels(tmp_path / "ann.csv", [
        {"pair_id": p["pair_id"], "label": side_for(truth(p["id"]), p).upper()} for p in pairs])
    report = import_review([labels], out / "key.json", judge_runs=runs)
    human = [AB[truth(p["id"])] for p in pairs]
    (row,) = report["win_rates"]
    assert (row["model_a"], row["model_b"], row["pairs"]) == ("alpha", "beta", 16)
    for outcome in ("A", "tie", "B"):
        assert row[outcome]["value"] == pytest.approx(human.count(outcome) / 16)
        assert row[outcome]["low"] <= row[outcome]["value"] <= row[outcome]["high"]
    assert row["score"]["value"] == pytest.approx((human.count("A") + 0.5 * human.count("tie")) / 16)
    assert report["annotators"] == ["ann"] and report["inter_annotator"] == {}
    (agree,) = report["judge_agreement"]
    judge = [implied_by_scores(p["id"]) for p in pairs]
    assert agree["source"] == "scores openai:judge" and agree["n"] == 16
    assert agree["raw"] == pytest.approx(sum(h == j for h, j in zip(human, judge, strict=True)) / 16)
    decided = [(h, j) for h, j in zip(human, judge, strict=True) if "tie" not in (h, j)]
    assert agree["n_no_ties"] == len(decided)
    assert agree["raw_no_ties"] == pytest.approx(sum(h == j for h, j in decided) / len(decided))
    assert agree["kappa"] == pytest.approx(cohen_kappa_score(human, judge))


def test_perfectly_agreeing_judge_has_kappa_one(exported: Any, tmp_path: Path) -> None:
    runs, out, pairs = exported
    labels = write_csv_labels(tmp_path / "ann.csv", [
        {"pair_id": p["pair_id"], "label": side_for({"A": "alpha", "B": "beta", "tie": "tie"}[
            implied_by_scores(p["id"])], p)} for p in pairs])
    (agree,) = import_review([labels], out / "key.json", judge_runs=runs)["judge_agreement"]
    assert agree["raw"] == 1.0 and agree["raw_no_ties"] == 1.0 and agree["kappa"] == pytest.approx(1.0)


def _two_annotators(pairs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    one = [truth(p["id"]) for p in pairs]
    two = [FLIP[w] if k % 4 == 0 else w for k, w in enumerate(one)]
    return one, two


def test_several_annotators_inter_annotator_kappa_and_alpha(exported: Any, tmp_path: Path) -> None:
    runs, out, pairs = exported
    one, two = _two_annotators(pairs)
    rows = [{"pair_id": p["pair_id"], "label": side_for(w, p), "annotator": "ann1"} for p, w in zip(pairs, one,
                                                                                                     strict=True)]
    rows += [{"pair_id": p["pair_id"], "label": side_for(w, p), "annotator": "ann2"} for p, w in zip(pairs, two,
                                                                                                      strict=True)]
    report = import_review([write_jsonl_labels(tmp_path / "labels.jsonl", rows)], out / "key.json", judge_runs=runs)
    a1, a2 = [AB[w] for w in one], [AB[w] for w in two]
    votes = {p["pair_id"]: [x, y] for p, x, y in zip(pairs, a1, a2, strict=True)}
    (row,) = report["win_rates"]
    assert row["labels"] == 32 and row["pairs"] == 16
    for outcome in ("A", "tie", "B"):
        assert row[outcome]["value"] == pytest.approx(share(pairs, votes, outcome))
    inter = report["inter_annotator"]
    (pair_row,) = inter["pairs"]
    assert pair_row["kappa"] == pytest.approx(cohen_kappa_score(a1, a2))
    assert pair_row["raw"] == pytest.approx(sum(x == y for x, y in zip(a1, a2, strict=True)) / 16)
    # Two complete coders: alpha = 1 - D_o / D_e, D_e from the pooled value counts.
    total = Counter(a1 + a2)
    big_n = 32
    d_o = sum(x != y for x, y in zip(a1, a2, strict=True)) / 16
    d_e = (big_n * big_n - sum(c * c for c in total.values())) / (big_n * (big_n - 1))
    assert inter["krippendorff_alpha"] == pytest.approx(1 - d_o / d_e) and inter["units"] == 16
    judge = [implied_by_scores(p["id"]) for p in pairs]
    by = {(r["source"], r["annotator"]): r for r in report["judge_agreement"]}
    assert by[("scores openai:judge", "all")]["kappa"] == pytest.approx(cohen_kappa_score(a1 + a2, judge + judge))
    assert by[("scores openai:judge", "ann2")]["kappa"] == pytest.approx(cohen_kappa_score(a2, judge))


def test_label_studio_export_round_trip_matches_jsonl_labels(exported: Any, tmp_path: Path) -> None:
    runs, _out, _pairs = exported
    ls_dir = tmp_path / "ls"
    export_review(runs, ls_dir, n=16, seed=7, fmt="label-studio", aspects=["helpfulness"])
    key = json.loads((ls_dir / "key.json").read_text(encoding="utf-8"))["pairs"]
    tasks = json.loads((ls_dir / "tasks.json").read_text(encoding="utf-8"))
    one, two = _two_annotators(key)
    export = []
    for num, (task, p, x, y) in enumerate(zip(tasks, key, one, two, strict=True)):
        def ann(who: int, winner: str, *, cancelled: bool = False, p: dict[str, Any] = p) -> dict[str, Any]:
            result = [{"from_name": "preference", "to_name": "instruction", "type": "choices",
                       "value": {"choices": [side_for(winner, p).capitalize()]}}]
            if who == 1:
                result.append({"from_name": "aspect_helpfulness", "to_name": "instruction", "type": "choices",
                               "value": {"choices": [side_for(winner, p).capitalize()]}})
            return {"completed_by": {"id": who, "email": f"a{who}@x"}, "was_cancelled": cancelled, "result": result}

        anns = [ann(1, x), ann(2, y)] + ([ann(3, "alpha", cancelled=True)] if num == 0 else [])
        export.append({"id": 100 + num, "data": task["data"], "annotations": anns})
    ls_file = tmp_path / "export.json"
    ls_file.write_text(json.dumps(export), encoding="utf-8")
    report = import_review([ls_file], ls_dir / "key.json")
    assert report["annotators"] == ["a1@x", "a2@x"] and report["labels_count"] == 32
    a1, a2 = [AB[w] for w in one], [AB[w] for w in two]
    assert report["inter_annotator"]["pairs"][0]["kappa"] == pytest.approx(cohen_kappa_score(a1, a2))
    (help_row,) = report["aspect_win_rates"]["helpfulness"]
    assert help_row["A"]["value"] == pytest.approx(a1.count("A") / 16) and help_row["labels"] == 16


def test_pairwise_judge_file_agreement_maps_swapped_models_and_inconsistent_as_tie(exported: Any,
                                                                                  tmp_path: Path) -> None:
    from justeval.jsonl import write_jsonl
    from justeval.records import TemplateRef
    from justeval.review.records import PairwiseJudgment

    _runs, out, pairs = exported
    human = {p["id"]: AB[truth(p["id"])] for p in pairs}
    # The judge file compares beta (its A) with alpha (its B): verdicts must be swapped back.
    own = {0: "A", 1: "B", 2: "inconsistent", 3: "tie"}
    tpl = TemplateRef(name="pairwise", hash="h")
    recs = [PairwiseJudgment(id=i, judge="openai:pj", generator_a="beta", generator_b="alpha", template=tpl,
                             status="ok", result=own[i % 4]) for i in range(20)]
    recs.append(PairwiseJudgment(id=pairs[0]["id"], judge="openai:pj", generator_a="beta", generator_b="alpha",
                                 template=tpl, status="parse_error"))  # a later failed line drops that item
    write_jsonl(tmp_path / "pw.jsonl", recs)
    labels = write_csv_labels(tmp_path / "ann.csv", [
        {"pair_id": p["pair_id"], "label": side_for(truth(p["id"]), p)} for p in pairs])
    (agree,) = import_review([labels], out / "key.json", pairwise=[tmp_path / "pw.jsonl"])["judge_agreement"]
    in_key = {"A": "B", "B": "A", "inconsistent": "tie", "tie": "tie"}
    kept = [p["id"] for p in pairs[1:]]
    h = [human[i] for i in kept]
    j = [in_key[own[i % 4]] for i in kept]
    assert agree["source"] == "pairwise openai:pj" and agree["n"] == len(kept)
    assert agree["kappa"] == pytest.approx(cohen_kappa_score(h, j))
    assert agree["raw"] == pytest.approx(sum(x == y for x, y in zip(h, j, strict=True)) / len(kept))


@pytest.mark.parametrize(("row", "message"), [
    ({"pair_id": "p9999", "label": "left"}, "not in the key"),
    ({"pair_id": "FIRST", "label": "better"}, "bad label value 'better'"),
    ({"pair_id": "FIRST", "label": ""}, "missing label"),
    ({"pair_id": "", "label": "left"}, "missing pair_id"),
])
def test_labels_that_do_not_match_the_key_name_file_and_record(exported: Any, tmp_path: Path,
                                                               row: dict[str, str], message: str) -> None:
    _runs, out, pairs = exported
    row = {k: (pairs[0]["pair_id"] if v == "FIRST" else v) for k, v in row.items()}
    good = {"pair_id": pairs[1]["pair_id"], "label": "tie"}
    path = write_csv_labels(tmp_path / "bad.csv", [good, row])
    with pytest.raises(InputError, match=message) as info:
        import_review([path], out / "key.json")
    assert str(path) in str(info.value) and ":3" in str(info.value)


def test_duplicate_label_by_one_annotator_is_an_error(exported: Any, tmp_path: Path) -> None:
    _runs, out, pairs = exported
    rows = [{"pair_id": pairs[0]["pair_id"], "label": "left", "annotator": "x"}] * 2
    with pytest.raises(InputError, match="labelled twice"):
        import_review([write_jsonl_labels(tmp_path / "l.jsonl", rows)], out / "key.json")


def test_cli_round_trip_json_and_one_line_error(exported: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from justeval.cli import main

    runs, _out, _pairs = exported
    out = tmp_path / "cli"
    monkeypatch.setattr(sys, "argv", ["justeval", "export-review", str(runs[0]), str(runs[1]), "--out", str(out),
                                      "--n", "6", "--seed", "3", "--format", "jsonl"])
    main()
    capsys.readouterr()
    key = json.loads((out / "key.json").read_text(encoding="utf-8"))["pairs"]
    rows = [json.loads(line) for line in (out / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    for r, p in zip(rows, key, strict=True):
        r.update(label=side_for(truth(p["id"]), p), annotator="me")
    labels = write_jsonl_labels(tmp_path / "done.jsonl", rows)
    monkeypatch.setattr(sys, "argv", ["justeval", "import-review", str(labels), "--key", str(out / "key.json"),
                                      "--judge-run", str(runs[0]), "--judge-run", str(runs[1]), "--json"])
    main()
    report = json.loads(capsys.readouterr().out)
    human = [AB[truth(p["id"])] for p in key]
    assert report["win_rates"][0]["A"]["value"] == pytest.approx(human.count("A") / 6)
    assert report["judge_agreement"][0]["kappa"] == pytest.approx(
        cohen_kappa_score(human, [implied_by_scores(p["id"]) for p in key]))
    rows[0]["label"] = "maybe"
    write_jsonl_labels(labels, rows)
    monkeypatch.setattr(sys, "argv", ["justeval", "import-review", str(labels), "--key", str(out / "key.json")])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1 and str(labels) in err and "maybe" in err


def test_csv_aspect_columns_and_unknown_aspect(tmp_path: Path) -> None:
    runs = [make_run(tmp_path / "runs", m) for m in ("alpha", "beta")]
    export_review(runs, tmp_path / "r", n=6, seed=1, aspects=["depth"])
    pairs = json.loads((tmp_path / "r" / "key.json").read_text(encoding="utf-8"))["pairs"]
    rows = [{"pair_id": p["pair_id"], "label": "tie", "label_depth": side_for("beta", p) if k < 4 else ""}
            for k, p in enumerate(pairs)]
    report = import_review([write_csv_labels(tmp_path / "a.csv", rows)], tmp_path / "r" / "key.json")
    (depth,) = report["aspect_win_rates"]["depth"]
    assert depth["pairs"] == 4 and depth["B"]["value"] == 1.0 and report["win_rates"][0]["tie"]["value"] == 1.0
    rows[0]["label_clarity"] = "left"
    with pytest.raises(InputError, match="clarity"):
        import_review([write_csv_labels(tmp_path / "b.csv", rows)], tmp_path / "r" / "key.json")


def test_label_studio_json_min_export_is_read(exported: Any, tmp_path: Path) -> None:
    _runs, out, pairs = exported
    flat = [{"id": k, "pair_id": p["pair_id"], "preference": side_for(truth(p["id"]), p).capitalize(),
             "annotator": 7} for k, p in enumerate(pairs)]
    path = tmp_path / "min.json"
    path.write_text(json.dumps(flat), encoding="utf-8")
    report = import_review([path], out / "key.json")
    human = [AB[truth(p["id"])] for p in pairs]
    assert report["annotators"] == ["7"] and report["win_rates"][0]["B"]["value"] == pytest.approx(
        human.count("B") / 16)


def test_pairwise_stage_output_feeds_import_review(tmp_path: Path, stub_server: Any) -> None:
    """The full loop: pairwise judge -> export -> people label -> agreement with the judge."""
    import re

    from justeval.engine.engine import EngineConfig
    from justeval.review.pairwise import pairwise_run
    from justeval.testing.stub_server import Reply, StubRequest

    runs = [make_run(tmp_path / "runs", m) for m in ("alpha", "beta")]

    def judge(req: StubRequest) -> Reply:  # prefers beta on even items, alpha on odd ones, in both orders
        first = re.search(r"\[BEGIN ANSWER 1 \w+\]\n(.*?)\n", req.prompt_text)
        assert first is not None
        item, model = int(first.group(1).split()[1]), first.group(1).rsplit(" by ", 1)[1][::-1]
        return Reply(text=json.dumps({"preference": "1" if (model == "beta") == (item % 2 == 0) else "2"}))

    stub_server.responder = judge
    summary = pairwise_run(runs[0], runs[1], pairwise_settings(stub_server.base_url, "openai:pj",
                                                               engine=EngineConfig(progress=False, cache=False)))
    out = tmp_path / "review"
    export_review(runs, out, n=16, seed=7)
    pairs = json.loads((out / "key.json").read_text(encoding="utf-8"))["pairs"]
    labels = write_csv_labels(tmp_path / "ann.csv", [
        {"pair_id": p["pair_id"], "label": side_for(truth(p["id"]), p)} for p in pairs])
    (agree,) = import_review([labels], out / "key.json", pairwise=[summary.path])["judge_agreement"]
    human = [AB[truth(p["id"])] for p in pairs]
    judged = ["B" if p["id"] % 2 == 0 else "A" for p in pairs]
    assert agree["source"] == "pairwise openai:pj" and agree["n"] == 16
    assert agree["kappa"] == pytest.approx(cohen_kappa_score(human, judged))
    assert agree["raw"] == pytest.approx(sum(h == j for h, j in zip(human, judged, strict=True)) / 16)
