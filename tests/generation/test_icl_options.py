"""ICL options for arXiv 2405.19874: the shared random set, leakage, demonstration order inside a
URIAL prompt, K-shot as chat turns, and the context budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.types import GenParams, Message
from justeval.errors import UsageError
from justeval.generation.icl import Example, ExampleSelector
from justeval.generation.prompting import PromptBuilder, PromptSettings
from justeval.records import Instruction
from tests.generation.tiny_hf import build_tiny_llama

TICKS = "`" * 3
POOL = [Example(f"Question number {i} about topic {chr(97 + i)}?", f"Answer {i}.") for i in range(12)]
V4 = (f"# Instruction\n\nBe helpful.\n\n# Query:\n{TICKS}\nOwn question?\n{TICKS}\n\n"
      f"# Answer:\n{TICKS}\nOwn answer.\n{TICKS}\n")
V6 = "# Instruction\n\nBe helpful.\n\n\n# User:\nOwn question?\n\n\n# Assistant:\nOwn answer."


def _pool_file(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _rows(pool: list[Example]) -> list[dict[str, str]]:
    return [{"instruction": e.instruction, "output": e.output} for e in pool]


def test_random_fixed_shows_every_query_one_set_nested_across_k() -> None:
    three = ExampleSelector(POOL, 3, "random-fixed", seed=4)
    sets = {tuple(three.indices(f"query {k}", str(k))) for k in range(20)}
    assert len(sets) == 1  # one set shared by all queries (unlike per-item random)
    shared = next(iter(sets))
    assert shared != (0, 1, 2)  # random, not the pool's first three
    eight = ExampleSelector(POOL, 8, "random-fixed", seed=4).indices("query", "0")
    assert eight[:3] == list(shared)  # K=8 adds five examples to the K=3 set
    assert ExampleSelector(POOL, 3, "random-fixed", seed=5).indices("query", "0") != list(shared)
    per_item = ExampleSelector(POOL, 3, "random", seed=4)
    assert len({tuple(per_item.indices("query", str(k))) for k in range(20)}) > 1


def test_a_near_duplicate_or_the_same_source_is_skipped_and_counted() -> None:
    pool = [Example("Write a Python function that returns top-5 words of a file.", "def top5(): ...", "mt-121"),
            Example("What is the boiling point of water?", "100 C at sea level.", "alpaca_eval-3"),
            Example("Name a prime number.", "7.", None),
            Example("Why is the sky blue?", "Rayleigh scattering.", None)]
    sel = ExampleSelector(pool, 2, "fixed")
    # just-eval id 760: one word off its MT-bench source
    near = sel.choose("Write a Python function that reprompt top-5 words of a file.", "760")
    assert near.ranked == [1, 2] and near.skipped == 1
    same_source = sel.choose("Completely different wording here", "1", source_id="alpaca_eval-3")
    assert same_source.ranked == [0, 2] and same_source.skipped == 1
    case_and_punctuation = ExampleSelector(pool, 3, "fixed").choose("name a PRIME number", "2")
    assert case_and_punctuation.ranked == [0, 1, 3] and case_and_punctuation.skipped == 1
    assert sel.choose("Tell me a joke.", "3").skipped == 0
    strict = ExampleSelector(pool, 2, "fixed", leak_threshold=1.0)
    assert strict.choose("Write a Python function that reprompt top-5 words of a file.", "760").ranked == [0, 1]


@pytest.mark.integration
def test_just_eval_760_does_not_retrieve_its_own_mt_bench_source(shared_data: Path) -> None:
    rows = [json.loads(line) for line in (shared_data / "sources" / "mt_bench" / "question.jsonl").open()]
    pool = [Example(r["turns"][0], f"answer {r['question_id']}") for r in rows]
    item = next(json.loads(line) for line in (shared_data / "just-eval-instruct" / "instructions.jsonl").open()
                if json.loads(line)["id"] == 760)
    source = next(i for i, r in enumerate(rows) if r["question_id"] == 121)
    assert pool[source].instruction != item["instruction"]  # one word apart: an equality check lets it through
    choice = ExampleSelector(pool, 3, "similar").choose(item["instruction"], "760")
    assert source not in choice.ranked and choice.skipped == 1
    assert source in ExampleSelector(pool, 3, "similar", leak_threshold=1.0).choose(item["instruction"], "760").ranked


def test_pool_examples_go_before_urials_own_examples_by_default_or_after(tmp_path: Path) -> None:
    prompt = tmp_path / "urial_v4like.txt"
    prompt.write_text(V4, encoding="utf-8")
    pool = _pool_file(tmp_path / "pool.jsonl", _rows(POOL[:2]))
    item = Instruction(id=0, instruction="Real question?")
    added = "".join(f"# Query:\n{TICKS}\n{e.instruction}\n{TICKS}\n\n# Answer:\n{TICKS}\n{e.output}\n{TICKS}\n\n"
                    for e in POOL[:2])
    query = f"\n# Query:\n{TICKS}\nReal question?\n{TICKS}\n\n# Answer:\n{TICKS}\n"
    before = PromptBuilder.from_settings(PromptSettings(urial=str(prompt), icl_examples=str(pool), shots=2),
                                         GenParams())
    request, extra = before.build(item, GenParams())
    # as the paper's prompt files: the preamble, the added examples, URIAL's own, then the query
    assert request.prompt == V4.replace("# Query:\n", added + "# Query:\n", 1) + query
    assert extra["icl"]["examples"] == [0, 1] and before.identity["icl"]["position"] == "before"
    after = PromptBuilder.from_settings(PromptSettings(urial=str(prompt), icl_examples=str(pool), shots=2,
                                                       icl_position="after"), GenParams())
    appended = "".join(f"\n# Query:\n{TICKS}\n{e.instruction}\n{TICKS}\n\n# Answer:\n{TICKS}\n{e.output}\n{TICKS}\n"
                       for e in POOL[:2])
    assert after.build(item, GenParams())[0].prompt == V4 + appended + query


def test_pool_examples_in_a_user_format_prompt_follow_its_layout(tmp_path: Path) -> None:
    prompt = tmp_path / "inst_help_v6-1k.txt"
    prompt.write_text(V6, encoding="utf-8")
    pool = _pool_file(tmp_path / "pool.jsonl", _rows(POOL[:1]))
    builder = PromptBuilder.from_settings(PromptSettings(urial=str(prompt), icl_examples=str(pool), shots=1),
                                          GenParams())
    request, _ = builder.build(Instruction(id=0, instruction="Real question?"), GenParams())
    added = f"# User:\n{POOL[0].instruction}\n\n\n# Assistant:\n{POOL[0].output}\n\n\n"
    assert request.prompt == V6.replace("# User:\n", added + "# User:\n", 1) + "\n\n# User:\nReal question?\n\n\n" \
        "# Assistant:\n"


def test_chat_endpoint_gets_k_shot_as_chat_turns(tmp_path: Path) -> None:
    pool = _pool_file(tmp_path / "pool.jsonl", _rows(POOL[:2]))
    settings = PromptSettings(icl_examples=str(pool), shots=2, system="Answer briefly.")
    chat = PromptBuilder.from_settings(settings, GenParams(max_tokens=5), backend=BackendSpec(spec="openai:chat-m"))
    request, extra = chat.build(Instruction(id=0, instruction="Real question?"), chat.request_params())
    assert request.prompt is None and request.messages == [
        Message(role="system", content="Answer briefly."),
        Message(role="user", content=POOL[0].instruction), Message(role="assistant", content=POOL[0].output),
        Message(role="user", content=POOL[1].instruction), Message(role="assistant", content=POOL[1].output),
        Message(role="user", content="Real question?")]
    assert extra["endpoint"] == "chat" and chat.identity["icl"]["format"] == "chat"
    assert chat.request_params().stop is None  # turns end by themselves: no completion stop strings
    completions = PromptBuilder.from_settings(settings, GenParams(),
                                              backend=BackendSpec(spec="openai:base-m", endpoint="completions"))
    request, extra = completions.build(Instruction(id=0, instruction="Real question?"), GenParams())
    assert request.prompt is not None and request.prompt.startswith("Answer briefly.\n\n# Query:")
    assert extra["endpoint"] == "completions"
    with pytest.raises(UsageError, match="--icl-format chat cannot be combined with --urial"):
        PromptBuilder.from_settings(PromptSettings(urial="default", icl_examples=str(pool), icl_format="chat"),
                                    GenParams())


def test_the_budget_drops_the_least_relevant_examples_first_and_records_it(tmp_path: Path) -> None:
    rows = [{"instruction": f"How do I bake bread number {i}?", "output": " ".join(["word"] * 40)} for i in range(6)]
    pool = _pool_file(tmp_path / "pool.jsonl", rows)
    item = Instruction(id=0, instruction="How do I bake bread number 3 at home?")
    unlimited = PromptBuilder.from_settings(PromptSettings(icl_examples=str(pool), shots=5, select="similar"),
                                            GenParams(max_tokens=50))
    full = unlimited.build(item, GenParams(max_tokens=50))[1]["icl"]
    assert full["used"] == 5 and full["examples"][-1] == 3  # the most similar one, closest to the query
    budget = PromptBuilder.from_settings(PromptSettings(icl_examples=str(pool), shots=5, select="similar",
                                                        context_tokens=250), GenParams(max_tokens=50))
    request, extra = budget.build(item, GenParams(max_tokens=50))
    icl = extra["icl"]
    assert 0 < icl["used"] < 5 and icl["dropped"] == 5 - icl["used"]
    assert icl["examples"] == full["examples"][5 - icl["used"]:]  # the least similar went first
    assert icl["token_counter"] == "estimate" and icl["prompt_tokens"] + 50 <= 250
    from justeval.engine.pricing import count_tokens

    assert request.prompt is not None and icl["prompt_tokens"] == count_tokens(request.prompt)


def test_with_an_hf_model_the_budget_counts_with_its_tokenizer(tmp_path: Path) -> None:
    model = build_tiny_llama(tmp_path / "tiny")
    rows = [{"instruction": "tell a story about the cat", "output": " ".join(["the big red dog"] * 5)}] * 4
    pool = _pool_file(tmp_path / "pool.jsonl", [dict(r, instruction=f"{r['instruction']} {i}") for i, r in
                                                enumerate(rows)])
    settings = PromptSettings(icl_examples=str(pool), shots=4, context_tokens=120, icl_format="completion")
    builder = PromptBuilder.from_settings(settings, GenParams(max_tokens=20), backend=BackendSpec(spec=f"hf:{model}"))
    request, extra = builder.build(Instruction(id=0, instruction="why is the dog big"), GenParams(max_tokens=20))
    from transformers import AutoTokenizer

    exact = len(AutoTokenizer.from_pretrained(model)(request.prompt, add_special_tokens=True)["input_ids"])
    icl = extra["icl"]
    assert icl["token_counter"] == f"tokenizer:{model}" and icl["prompt_tokens"] == exact <= 100
    assert 0 < icl["used"] < 4
    one_more = builder._count("why is the dog big", builder.selector.choose("why is the dog big", "0"),  # type: ignore[union-attr]
                              icl["used"] + 1)
    assert one_more > 100  # as many as fit, not fewer


@pytest.mark.parametrize(("settings", "message"), [
    (PromptSettings(select="random-fixed"), "--select needs --icl-examples"),
    (PromptSettings(context_tokens=100), "--context-tokens needs --icl-examples"),
    (PromptSettings(icl_position="after", leak_threshold=0.5), "--icl-position, --leak-threshold need"),
    (PromptSettings(urial_format="v5"), "--urial-format needs --urial"),
    (PromptSettings(urial_clean="upstream"), "--urial-clean needs"),
])
def test_options_without_what_they_act_on_are_refused(settings: PromptSettings, message: str) -> None:
    with pytest.raises(UsageError, match=message) as err:
        PromptBuilder.from_settings(settings, GenParams())
    assert err.value.exit_code == 2


def test_generate_takes_one_completion_per_request() -> None:
    with pytest.raises(UsageError, match="--n above 1"):
        PromptBuilder.from_settings(PromptSettings(), GenParams(n=2))
