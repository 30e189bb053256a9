"""Recorded verdicts of published judges reproduce the published figures exactly: PandaLM's
annotator kappas and label split and PandaLM-7B's accuracy; every accuracy figure of every
LLMBar Natural `statistics.json`, to the digit, through the real CLI (`--verdicts`, `--json`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, CliRun

pytestmark = pytest.mark.integration

LLMBAR_RUNS = ("GPT-4/Vanilla", "GPT-4/CoT", "ChatGPT/Vanilla", "LLaMA2/Vanilla")


def pandalm(shared_data: Path) -> Path:
    return shared_data / "human-labels" / "PandaLM" / "data"


def natural(shared_data: Path) -> Path:
    return shared_data / "human-labels" / "LLMBar" / "Dataset" / "LLMBar" / "Natural"


def report(cli: CliRun, *args: str) -> dict[str, Any]:
    code, out, err = cli("judge-eval", *args, "--json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def test_pandalm_annotator_kappas_label_split_and_pandalm_7b_accuracy(cli: CliRun, shared_data: Path) -> None:
    data = pandalm(shared_data)
    r = report(cli, "--set", str(data / "testset-v1.json"), "--verdicts", str(data / "pandalm-7b-testset-v1.json"))
    assert (r["set"], r["judge"], r["n"]) == ("pandalm", "pandalm-7b", 999)
    humans = r["humans"]
    # PandaLM's README: 0.85 / 0.88 / 0.86 (1-2, 1-3, 2-3); the label split 105 / 422 / 472
    assert {k: round(v, 3) for k, v in humans["kappa"].items()} == {"1-2": 0.852, "1-3": 0.879, "2-3": 0.862}
    assert {k: round(v, 2) for k, v in humans["kappa"].items()} == {"1-2": 0.85, "1-3": 0.88, "2-3": 0.86}
    assert humans["label_counts"] == {"tie": 105, "1": 422, "2": 472}
    assert humans["annotators"] == ["annotator1", "annotator2", "annotator3"]
    # PandaLM-7B: 66.77 % accurate against the majority (667 of 999)
    assert r["counts"]["correct_first"] == 667
    assert f"{r['accuracy']['first_order'] * 100:.2f}" == "66.77"
    # one recorded order: the two-order figures are null, not 0
    assert r["accuracy"]["second_order"] is None and r["accuracy"]["both"] is None and r["consistency"] is None
    assert r["orders"] == 1 and r["cost_usd"] is None and r["wall_s"] is None


def test_pandalm_gpt35_unreadable_replies_are_counted_and_never_right(cli: CliRun, shared_data: Path) -> None:
    data = pandalm(shared_data)
    verdicts = json.loads((data / "gpt-3.5-turbo-testset-v1.json").read_text(encoding="utf-8"))
    garbage = sum(str(v["gpt_result"]) not in ("0", "1", "2", "Tie") for v in verdicts)
    r = report(cli, "--set", str(data / "testset-v1.json"), "--verdicts", str(data / "gpt-3.5-turbo-testset-v1.json"))
    assert garbage > 0 and r["unreadable"] == garbage
    labels = json.loads((data / "testset-v1.json").read_text(encoding="utf-8"))
    majority = {x["idx"]: max((x["annotator1"], x["annotator2"], x["annotator3"]),
                              key=[x["annotator1"], x["annotator2"], x["annotator3"]].count) for x in labels}
    spelled = {"1": 1, "2": 2, "Tie": 0, "0": 0}
    right = sum(spelled.get(str(v["gpt_result"])) == majority[v["idx"]] for v in verdicts)
    assert r["counts"]["correct_first"] == right


def _llmbar_figures(counts: dict[str, int]) -> dict[str, str]:
    """LLMBar's own formatting of its figures, from our counts."""
    n = counts["items"]

    def frac(k: int) -> str:
        return f"{k} / {n} = {k / n * 100}%"

    return {"correct_False": frac(counts["correct_first"]), "correct_True": frac(counts["correct_second"]),
            "correct_average": f"{(counts['correct_first'] + counts['correct_second']) / 2 / n * 100}%",
            "correct_both": frac(counts["correct_both"]),
            # LLMBar's `equal` also counts an item unreadable in both orders as agreeing
            "equal": frac(counts["consistent"] + counts["both_unreadable"])}


@pytest.mark.parametrize("run", LLMBAR_RUNS)
def test_every_llmbar_natural_statistic_to_the_digit(cli: CliRun, shared_data: Path, run: str) -> None:
    folder = natural(shared_data)
    recorded = folder / "evaluators" / run
    r = report(cli, "--set", str(folder), "--verdicts", str(recorded / "result.json"))
    assert (r["set"], r["judge"], r["n"], r["orders"]) == ("llmbar-natural", run, 100, 2)
    published = json.loads((recorded / "statistics.json").read_text(encoding="utf-8"))
    mine = _llmbar_figures(r["counts"])
    assert mine == {k: published[k] for k in mine}
    n = r["n"]
    assert r["accuracy"]["first_order"] == r["counts"]["correct_first"] / n
    assert r["accuracy"]["both"] == r["counts"]["correct_both"] / n
    # real Cohen's kappa, not LLMBar's (which maps a verdict of 2 to 0): it follows the accuracy
    assert r["kappa"]["majority"] > published["kappa_average"]
    assert r["humans"]["kappa"] is None  # one gold label: no human-human figure


def test_readme_reference_table_is_what_the_command_prints(cli: CliRun, shared_data: Path) -> None:
    """The README's table of reference judges is the `--markdown` output of the command it
    names, on the same recorded files: regenerate it with that command when this fails."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    data, folder = pandalm(shared_data), natural(shared_data)
    code, panda, err = cli("judge-eval", "--set", str(data / "testset-v1.json"), "--markdown",
                           "--verdicts", str(data / "gpt-3.5-turbo-testset-v1.json"),
                           "--verdicts", str(data / "pandalm-7b-testset-v1.json"))
    assert code == 0, err
    args = [a for run in LLMBAR_RUNS for a in ("--verdicts", str(folder / "evaluators" / run / "result.json"))]
    code, bar, err = cli("judge-eval", "--set", str(folder), "--markdown", *args)
    assert code == 0, err
    assert panda.strip() in readme
    assert bar.strip() in readme
