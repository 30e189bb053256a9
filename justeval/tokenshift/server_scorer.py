"""Ranks from an OpenAI-compatible completions server that returns the prompt's logprobs.

Each output is one call through the engine (cache, retries, limits, budget and progress apply):
the prompt and output token ids are sent as the prompt with `echo` and `logprobs: K` (and,
where asked, vLLM's `prompt_logprobs: K`) and one token to generate; the reply's logprobs for
the output's positions are read back. With `echo`, the server returns each position's top-K
by token text: the measured token's rank is 1 + the number of other listed tokens with a higher
logprob, or unknown (outside the top-K) when K of them are higher, which is how AlignTDS
compares. With `prompt_logprobs`, vLLM gives each token's exact rank and ids.

A server that ignores `echo` or `prompt_logprobs` (or refuses them) cannot do this analysis at
all, so it stops the run with one error naming the option it lacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from justeval.engine.engine import ParseFailure
from justeval.engine.types import Completion, GenParams, Request, TopLogprob
from justeval.errors import JustevalError

#: the reason a validator gives for a reply without prompt logprobs (found again in on_result)
NO_LOGPROBS = "no prompt logprobs"
_OPTION_WORDS = ("echo", "logprobs", "prompt_logprobs")


@dataclass(frozen=True)
class Candidate:
    """One token the server listed at a position."""

    token: str
    token_id: int | None
    logprob: float
    rank: int | None = None


@dataclass(frozen=True)
class ServerPosition:
    """What the server said about one prompt position: the token there (the one sent), its
    logprob and rank where known, and the candidates listed (best first)."""

    token: str
    token_id: int | None
    logprob: float | None
    rank: int | None
    candidates: tuple[Candidate, ...]

    def top1(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def top(self, k: int) -> list[Candidate]:
        return list(self.candidates[:k])

    def rank_of(self, token: str, token_id: int | None, k: int) -> int | None:
        """The rank of a token here: exact where the server gave one, else from the listed
        logprobs; None when it is not among the top `k`."""
        if (token_id is not None and token_id == self.token_id) or (token_id is None and token == self.token):
            if self.rank is not None:
                return self.rank
            logprob = self.logprob
        else:
            match = next((c for c in self.candidates
                          if (c.token_id == token_id if token_id is not None and c.token_id is not None
                              else c.token == token)), None)
            if match is None:
                return None
            if match.rank is not None:
                return match.rank
            logprob = match.logprob
        if logprob is None:
            return None
        same = (lambda c: c.token_id == token_id) if token_id is not None else (lambda c: c.token == token)
        higher = sum(1 for c in self.candidates if not same(c) and c.logprob > logprob)
        return higher + 1 if higher < k else None


def scoring_request(key: str, text: str, ids: Sequence[int], top_k: int, *, prompt_logprobs: bool) -> Request:
    """One output's call: its token ids as the prompt, echoed with their logprobs."""
    params = GenParams(max_tokens=1, temperature=0.0, echo=True, logprobs=top_k,
                       prompt_logprobs=top_k if prompt_logprobs else None, prompt_token_ids=list(ids))
    return Request(key=key, prompt=text, params=params)


def lacking_option(completion: Completion, sent: int, *, prompt_logprobs: bool) -> str | None:
    """What the reply lacks (`NO_LOGPROBS [option]: detail`), or None when it can be read."""
    if prompt_logprobs:
        got = completion.prompt_logprobs
        if got is None:
            return f"{NO_LOGPROBS} [prompt_logprobs]: the reply has no `prompt_logprobs`"
        if len(got) < sent:
            return f"{NO_LOGPROBS} [prompt_logprobs]: `prompt_logprobs` covers {len(got)} of the {sent} tokens sent"
        return None
    if completion.logprobs is None:
        return f"{NO_LOGPROBS} [echo]: the reply has no `logprobs` for the prompt"
    if len(completion.logprobs) < sent:
        return (f"{NO_LOGPROBS} [echo]: its `logprobs` cover {len(completion.logprobs)} tokens, fewer than the "
                f"{sent} sent: the prompt was not echoed")
    return None


def validator(sent: dict[str, int], *, prompt_logprobs: bool) -> object:
    """The engine's `validate_request`: a reply without prompt logprobs is not used (nor cached)."""

    def check(request: Request, completion: Completion) -> None:
        reason = lacking_option(completion, sent[request.key], prompt_logprobs=prompt_logprobs)
        if reason is not None:
            raise ParseFailure(reason)

    return check


_NEEDS = ("token-shift needs a completions server that returns the prompt's logprobs: `echo` with `logprobs` "
          "(vLLM, or --prompt-logprobs for vLLM's `prompt_logprobs`)")


def unsupported_error(server: str, reason: str) -> JustevalError:
    """The one error for a reply without the prompt's logprobs (`reason` from `lacking_option`)."""
    option, _, detail = reason.removeprefix(NO_LOGPROBS).strip().partition(":")
    return JustevalError(f"{server} does not support `{option.strip(' []')}` ({detail.strip()}); {_NEEDS}")


def refused_error(server: str, error: str) -> JustevalError:
    """The one error for a server that refuses the scoring options (HTTP 400/422 naming one)."""
    text = error.lower()
    option = next(w for w in ("prompt_logprobs", "echo", "logprobs") if w in text)
    return JustevalError(f"{server} refused `{option}` ({error}); {_NEEDS}")


def refused_option(error: str | None) -> bool:
    """An HTTP 400/422 whose message is about one of the scoring options."""
    text = (error or "").lower()
    return any(code in text for code in ("http 400", "http 422")) and any(w in text for w in _OPTION_WORDS)


def positions(completion: Completion, ids: Sequence[int], *, prompt_logprobs: bool) -> list[ServerPosition]:
    """The reply's view of each position of the sequence sent (position 0 has no prediction)."""
    out: list[ServerPosition] = []
    if prompt_logprobs:
        rows = completion.prompt_logprobs or []
        for index, token_id in enumerate(ids):
            cands = tuple(Candidate(e.token, e.token_id, e.logprob, e.rank)
                          for e in sorted(rows[index] or [], key=_order))
            mine = next((c for c in cands if c.token_id == token_id), None)
            out.append(ServerPosition(token=mine.token if mine else "", token_id=token_id,
                                      logprob=mine.logprob if mine else None, rank=mine.rank if mine else None,
                                      candidates=cands))
        return out
    for entry in (completion.logprobs or [])[: len(ids)]:
        cands = tuple(Candidate(t.token, None, t.logprob) for t in sorted(entry.top, key=lambda t: -t.logprob))
        out.append(ServerPosition(token=entry.token, token_id=None, logprob=entry.logprob, rank=None,
                                  candidates=cands))
    return out


def _order(entry: TopLogprob) -> tuple[int, float]:
    return (entry.rank if entry.rank is not None else 1 << 30, -entry.logprob)
