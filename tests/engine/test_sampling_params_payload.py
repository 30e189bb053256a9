"""Open-weight sampling options and `--param` fields: what reaches a self-hosted server, what the
OpenAI API is spared, what LiteLLM passes on, and that older cache keys still match."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.backends.openai_backend import build_payload
from justeval.engine.cache import cache_key
from justeval.engine.types import BackendError, GenParams, Request
from justeval.errors import UsageError
from justeval.generation.decoding import parse_param, parse_params
from justeval.testing.stub_server import StubServer
from tests.engine.conftest import RunEngine

URIAL_PARAMS = GenParams(temperature=0.0, top_p=1.0, max_tokens=64, repetition_penalty=1.1, top_k=-1,
                         no_repeat_ngram_size=3, extra={"min_p": 0.05, "skip_special_tokens": False})


def test_self_hosted_servers_get_every_sampling_option_as_a_body_field() -> None:
    _, body = build_payload("m", Request(key="a", prompt="P", params=URIAL_PARAMS))
    assert body == {"model": "m", "prompt": "P", "temperature": 0.0, "top_p": 1.0, "max_tokens": 64,
                    "repetition_penalty": 1.1, "top_k": -1, "no_repeat_ngram_size": 3, "min_p": 0.05,
                    "skip_special_tokens": False}


def test_the_openai_api_is_never_sent_fields_it_rejects() -> None:
    with pytest.raises(BackendError, match="repetition_penalty, top_k, no_repeat_ngram_size, min_p") as err:
        build_payload("gpt-4o", Request(key="a", prompt="P", params=URIAL_PARAMS), openai_api=True)
    assert not err.value.retryable
    _, body = build_payload("gpt-4o", Request(key="a", prompt="P", params=GenParams(n=2, top_p=0.5)),
                            openai_api=True)
    assert body["n"] == 2 and body["top_p"] == 0.5


def test_the_openai_backend_refuses_them_before_any_call(run_engine: RunEngine, monkeypatch: pytest.MonkeyPatch,
                                                         ) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    backend = BackendSpec(spec="openai:gpt-4o").build()
    # no network in tests: the engine's start-up probe would (rightly) stop the run before the
    # backend's own check, which is what this test is about
    _, results = run_engine(backend, [Request(key="a", prompt="P", params=URIAL_PARAMS)], cache=False,
                            probe_timeout_s=None)
    assert results[0].status == "error" and "api.openai.com does not accept" in (results[0].error or "")
    assert results[0].attempts == 1


def test_a_self_hosted_server_receives_them(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="openai:base", base_urls=[stub_server.base_url]).build()
    run_engine(backend, [Request(key="a", prompt="P", params=URIAL_PARAMS)], cache=False)
    body = stub_server.requests[0].body
    assert (body["repetition_penalty"], body["top_k"], body["min_p"]) == (1.1, -1, 0.05)


def test_litellm_passes_them_through_to_the_provider(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="litellm:hosted_vllm/base", base_urls=[stub_server.base_url]).build()
    params = GenParams(max_tokens=8, repetition_penalty=1.15, top_k=20, extra={"min_p": 0.1})
    _, results = run_engine(backend, [Request(key="a", prompt="P", params=params)], cache=False)
    assert results[0].status == "ok", results[0].error
    body = stub_server.requests[0].body
    assert (body["repetition_penalty"], body["top_k"], body["min_p"]) == (1.15, 20, 0.1)


def test_litellm_refuses_a_param_it_would_read_itself(stub_server: StubServer, run_engine: RunEngine) -> None:
    backend = BackendSpec(spec="litellm:hosted_vllm/base", base_urls=[stub_server.base_url]).build()
    params = GenParams(max_tokens=8, extra={"api_base": "http://elsewhere"})
    _, results = run_engine(backend, [Request(key="a", prompt="P", params=params)], cache=False)
    assert results[0].status == "error" and "api_base" in (results[0].error or "") and stub_server.count == 0


def test_new_options_are_part_of_the_cache_key_and_old_keys_are_unchanged() -> None:
    identity = {"backend": "openai", "model": "m"}
    plain = Request(key="a", prompt="P", params=GenParams(temperature=0.0, max_tokens=64))
    # the key 0.1 computed, from the dump it made (six fields): cached replies still match
    import hashlib
    import json

    old_dump = {"temperature": 0.0, "max_tokens": 64, "top_p": None, "stop": None, "seed": None,
                "response_format": None}
    material = {"v": 1, "identity": identity, "params": old_dump, "messages": [], "prompt": "P"}
    old_key = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False).encode("utf-8")).hexdigest()
    assert cache_key(identity, plain) == old_key
    keys = {cache_key(identity, plain.model_copy(update={"params": plain.params.model_copy(update=change)}))
            for change in ({"repetition_penalty": 1.1}, {"top_k": 5}, {"no_repeat_ngram_size": 2}, {"n": 2},
                           {"extra": {"min_p": 0.1}}, {"extra": {"min_p": 0.2}})}
    assert len(keys) == 6 and old_key not in keys


@pytest.mark.parametrize(("text", "expected"), [
    ("min_p=0.05", ("min_p", 0.05)), ("use_beam_search=true", ("use_beam_search", True)),
    ("stop_token_ids=[7, 8]", ("stop_token_ids", [7, 8])), ("guided_json={\"a\": 1}", ("guided_json", {"a": 1})),
    ("mode=strict", ("mode", "strict")), ('label="0.5"', ("label", "0.5")), ("x=", ("x", "")),
    ("best_of=null", ("best_of", None)), ("note=a=b", ("note", "a=b")),
])
def test_param_values_are_json_when_they_are_json(text: str, expected: tuple[str, object]) -> None:
    assert parse_param(text) == expected


@pytest.mark.parametrize("bad", ["noequals", "=1", "bad key=1", "1x=2", "p=NaN", "p=Infinity"])
def test_malformed_params_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError) as err:
        parse_param(bad)
    assert err.value.exit_code == 2


def test_a_param_given_twice_or_with_its_own_option_is_refused() -> None:
    with pytest.raises(UsageError, match="twice"):
        parse_params(["min_p=0.1", "min_p=0.2"])
    with pytest.raises(ValidationError, match="--top-k"):
        GenParams(extra=parse_params(["top_k=5"]))
    with pytest.raises(ValidationError, match="set by justeval"):
        GenParams(extra=parse_params(["stream=true"]))
