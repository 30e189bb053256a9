"""Assembling a set from small source files with a small recipe, both written by the tests."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from justeval.errors import InputError, SourceUnavailableError
from justeval.instructions.assemble import assemble
from justeval.instructions.load import load_instructions
from justeval.instructions.recipe import load_recipe
from justeval.instructions.sources import first_human_turn
from tests.conftest import CliRun

RECIPE = """
name: tiny
categories:
  regular: {ids: "0-5", count: 6}
  safety: {ids: "10-12", count: 3}
sources:
  - {name: alpaca_eval, category: regular, local: ae/ae.json, text: instruction, dataset_field: dataset,
     count: 2, source_id: "alpaca_eval-{index}", select: "1, 3"}
  - {name: lima, category: regular, local: lima/test.jsonl, text: conversations, dataset: lima,
     count: 2, source_id: "lima-{index}", select: "0-1"}
  - {name: mt_bench, category: regular, local: mt/q.jsonl, text: turns, order_by: question_id, dataset: mt,
     count: 2, source_id: "mt-{prompt_id}-{category}", select: "0-1",
     known_differences: [{id: 5, fields: [instruction, source_id], note: typo in the published text}]}
  - {name: red_team, category: safety, local: rt/rt.json, text: transcript, dataset: hh-rlhf/red-team-attempts,
     count: 2, source_id: "red_team-{index}"}
  - {name: malicious_instruct, category: safety, local: mi/mi.txt, text: line, dataset: MaliciousInstruct,
     count: 1, source_id: "MaliciousInstruct-{index}", select: "1"}
tags:
  task_types: [info-seek, writing]
"""

AE = [{"instruction": f"alpaca {i}", "dataset": sub} for i, sub in enumerate(["koala", "oasst", "vicuna", "koala"])]
LIMA = [{"conversations": [f"lima question {i}", "an answer"], "source": "x"} for i in range(3)]
MT: list[dict[str, Any]] = [{"question_id": 82, "category": "math", "turns": ["second question", "follow up"]},
      {"question_id": 81, "category": "writing", "turns": ["first question", "follow up"]}]
RT = [{"transcript": f"\n\nHuman: attack {i}\nwith two lines\n\nAssistant: no\n\nHuman: again"} for i in range(5)]
MI = ["harm zero", "harm one", "harm two"]


def _sha_key(turns: list[str]) -> int:
    return int(hashlib.sha256("".join(turns).encode()).hexdigest(), 16) % 10**8


@pytest.fixture
def tiny(tmp_path: Path) -> tuple[Path, Path]:
    """(recipe path, source dir) for the tiny recipe."""
    src = tmp_path / "sources"
    for rel, text in {"ae/ae.json": json.dumps(AE),
                      "lima/test.jsonl": "".join(json.dumps(r) + "\n" for r in LIMA),
                      "mt/q.jsonl": "".join(json.dumps(r) + "\n" for r in MT),
                      "rt/rt.json": json.dumps(RT),
                      "mi/mi.txt": "\n".join(MI) + "\n"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text, encoding="utf-8")
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(RECIPE, encoding="utf-8")
    return recipe, src


def test_items_follow_the_recipe(tiny: tuple[Path, Path]) -> None:
    recipe, src = tiny
    got = assemble(recipe, source_dir=src).items
    regular = [(i.id, i.instruction, i.dataset, i.source_id) for i in got if i.category == "regular"]
    assert regular == [
        (0, AE[1]["instruction"], AE[1]["dataset"], "alpaca_eval-1"),
        (1, AE[3]["instruction"], AE[3]["dataset"], "alpaca_eval-3"),
        (2, LIMA[0]["conversations"][0], "lima", "lima-0"),
        (3, LIMA[1]["conversations"][0], "lima", "lima-1"),
        (4, "first question", "mt", f"mt-{_sha_key(MT[1]['turns'])}-writing"),  # ordered by question id
        (5, "second question", "mt", f"mt-{_sha_key(MT[0]['turns'])}-math"),
    ]
    mi = [i for i in got if i.dataset == "MaliciousInstruct"]
    assert [(i.id, i.instruction, i.source_id) for i in mi] == [(12, MI[1], "MaliciousInstruct-1")]


def test_red_team_prompt_is_the_first_human_turn() -> None:
    assert first_human_turn(RT[2]["transcript"]) == "attack 2\nwith two lines"
    assert first_human_turn("Human: only one turn") == "only one turn"


def test_random_draw_is_deterministic_for_a_seed(tiny: tuple[Path, Path]) -> None:
    recipe, src = tiny

    def drawn(seed: int) -> list[str | None]:
        return [i.source_id for i in assemble(recipe, source_dir=src, seed=seed).items
                if i.dataset.startswith("hh-rlhf")]

    assert drawn(3) == drawn(3) and len(set(drawn(3))) == 2
    assert len({tuple(drawn(s)) for s in range(12)}) > 1


def test_tags_are_carried_over_and_differences_reported(tiny: tuple[Path, Path]) -> None:
    recipe, src = tiny
    base = assemble(recipe, source_dir=src, seed=1).items
    published = [i.model_copy() for i in base]
    published[0].task_types, published[0].difficulty = ["info-seek"], "easy"
    published[5].source_id = "mt-99-math"  # known: key computed from a misspelt text
    published[5].instruction = "second questoin"
    published[5].topics = ["stem"]
    published[2].instruction = "something else"  # not known: must be flagged as unexpected
    result = assemble(recipe, source_dir=src, seed=1, reference=published)
    assert result.items[0].task_types == ["info-seek"] and result.items[0].difficulty == "easy"
    assert result.items[5].topics == ["stem"]  # matched by place although its source_id differs
    assert [(d.id, d.field, d.known) for d in result.differences] == [
        (2, "instruction", False), (5, "instruction", True), (5, "source_id", True)]
    assert result.missing == []
    report = "\n".join(result.report_lines())
    assert "[known] id 5" in report and "[UNEXPECTED] id 2" in report


def test_per_source_path_overrides_the_source_dir(tiny: tuple[Path, Path], tmp_path: Path) -> None:
    recipe, src = tiny
    other = tmp_path / "other_mi.txt"
    other.write_text("x0\nx1\n", encoding="utf-8")
    got = assemble(recipe, source_dir=src, sources={"malicious_instruct": other}).items
    assert [i.instruction for i in got if i.dataset == "MaliciousInstruct"] == ["x1"]


def test_too_short_source_names_the_file(tiny: tuple[Path, Path]) -> None:
    recipe, src = tiny
    (src / "mi/mi.txt").write_text("only one\n", encoding="utf-8")
    with pytest.raises(InputError, match="needs item 1"):
        assemble(recipe, source_dir=src)


def test_missing_source_offline_is_one_clear_error(tiny: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    recipe, src = tiny
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    (src / "lima/test.jsonl").unlink()
    (src / "lima").rmdir()
    with pytest.raises(SourceUnavailableError, match="--source lima=PATH"):
        assemble(recipe, source_dir=src)


def test_shipped_recipe_adds_up_to_the_published_layout() -> None:
    recipe = load_recipe()
    per_cat: dict[str, int] = {}
    for spec in recipe.sources:
        per_cat[spec.category] = per_cat.get(spec.category, 0) + spec.count
        assert len(set(spec.select)) == spec.count
        if spec.subsets:
            assert sum(spec.subsets.values()) == spec.count
    assert per_cat == {"regular": 800, "safety": 200}
    assert recipe.categories["regular"] == list(range(800)) and recipe.categories["safety"] == list(range(800, 1000))
    assert recipe.tags["difficulty"] == ["easy", "medium", "hard"]
    assert len(recipe.tags["task_types"]) == 7 and len(recipe.tags["topics"]) == 8


def test_assemble_command_writes_the_set(tiny: tuple[Path, Path], tmp_path: Path, cli: CliRun) -> None:
    recipe, src = tiny
    out = tmp_path / "built.jsonl"
    code, _, err = cli("instructions", "assemble", "--recipe", str(recipe), "--source-dir", str(src),
                       "--out", str(out), "--no-reference", "--seed", "2")
    assert code == 0 and "assembled 9 items" in err
    assert load_instructions(out) == assemble(recipe, source_dir=src, seed=2).items


def test_assemble_command_rejects_bad_source_option(tiny: tuple[Path, Path], tmp_path: Path, cli: CliRun) -> None:
    recipe, src = tiny
    code, _, err = cli("instructions", "assemble", "--recipe", str(recipe), "--source-dir", str(src),
                       "--out", str(tmp_path / "x.jsonl"), "--no-reference", "--source", "nosuch=foo")
    assert code == 1 and "unknown source 'nosuch'" in err


def test_mt_bench_hub_form_keeps_its_order_and_prompt_id(tiny: tuple[Path, Path]) -> None:
    recipe, src = tiny
    hub_form = [{"prompt": ["hub first", "more"], "prompt_id": 111, "category": "stem", "reference": []},
                {"prompt": ["hub second", "more"], "prompt_id": 222, "category": "math", "reference": []}]
    (src / "mt/q.jsonl").write_text("".join(json.dumps(r) + "\n" for r in hub_form), encoding="utf-8")
    got = [(i.instruction, i.source_id) for i in assemble(recipe, source_dir=src).items if i.dataset == "mt"]
    assert got == [("hub first", "mt-111-stem"), ("hub second", "mt-222-math")]


@pytest.fixture
def file_server(tiny: tuple[Path, Path]) -> Iterator[tuple[str, list[dict[str, str]]]]:
    """The tiny sources served over HTTP on 127.0.0.1: (base URL, headers of each request)."""
    _, src = tiny
    seen: list[dict[str, str]] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(src), **kwargs)

        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            super().do_GET()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_sources_with_a_url_are_fetched_as_plain_files(tiny: tuple[Path, Path], file_server: tuple[str, list[Any]],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """How the shipped recipe reaches AlpacaEval and LIMA, whose hub loading scripts `datasets`
    no longer runs: JSON, JSONL and text files fetched from their URL, parsed like local copies."""
    recipe_path, src = tiny
    base, seen = file_server
    monkeypatch.setenv("HF_TOKEN", "hf_secret_for_the_hub_only")
    recipe = load_recipe(recipe_path)
    remote = {"alpaca_eval": "ae/ae.json", "lima": "lima/test.jsonl", "malicious_instruct": "mi/mi.txt"}
    for spec in recipe.sources:
        if spec.name in remote:
            spec.url, spec.local = f"{base}/{remote[spec.name]}", None
    local_only = {k: src / v for k, v in {"mt_bench": "mt/q.jsonl", "red_team": "rt/rt.json"}.items()}
    fetched = assemble(recipe, sources=local_only).items
    assert fetched == assemble(recipe_path, source_dir=src).items
    assert len(seen) == 3 and not any("Authorization" in h for h in seen)  # the token goes to huggingface.co only


def test_a_bad_record_at_a_url_names_the_url(tiny: tuple[Path, Path], file_server: tuple[str, list[Any]]) -> None:
    recipe_path, src = tiny
    base, _ = file_server
    (src / "lima/test.jsonl").write_text('{"conversations": ["ok", "a"]}\n{"conversations": []}\n')
    recipe = load_recipe(recipe_path)
    lima = next(s for s in recipe.sources if s.name == "lima")
    lima.url, lima.local = f"{base}/lima/test.jsonl", None
    with pytest.raises(InputError) as err:
        assemble(recipe, source_dir=src)
    assert str(err.value).startswith(f"{base}/lima/test.jsonl:2")


def test_shipped_recipe_fetches_the_script_based_hub_sources_as_files() -> None:
    by_name = {s.name: s for s in load_recipe().sources}
    assert by_name["alpaca_eval"].url == \
        "https://huggingface.co/datasets/tatsu-lab/alpaca_eval/resolve/main/alpaca_eval.json"
    assert by_name["lima"].url == "https://huggingface.co/datasets/GAIR/lima/resolve/main/test.jsonl"


def test_assemble_offline_without_a_reference_names_the_assemble_options(
        tiny: tuple[Path, Path], tmp_path: Path, cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe, src = tiny
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    code, _, err = cli("instructions", "assemble", "--recipe", str(recipe), "--source-dir", str(src),
                       "--out", str(tmp_path / "x.jsonl"), "--reference", "someone/not-cached-here")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--reference" in err and "--no-reference" in err and "--instructions" not in err
    assert not (tmp_path / "x.jsonl").exists()
