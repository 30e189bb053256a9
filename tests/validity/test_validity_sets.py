"""Labelled sets: each named set fetched from its documented layout (served by a loopback
file server shaped like raw.githubusercontent.com), cached, local files and folders laid out
like the repositories, a review export's labels, the offline error and bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.errors import InputError, SourceUnavailableError
from justeval.validity.sets import ADVERSARIAL, LLMBAR_COMMIT, NAMED_SETS, PANDALM_COMMIT, load_set
from tests.conftest import CliRun

from .conftest import RawFiles
from .helpers_validity import llmbar_rows, pandalm_rows, write_json


def test_pandalm_is_read_from_its_repository_layout_with_three_annotators_and_ties(raw_files: RawFiles) -> None:
    raw_files.put(f"WeOpenML/PandaLM/{PANDALM_COMMIT}/data/testset-v1.json", json.dumps(pandalm_rows(10)))
    s = load_set("pandalm", raw_base=raw_files.base_url)
    assert s.name == "pandalm" and len(s.pairs) == 10
    assert s.annotators == ["annotator1", "annotator2", "annotator3"]
    p0, p1 = s.pairs[0], s.pairs[1]
    assert (p0.id, p0.instruction, p0.input, p0.labels["annotator3"]) == ("0", "question 0", "context 0", "tie")
    assert p0.prompt == "question 0\n\ncontext 0"
    assert p1.input is None and p1.majority == "2" and p0.majority == "1"
    assert s.sources == [f"{raw_files.base_url}/WeOpenML/PandaLM/{PANDALM_COMMIT}/data/testset-v1.json"]


@pytest.mark.parametrize("name,path", [
    ("llmbar-natural", "Dataset/LLMBar/Natural/dataset.json"),
    ("llmbar-mtbench", "Dataset/Processed/MT-Bench/dataset.json"),
    ("llmbar-faireval", "Dataset/Processed/FairEval/dataset.json"),
    ("llmbar-llmeval2", "Dataset/Processed/LLMEval^2/dataset.json"),
])
def test_each_llmbar_set_is_read_from_its_documented_path(raw_files: RawFiles, name: str, path: str) -> None:
    raw_files.put(f"princeton-nlp/LLMBar/{LLMBAR_COMMIT}/{path}", json.dumps(llmbar_rows(6)))
    s = load_set(name, raw_base=raw_files.base_url)
    assert [p.id for p in s.pairs] == [str(i) for i in range(6)]
    assert s.annotators == ["gold"] and s.pairs[1].labels == {"gold": "2"}
    assert s.pairs[0].instruction == "question 0" and s.pairs[0].input is None
    assert "%5E" in s.sources[0] or "^" not in path  # LLMEval^2 is URL-quoted


def test_llmbar_adversarial_has_its_four_subsets_and_each_alone(raw_files: RawFiles) -> None:
    for k, sub in enumerate(ADVERSARIAL):
        raw_files.put(f"princeton-nlp/LLMBar/{LLMBAR_COMMIT}/Dataset/LLMBar/Adversarial/{sub}/dataset.json",
                      json.dumps(llmbar_rows(3, start=10 * k)))
    s = load_set("llmbar-adversarial", raw_base=raw_files.base_url)
    assert s.subsets == list(ADVERSARIAL) and len(s.pairs) == 12
    assert s.pairs[3].id == "GPTOut/0" and s.pairs[3].subset == "GPTOut"
    alone = load_set("llmbar-adversarial-manual", raw_base=raw_files.base_url)
    assert [p.id for p in alone.pairs] == ["Manual/0", "Manual/1", "Manual/2"]


def test_a_named_set_is_cached_so_a_second_load_needs_no_network(raw_files: RawFiles,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    raw_files.put(f"princeton-nlp/LLMBar/{LLMBAR_COMMIT}/Dataset/LLMBar/Natural/dataset.json",
                  json.dumps(llmbar_rows(4)))
    load_set("llmbar-natural", raw_base=raw_files.base_url)
    monkeypatch.setenv("JUSTEVAL_OFFLINE", "1")
    again = load_set("llmbar-natural", raw_base=raw_files.base_url)
    assert len(again.pairs) == 4 and len(raw_files.requests) == 1


def test_offline_a_named_set_fails_with_one_line_naming_set_file(cli: CliRun, monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setenv("JUSTEVAL_OFFLINE", "1")
    code, _out, err = cli("judge-eval", "--set", "llmbar-natural", "--judge", "openai:j", "--out", str(tmp_path / "o"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "offline" in err and "--set FILE" in err and "dataset.json" in err
    with pytest.raises(SourceUnavailableError):
        load_set("pandalm")


def test_local_folders_laid_out_like_the_repositories_load_as_the_named_sets(tmp_path: Path) -> None:
    bar = tmp_path / "LLMBar" / "Dataset" / "LLMBar"
    write_json(bar / "Natural" / "dataset.json", llmbar_rows(3))
    for sub in ADVERSARIAL:
        write_json(bar / "Adversarial" / sub / "dataset.json", llmbar_rows(2))
    write_json(tmp_path / "PandaLM" / "data" / "testset-v1.json", pandalm_rows(4))
    assert load_set(bar / "Natural").name == "llmbar-natural"
    assert load_set(bar / "Natural" / "dataset.json").name == "llmbar-natural"
    adv = load_set(bar / "Adversarial")
    assert adv.name == "llmbar-adversarial" and adv.subsets == list(ADVERSARIAL)
    gptinst = load_set(bar / "Adversarial" / "GPTInst" / "dataset.json")
    assert gptinst.name == "llmbar-adversarial-gptinst" and gptinst.pairs[0].id == "GPTInst/0"
    assert load_set(tmp_path / "PandaLM").name == "pandalm"
    with pytest.raises(InputError, match="Dataset/LLMBar/Natural"):
        load_set(tmp_path / "LLMBar")  # a whole checkout: says which set folders it holds


def test_other_spellings_of_a_pair_are_read_into_the_same_record(tmp_path: Path) -> None:
    rows = [{"index": "a", "instruction": "q", "response_1": "x", "response_2": "y",
             "label_0": "1", "label_1": "tie", "label_2": "1"},
            {"id": "b", "instruction": "q2", "output_1": "x", "output_2": "y", "labels": {"ann": "same", "bob": 2},
             "subset": "mine"}]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    s = load_set(path)
    assert s.pairs[0].labels == {"annotator1": "1", "annotator2": "tie", "annotator3": "1"}
    assert s.pairs[0].majority == "1"
    assert s.pairs[1].labels == {"ann": "tie", "bob": "2"} and s.pairs[1].majority is None
    assert s.pairs[1].subset == "mine"


def test_sample_and_limit_are_seeded_and_keep_set_order(tmp_path: Path) -> None:
    s = load_set(write_json(tmp_path / "set.json", llmbar_rows(20)))
    a = s.select(sample=5, seed=1)
    assert [p.id for p in a.pairs] == [p.id for p in s.select(sample=5, seed=1).pairs]
    assert [int(p.id) for p in a.pairs] == sorted(int(p.id) for p in a.pairs)
    assert [p.id for p in s.select(limit=3).pairs] == ["0", "1", "2"]


@pytest.mark.parametrize("content,record,message", [
    ('[{"input": "q", "output_1": "a", "output_2": "b", "label": 3}]', "record 0", "bad label 3"),
    ('[{"input": "q", "output_1": "a", "label": 1}]', "record 0", "missing response 2"),
    ('[{"idx": 7, "instruction": "q", "response1": "a", "response2": "b"}]', "record 7", "no human label"),
    ('[{"input": "q", "output_1": ["a"], "output_2": "b", "label": 1}]', "record 0", "must be text"),
    ('[{"input": "q", "output_1": "a", "output_2": "b", "label": 1}, 5]', "record item 1", "JSON object"),
    ('{"input": "q"}', None, "JSON list"),
    ('[{"input": "q", ', None, "malformed JSON"),
])
def test_a_bad_set_file_is_one_line_naming_the_file_and_record_exit_2(cli: CliRun, tmp_path: Path, content: str,
                                                                      record: str | None, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    code, _out, err = cli("judge-eval", "--set", str(path), "--judge", "openai:j", "--out", str(tmp_path / "o"))
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert str(path) in err and message in err
    if record:
        assert f"({record})" in err


def test_named_sets_cover_the_issue_list() -> None:
    assert {"pandalm", "llmbar-natural", "llmbar-adversarial", "llmbar-mtbench", "llmbar-faireval",
            "llmbar-llmeval2"} <= set(NAMED_SETS)
