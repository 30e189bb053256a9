"""The scoring options in the OpenAI backend's pure payload builder and reply parser, the rank a
server's listing gives, and ordinary requests keeping their cache keys."""

from __future__ import annotations

import hashlib
import json

import pytest

from justeval.engine.backends.openai_backend import build_payload, parse_response
from justeval.engine.cache import cache_key
from justeval.engine.types import BackendError, GenParams, Request
from justeval.tokenshift.records import categorize
from justeval.tokenshift.server_scorer import Candidate, ServerPosition, scoring_request


def test_a_scoring_request_sends_the_token_ids_echoed_with_logprobs() -> None:
    request = scoring_request("7", "# Query: hi", [2, 40, 41], 10, prompt_logprobs=True)
    endpoint, body = build_payload("base-model", request)
    assert endpoint == "completions"
    assert body == {"model": "base-model", "prompt": [2, 40, 41], "temperature": 0.0, "max_tokens": 1,
                    "echo": True, "logprobs": 10, "prompt_logprobs": 10}


def test_echoed_logprobs_and_vllm_prompt_logprobs_are_read() -> None:
    data = {"choices": [{"text": "x", "finish_reason": "length",
                         "logprobs": {"tokens": ["<s>", "the", "x"], "token_logprobs": [None, -1.5, -0.1],
                                      "top_logprobs": [None, {"a": -0.5, "the": -1.5}, {"x": -0.1}],
                                      "text_offset": [0, 3, 6]},
                         "prompt_logprobs": [None, {"12": {"logprob": -1.5, "rank": 2, "decoded_token": "the"},
                                                    "5": {"logprob": -0.5, "rank": 1, "decoded_token": "a"}}]}],
            "usage": {"prompt_tokens": 2, "completion_tokens": 1}}
    completion = parse_response("completions", data)
    assert completion.logprobs is not None and [t.token for t in completion.logprobs] == ["<s>", "the", "x"]
    assert completion.logprobs[0].logprob is None and completion.logprobs[1].logprob == -1.5
    assert [(a.token, a.logprob) for a in completion.logprobs[1].top] == [("a", -0.5), ("the", -1.5)]
    assert completion.prompt_logprobs is not None and completion.prompt_logprobs[0] is None
    assert [(e.token_id, e.rank) for e in completion.prompt_logprobs[1] or []] == [(5, 1), (12, 2)]
    plain = parse_response("completions", {"choices": [{"text": "hi"}]})
    assert plain.logprobs is None and plain.prompt_logprobs is None


@pytest.mark.parametrize("field", ["logprobs", "prompt_logprobs"])
def test_malformed_logprobs_are_an_error_not_a_guess(field: str) -> None:
    bad = {"logprobs": {"tokens": ["a"], "token_logprobs": ["high"]}, "prompt_logprobs": [None, {"x": {}}]}[field]
    with pytest.raises(BackendError, match=field):
        parse_response("completions", {"choices": [{"text": "", field: bad}]})


def test_a_rank_from_a_listing_counts_the_tokens_above_and_stops_at_the_top_k() -> None:
    listed = (Candidate("a", None, -0.1), Candidate("b", None, -0.2), Candidate("the", None, -0.3),
              Candidate("c", None, -0.4))
    here = ServerPosition(token="the", token_id=None, logprob=-0.3, rank=None, candidates=listed)
    assert here.rank_of("the", None, 10) == 3 and categorize(3) == "marginal"
    assert here.rank_of("a", None, 10) == 1 and here.rank_of("c", None, 10) == 4
    assert here.rank_of("the", None, 2) is None  # two listed tokens above it and k = 2: outside the top-k
    assert here.rank_of("zebra", None, 10) is None and categorize(None) == "shifted"


def test_ordinary_requests_keep_their_cache_keys() -> None:
    request = Request(key="1", prompt="hello", params=GenParams(temperature=0.0, max_tokens=5))
    old_params = {"temperature": 0.0, "max_tokens": 5, "top_p": None, "stop": None, "seed": None,
                  "response_format": None}  # GenParams before the scoring fields existed
    material = {"v": 1, "identity": {"backend": "openai"}, "params": old_params, "messages": [], "prompt": "hello"}
    old_key = hashlib.sha256(json.dumps(material, sort_keys=True, separators=(",", ":"),
                                        ensure_ascii=False).encode("utf-8")).hexdigest()
    assert cache_key({"backend": "openai"}, request) == old_key
    scoring = request.model_copy(update={"params": GenParams(max_tokens=5, echo=True, logprobs=3)})
    assert cache_key({"backend": "openai"}, scoring) != old_key
