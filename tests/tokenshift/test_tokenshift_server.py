"""The OpenAI-compatible path through the real engine and client, against a loopback server that
scores the prompt with the same tiny model (its own forward pass): the same ranks as hf:."""

from __future__ import annotations

from pathlib import Path

import pytest

from justeval.engine.backend_spec import BackendSpec
from justeval.errors import JustevalError
from justeval.tokenshift import read_token_shift, token_shift
from tests.tokenshift import tiny
from tests.tokenshift.conftest import TinyModels, hf_settings, server_settings
from tests.tokenshift.logprobs_server import LogprobsServer

TOP_K = 10


def _capped(ranks: list[int | None]) -> list[int | None]:
    """What `echo` can say: the rank within the top-k, else unknown."""
    return [r if r is not None and r <= TOP_K else None for r in ranks]


@pytest.mark.parametrize("prompt_logprobs", [False, True], ids=["echo", "prompt_logprobs"])
def test_the_server_path_gives_the_ranks_of_the_hf_path(models: TinyModels, other_run: Path, tmp_path: Path,
                                                        prompt_logprobs: bool) -> None:
    [local] = token_shift([other_run], hf_settings(models.base, out=tmp_path / "hf"))
    with LogprobsServer(models.base) as server:
        settings = server_settings(server.base_url, models.base, prompt_logprobs=prompt_logprobs,
                                   out=tmp_path / "server")
        [remote] = token_shift([other_run], settings)
        sent = [body["prompt"] for body in server.requests]
    hf, served = read_token_shift(local.path), read_token_shift(remote.path)
    assert len(sent) == len(tiny.INSTRUCTIONS)  # one call per output
    _, tok = tiny.load(models.base)
    for i, output in enumerate(models.other_outputs):  # the ids sent are the prompt's and the output's
        ids = tiny.prompt_ids(tok, tiny.INSTRUCTIONS[i]) + tok(output, add_special_tokens=False)["input_ids"]
        assert ids in sent
    assert any(r is not None and r > TOP_K for rec in hf.values() for r in rec.ranks)  # the cap is exercised
    for i, record in hf.items():
        assert served[i].ranks == (record.ranks if prompt_logprobs else _capped(record.ranks))
        assert served[i].counts == record.counts  # outside the top-k is shifted either way
        assert [d.position for d in served[i].shifted_tokens] == [d.position for d in record.shifted_tokens]
        for mine, theirs in zip(served[i].marginal_tokens, record.marginal_tokens, strict=True):
            assert [a.token for a in mine.top] == [a.token for a in theirs.top]
            assert [a.logprob for a in mine.top] == pytest.approx([a.logprob for a in theirs.top], abs=1e-3)


def test_aligned_through_two_servers_matches_the_hf_path(models: TinyModels, other_run: Path, tmp_path: Path) -> None:
    aligned = BackendSpec(spec=f"hf:{models.other}")
    [local] = token_shift([other_run], hf_settings(models.base, aligned=aligned, out=tmp_path / "hf"))
    with LogprobsServer(models.base) as base, LogprobsServer(models.other) as other:
        settings = server_settings(base.base_url, models.base, out=tmp_path / "server",
                                   aligned=BackendSpec(spec="openai:tiny-aligned", base_urls=[other.base_url]),
                                   aligned_tokenizer=str(models.other))
        [remote] = token_shift([other_run], settings)
        assert len(base.requests) == len(other.requests) == len(tiny.INSTRUCTIONS)
    hf, served = read_token_shift(local.path), read_token_shift(remote.path)
    for i, record in hf.items():
        assert served[i].ranks == _capped(record.ranks)
        assert served[i].aligned_agreement == record.aligned_agreement
        assert [d.token for d in served[i].shifted_tokens] == [d.token for d in record.shifted_tokens]


@pytest.mark.parametrize(("mode", "prompt_logprobs", "option"), [
    ("ignores_echo", False, "`echo`"), ("ignores_echo", True, "`prompt_logprobs`"), ("refuses", False, "`echo`")])
def test_a_server_without_prompt_logprobs_stops_with_one_error_naming_the_option(
        models: TinyModels, other_run: Path, mode: str, prompt_logprobs: bool, option: str) -> None:
    with LogprobsServer(models.base, mode=mode) as server:
        settings = server_settings(server.base_url, models.base, prompt_logprobs=prompt_logprobs)
        with pytest.raises(JustevalError) as caught:
            token_shift([other_run], settings)
    message = str(caught.value)
    assert server.base_url in message and option in message and "\n" not in message
    assert not [r for r in read_token_shift(other_run / "token_shift.jsonl").values() if r.ok]


def test_replies_are_cached_by_the_engine(models: TinyModels, other_run: Path, tmp_path: Path) -> None:
    with LogprobsServer(models.base) as server:
        token_shift([other_run], server_settings(server.base_url, models.base, out=tmp_path / "first"))
        first = len(server.requests)
        [again] = token_shift([other_run], server_settings(server.base_url, models.base, out=tmp_path / "second"))
        assert first == len(tiny.INSTRUCTIONS) and len(server.requests) == first  # the second pass: all cache hits
    records, before = read_token_shift(again.path), read_token_shift(tmp_path / "first" / "token_shift.jsonl")
    assert all(r.cached and r.ok for r in records.values()) and not any(r.cached for r in before.values())
    assert {i: r.ranks for i, r in records.items()} == {i: r.ranks for i, r in before.items()}
