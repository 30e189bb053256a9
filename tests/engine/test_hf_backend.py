"""The hf backend on a tiny randomly initialised Llama that the test builds and saves itself."""

from __future__ import annotations

from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.hf_backend import HFBackend, truncate_at_stop
from justeval.engine.types import GenParams, Message, Request
from tests.engine.conftest import RunEngine

CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|> {{ m['content'] }} {% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|> {% endif %}")
WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "mat", "park", "quickly", "slowly", "big", "small", "red",
         "blue", "green", "one", "two", "three", "hello", "world", "write", "say", "tell", "story", "poem", "about",
         "why", "how", "what", "is", "are", "was"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers

    specials = ["<pad>", "<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>",
                                                     bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64,
                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                      max_position_embeddings=128, pad_token_id=0, bos_token_id=2, eos_token_id=3)
    model = transformers.LlamaForCausalLM(config)
    path = tmp_path_factory.mktemp("tiny-llama")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def user(key: str, text: str, **params: object) -> Request:
    return Request(key=key, messages=[Message(role="user", content=text)], params=GenParams(**params))


def test_stop_strings_cut_at_the_earliest() -> None:
    assert truncate_at_stop("one two ``` three # Query:", ["# Query:", "```"]) == ("one two ", True)
    assert truncate_at_stop("nothing here", ["```"]) == ("nothing here", False)
    assert truncate_at_stop("abc", None) == ("abc", False)


def test_chat_requests_are_batched_and_counted(tiny_model: Path, run_engine: RunEngine) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    backend = BackendSpec(spec=f"hf:{tiny_model}", options={"batch_size": 8, "batch_window_s": 0.2}).build()
    assert isinstance(backend, HFBackend)
    prompts = ["tell a story about the cat", "why is the dog big", "hello world", "write a poem",
               "how big is the red mat"]
    summary, results = run_engine(backend, [user(str(i), p, max_tokens=6, temperature=0.0)
                                            for i, p in enumerate(prompts)], concurrency=8, cache=False)
    assert summary.ok == 5
    assert sum(backend.batch_sizes) == 5 and max(backend.batch_sizes) > 1  # padded together
    for r in results:
        assert r.completion is not None
        expected_prompt = tok.apply_chat_template([{"role": "user", "content": prompts[int(r.request.key)]}],
                                                  tokenize=False, add_generation_prompt=True)
        expected_tokens = len(tok(expected_prompt, add_special_tokens=False)["input_ids"])
        assert r.completion.usage.prompt_tokens == expected_tokens
        assert 1 <= r.completion.usage.completion_tokens <= 6
        assert r.completion.finish_reason in {"stop", "length"}


def test_batched_greedy_output_matches_single_runs(tiny_model: Path, run_engine: RunEngine) -> None:
    prompts = ["the cat sat on the mat", "two dogs"]
    batched_backend = BackendSpec(spec=f"hf:{tiny_model}", options={"batch_size": 8, "batch_window_s": 0.2}).build()
    assert isinstance(batched_backend, HFBackend)
    _, batched = run_engine(batched_backend, [user(str(i), p, max_tokens=5) for i, p in enumerate(prompts)],
                            concurrency=4, cache=False)
    single_backend = BackendSpec(spec=f"hf:{tiny_model}", options={"batch_size": 1}).build()
    assert isinstance(single_backend, HFBackend)
    _, single = run_engine(single_backend, [user(str(i), p, max_tokens=5) for i, p in enumerate(prompts)],
                           concurrency=1, cache=False)
    text = {r.request.key: r.completion.text for r in batched if r.completion}
    assert text == {r.request.key: r.completion.text for r in single if r.completion}
    assert max(batched_backend.batch_sizes) == 2 and set(single_backend.batch_sizes) == {1}


def test_completion_mode_and_stop_strings(tiny_model: Path, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec=f"hf:{tiny_model}", endpoint="completions", options={"batch_size": 1}).build()
    prompt = "the big red dog ran to the park and"
    _, first = run_engine(backend, [Request(key="a", prompt=prompt, params=GenParams(max_tokens=8))], cache=False)
    assert first[0].completion is not None
    full = first[0].completion.text
    words = full.split()
    if len(words) < 2:
        pytest.skip(f"the random model said too little to test a stop string: {full!r}")
    stop = words[1]
    _, second = run_engine(backend, [Request(key="a", prompt=prompt, params=GenParams(max_tokens=8, stop=[stop]))],
                           cache=False)
    assert second[0].completion is not None
    assert second[0].completion.text == full[: full.index(stop)]
    assert second[0].completion.finish_reason == "stop"


def test_a_missing_model_fails_when_the_backend_is_made(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from justeval.errors import JustevalError

    with pytest.raises(JustevalError, match="cannot load"):
        BackendSpec(spec=f"hf:{tmp_path / 'no-such-model'}").build()
