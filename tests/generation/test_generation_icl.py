"""In-context example pools: loading, fixed / seeded random / BM25-similar selection."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from justeval.errors import InputError, UsageError
from justeval.generation.icl import BM25, Example, ExampleSelector, load_pool

POOL = [
    Example("How do I bake sourdough bread at home?", "Feed the starter, then bake in a hot oven."),
    Example("What is the capital of Australia?", "Canberra."),
    Example("Suggest a name for a black cat.", "Midnight."),
    Example("Why does bread dough need to rise before baking?", "Yeast makes gas that lightens the loaf."),
    Example("How far is the Moon?", "About 384,000 km."),
    Example("Give me a recipe for banana bread.", "Mash bananas, mix with flour, sugar and eggs, bake."),
    Example("Translate 'good morning' into French.", "Bonjour."),
    Example("What is photosynthesis?", "Plants turning light into sugar."),
]


def _write_pool(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_pool_loads_jsonl_and_json_list(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"instruction": e.instruction, "output": e.output} for e in POOL[:3]]
    assert load_pool(_write_pool(tmp_path / "p.jsonl", rows)) == POOL[:3]
    (tmp_path / "p.json").write_text(json.dumps(rows), encoding="utf-8")
    assert load_pool(tmp_path / "p.json") == POOL[:3]


@pytest.mark.parametrize("bad", [{"instruction": "q"}, {"instruction": "q", "output": "  "},
                                 {"instruction": 3, "output": "a"}])
def test_pool_record_without_usable_fields_names_its_line(tmp_path: Path, bad: dict[str, object]) -> None:
    path = _write_pool(tmp_path / "p.jsonl", [{"instruction": "ok", "output": "fine"}, bad])
    with pytest.raises(InputError) as info:
        load_pool(path)
    assert info.value.line == 2 and str(path) in str(info.value)


def test_fixed_takes_the_first_k_and_skips_the_query_itself() -> None:
    sel = ExampleSelector(POOL, 3, "fixed")
    assert sel.indices("Something new", "7") == [0, 1, 2]
    assert sel.indices(POOL[1].instruction, "7") == [0, 2, 3]


def test_random_is_reproducible_per_item_and_varies_across_items() -> None:
    a = ExampleSelector(POOL, 3, "random", seed=5)
    b = ExampleSelector(POOL, 3, "random", seed=5)
    picks = {key: a.indices("query", key) for key in map(str, range(10))}
    assert all(b.indices("query", key) == got for key, got in picks.items())
    assert len({tuple(p) for p in picks.values()}) > 1
    assert all(len(set(p)) == 3 for p in picks.values())
    other_seed = ExampleSelector(POOL, 3, "random", seed=6)
    assert any(other_seed.indices("query", key) != got for key, got in picks.items())


def test_similar_picks_the_lexically_closest_examples_and_shows_the_closest_last() -> None:
    sel = ExampleSelector(POOL, 3, "similar")
    # the three bread examples share "bread"/"baking" words with the query; nothing else does
    assert set(sel.indices("What temperature should I use for baking bread?", "0")) == {0, 3, 5}
    # the most similar example sits closest to the query: last
    assert sel.indices("How far away is the Moon from Earth?", "0")[-1] == 4
    choice = sel.choose("How far away is the Moon from Earth?", "0")
    assert choice.ranked[0] == 4 and choice.shown() == list(reversed(choice.ranked))


def test_bm25_matches_the_formula_on_a_tiny_corpus() -> None:
    docs = ["red apple", "green apple pie", "blue sky"]
    scores = BM25(docs).scores("apple")
    n, df, avg = 3, 2, (2 + 3 + 2) / 3
    idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
    k1, b = 1.5, 0.75

    def expected(length: int) -> float:
        return idf * (1 * (k1 + 1)) / (1 + k1 * (1 - b + b * length / avg))

    assert scores == pytest.approx([expected(2), expected(3), 0.0])


def test_unknown_mode_and_negative_shots_are_rejected() -> None:
    with pytest.raises(UsageError, match="--select") as err:
        ExampleSelector(POOL, 2, "nearest")
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="--shots"):
        ExampleSelector(POOL, -1, "fixed")


def test_pool_text_is_trimmed_so_it_sits_inside_its_fence(tmp_path: Path) -> None:
    path = _write_pool(tmp_path / "p.jsonl", [{"instruction": "  Why?\n", "output": "Because.\n\n"}])
    assert load_pool(path) == [Example("Why?", "Because.")]
