"""The hf backend ends each row at its stop string and counts what it generated; decoding options
reach transformers; the model folder's generation_config is part of the identity; an over-long
prompt fails alone. On a tiny random Llama the test builds (one token per word)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.hf_backend import HFBackend
from justeval.engine.types import GenParams, Request
from tests.engine.conftest import RunEngine
from tests.generation.tiny_hf import build_tiny_llama

PROMPTS = ["the big red dog ran to the park and", "tell a story about the cat"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama-stops"), positions=128)


def _backend(path: Path, **options: object) -> HFBackend:
    backend = BackendSpec(spec=f"hf:{path}", endpoint="completions",
                          options={"batch_size": 8, "batch_window_s": 0.2, **options}).build()
    assert isinstance(backend, HFBackend)
    return backend


def _completions(run_engine: RunEngine, backend: HFBackend, params: GenParams,
                 prompts: list[str] = PROMPTS) -> dict[str, tuple[str, int, str | None]]:
    requests = [Request(key=str(i), prompt=p, params=params) for i, p in enumerate(prompts)]
    _, results = run_engine(backend, requests, concurrency=8, cache=False)
    out = {}
    for r in results:
        assert r.completion is not None, r.error
        out[r.request.key] = (r.completion.text, r.completion.usage.completion_tokens, r.completion.finish_reason)
    return out


def _first_clean_stop(text: str, avoid: str = "") -> tuple[str, int] | None:
    """A word of `text` (not its first) whose first occurrence as a substring is that word, and
    that `avoid` does not contain: a stop string whose place is known. Returns (word, index)."""
    words = text.split()
    for at, word in enumerate(words[1:-1], start=1):
        offset = len(" ".join(words[:at])) + 1
        if text.find(word) == offset and word not in avoid:
            return word, at
    return None


def test_each_row_stops_at_its_stop_string_and_counts_only_what_it_generated(
        tiny_model: Path, run_engine: RunEngine) -> None:
    backend = _backend(tiny_model)
    free = _completions(run_engine, backend, GenParams(max_tokens=12, temperature=0.0))
    found = _first_clean_stop(free["0"][0], avoid=free["1"][0])
    if found is None:
        pytest.skip(f"no word separates the two rows: {free}")
    stop, at = found
    stopped = _completions(run_engine, backend, GenParams(max_tokens=12, temperature=0.0, stop=[stop]))
    text, tokens, reason = stopped["0"]
    assert text == free["0"][0][: free["0"][0].index(stop)] and reason == "stop"
    assert tokens == at + 1 < free["0"][1]  # the words before the stop and the one that completed it
    assert stopped["1"] == free["1"]  # the other row of the batch went on as before
    assert backend.steps[-1] == backend.steps[0]


def test_generation_ends_early_once_every_row_has_stopped(tiny_model: Path, run_engine: RunEngine) -> None:
    backend = _backend(tiny_model)
    free = _completions(run_engine, backend, GenParams(max_tokens=12), prompts=PROMPTS[1:])
    found = _first_clean_stop(free["0"][0])
    if found is None:
        pytest.skip(f"no usable stop word in {free}")
    stop, at = found
    _completions(run_engine, backend, GenParams(max_tokens=12, stop=[stop]), prompts=PROMPTS[1:])
    assert backend.steps == [free["0"][1], at + 1]  # not every token generated and cut afterwards


def test_no_repeat_ngram_size_and_repetition_penalty_reach_transformers(tiny_model: Path,
                                                                         run_engine: RunEngine) -> None:
    backend = _backend(tiny_model)
    free = _completions(run_engine, backend, GenParams(max_tokens=20))
    assert any(len(set(text.split())) < len(text.split()) for text, _, _ in free.values()), free  # it repeats
    unique = _completions(run_engine, backend, GenParams(max_tokens=20, no_repeat_ngram_size=1))
    for text, _, _ in unique.values():
        assert len(set(text.split())) == len(text.split()), text
    penalised = _completions(run_engine, backend, GenParams(max_tokens=20, repetition_penalty=50.0))
    assert penalised != free


def test_options_transformers_lacks_fail_the_request_with_the_reason(tiny_model: Path,
                                                                     run_engine: RunEngine) -> None:
    backend = _backend(tiny_model)
    requests = [Request(key="x", prompt="hello", params=GenParams(max_tokens=3, extra={"not_an_option": 1})),
                Request(key="n", prompt="hello", params=GenParams(max_tokens=3, n=2)),
                Request(key="ok", prompt="hello", params=GenParams(max_tokens=3, extra={"typical_p": 0.9}))]
    _, results = run_engine(backend, requests, cache=False)
    by_key = {r.request.key: r for r in results}
    assert by_key["x"].status == "error" and "not_an_option" in (by_key["x"].error or "")
    assert by_key["n"].status == "error" and "n > 1" in (by_key["n"].error or "")
    assert by_key["ok"].status == "ok"


def test_an_over_long_prompt_fails_alone_with_its_token_counts(tiny_model: Path, run_engine: RunEngine) -> None:
    backend = _backend(tiny_model)
    assert backend.context_tokens == 128
    long_prompt = " ".join(["the cat sat on the mat"] * 20)  # 120 tokens: this tokenizer adds no <s>
    requests = [Request(key="long", prompt=long_prompt, params=GenParams(max_tokens=10)),
                Request(key="short", prompt="hello world", params=GenParams(max_tokens=10))]
    _, results = run_engine(backend, requests, concurrency=4, cache=False)
    by_key = {r.request.key: r for r in results}
    assert by_key["short"].status == "ok"
    assert by_key["long"].status == "error"
    assert backend.count_tokens(long_prompt) == 120
    assert "prompt is 120 tokens and max_tokens 10: 130 is more than the 128 positions" in (by_key["long"].error or "")


def test_generation_config_values_are_part_of_the_identity(tiny_model: Path, tmp_path: Path,
                                                          run_engine: RunEngine) -> None:
    edited = tmp_path / "edited"
    shutil.copytree(tiny_model, edited)
    config_file = edited / "generation_config.json"
    values = json.loads(config_file.read_text(encoding="utf-8"))
    config_file.write_text(json.dumps({**values, "repetition_penalty": 50.0}), encoding="utf-8")
    plain, changed = _backend(tiny_model), _backend(edited)
    assert changed.generation_defaults["repetition_penalty"] == 50.0
    assert "repetition_penalty" not in plain.generation_defaults
    assert plain.identity()["generation_config"] != changed.identity()["generation_config"]
    # and the value applies when a request leaves it unset: the outputs differ
    params = GenParams(max_tokens=20)
    assert _completions(run_engine, plain, params) != _completions(run_engine, changed, params)
