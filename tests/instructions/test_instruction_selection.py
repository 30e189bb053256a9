"""Every selection option, through the library and through the shared CLI options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.errors import InputError, JustevalError, SourceUnavailableError
from justeval.instructions import Selection, load_instructions, load_selection, select, selection_from_cli
from tests.conftest import CliRun
from tests.instructions.conftest import small_rows

ROWS = small_rows()


def _ids(items: list) -> list:
    return [i.id for i in items]


def _where(pred: object) -> list:
    return [r["id"] for r in ROWS if pred(r)]  # type: ignore[operator]


@pytest.mark.parametrize(("subset", "category"), [("regular", "regular"), ("safety", "safety")])
def test_subset_keeps_one_category(small_set: Path, subset: str, category: str) -> None:
    got = load_selection(small_set, Selection(subset=subset))
    assert _ids(got) == _where(lambda r: r["category"] == category)


def test_subset_all_keeps_everything(small_set: Path) -> None:
    assert _ids(load_selection(small_set, Selection())) == [r["id"] for r in ROWS]


def test_subset_lite_reads_ids_beside_the_file(small_set: Path) -> None:
    lite = json.loads((small_set.parent / "lite_ids.json").read_text())
    want = set(lite["lite_regular_ids"]) | set(lite["lite_safety_ids"])
    assert set(_ids(load_selection(small_set, Selection(subset="lite")))) == want


def test_subset_lite_with_explicit_ids_file(small_set: Path, tmp_path: Path) -> None:
    other = tmp_path / "mine.json"
    other.write_text(json.dumps({"lite_regular_ids": [0], "lite_safety_ids": [800]}))
    assert _ids(load_selection(small_set, Selection(subset="lite", lite_ids=other))) == [0, 800]


def test_subset_lite_without_ids_file_says_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    with pytest.raises(InputError, match=r"lite_ids\.json"):
        load_selection(path, Selection(subset="lite"))


def test_subset_lite_for_hub_source_offline_is_clear(small_set: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    items = load_instructions(small_set)
    with pytest.raises(SourceUnavailableError, match=r"filters\.json"):
        select(items, Selection(subset="lite"), source=None)


def test_unknown_subset_is_rejected(small_set: Path) -> None:
    with pytest.raises(JustevalError, match="--subset"):
        load_selection(small_set, Selection(subset="tiny"))


def test_dataset_matches_name_or_source_family(small_set: Path) -> None:
    assert _ids(load_selection(small_set, Selection(datasets=["lima", "MaliciousInstruct"]))) == [2, 900]
    # `alpaca_eval` is the family of all AlpacaEval subsets (from the source_id)
    assert _ids(load_selection(small_set, Selection(datasets=["alpaca_eval"]))) == _where(
        lambda r: r["source_id"].startswith("alpaca_eval"))


def test_task_topic_difficulty_filters(small_set: Path) -> None:
    assert _ids(load_selection(small_set, Selection(tasks=["math"]))) == _where(lambda r: "math" in r["task_types"])
    assert _ids(load_selection(small_set, Selection(topics=["stem"]))) == _where(lambda r: "stem" in r["topics"])
    assert _ids(load_selection(small_set, Selection(difficulties=["easy", "hard"]))) == _where(
        lambda r: r["difficulty"] in ("easy", "hard"))


def test_filters_combine_with_and(small_set: Path) -> None:
    got = load_selection(small_set, Selection(subset="regular", topics=["stem"], difficulties=["easy"]))
    assert _ids(got) == _where(lambda r: "stem" in r["topics"] and r["difficulty"] == "easy")


def test_unknown_tag_value_is_rejected(small_set: Path) -> None:
    with pytest.raises(JustevalError, match="--task 'poetry'"):
        load_selection(small_set, Selection(tasks=["poetry"]))


def test_schema_tag_absent_from_data_selects_nothing(small_set: Path) -> None:
    assert load_selection(small_set, Selection(tasks=["role-play"])) == []


def test_ids_take_ranges_and_single_ids(small_set: Path) -> None:
    assert _ids(load_selection(small_set, Selection(ids="1-3,900"))) == [1, 2, 3, 900]


def test_limit_keeps_the_first_items(small_set: Path) -> None:
    assert _ids(load_selection(small_set, Selection(limit=2))) == [r["id"] for r in ROWS[:2]]


def test_sample_is_seeded_and_keeps_set_order(small_set: Path) -> None:
    first = _ids(load_selection(small_set, Selection(sample=3, seed=7)))
    again = _ids(load_selection(small_set, Selection(sample=3, seed=7)))
    order = [r["id"] for r in ROWS]
    assert first == again and len(set(first)) == 3
    assert first == sorted(first, key=order.index)
    seeds = {tuple(_ids(load_selection(small_set, Selection(sample=3, seed=s)))) for s in range(10)}
    assert len(seeds) > 1


def test_sample_larger_than_selection_keeps_all(small_set: Path) -> None:
    assert len(load_selection(small_set, Selection(subset="safety", sample=50))) == 2


def test_selection_from_cli_splits_commas(small_set: Path) -> None:
    source, sel = selection_from_cli(str(small_set), "Regular", ["lima,mt"], ["coding, writing"], None, None,
                                     None, None, None, 0)
    assert source == str(small_set) and sel.subset == "regular"
    assert sel.datasets == ["lima", "mt"] and sel.tasks == ["coding", "writing"]
    assert _ids(load_selection(source, sel)) == [2, 3]


def test_cli_selection_options_reach_stats(small_set: Path, cli: CliRun) -> None:
    code, out, _ = cli("instructions", "stats", "--instructions", str(small_set), "--json", "--subset", "regular",
                       "--topic", "stem", "--topic", "nature", "--ids", "0-2")
    stats = json.loads(out)
    assert code == 0 and stats["total"] == len(_where(
        lambda r: r["category"] == "regular" and {"stem", "nature"} & set(r["topics"]) and r["id"] <= 2))


def test_justeval_instructions_names_the_default_source(small_set: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline users point JUSTEVAL_INSTRUCTIONS at a local copy once; commands given no
    --instructions then read it (lite ids from beside it) and record it."""
    from justeval.engine.backend_spec import BackendSpec
    from justeval.settings import GenerateSettings

    monkeypatch.setenv("JUSTEVAL_INSTRUCTIONS", str(small_set))
    monkeypatch.setenv("JUSTEVAL_OFFLINE", "1")
    assert _ids(load_selection(None, Selection())) == [r["id"] for r in ROWS]
    assert set(_ids(load_selection(None, Selection(subset="lite")))) == set(
        _ids(load_selection(small_set, Selection(subset="lite"))))
    settings = GenerateSettings(model=BackendSpec(spec="openai:m")).absolute()
    assert settings.instructions == str(small_set.resolve())
