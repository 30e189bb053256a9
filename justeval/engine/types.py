"""The one small interface every backend implements, and the registry that finds them by name.

A backend turns `messages + params` into `text + usage`. Everything around the call
(concurrency, rate limits, retries, caching, cost, progress) lives once, in the engine.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from justeval.records import Usage

if TYPE_CHECKING:
    from justeval.engine.batch_api import BatchAPI

#: how a call failed to reach the model, for the circuit breaker: nothing answered (connection
#: refused, reset, no route), no reply in time, or a gateway answered that the model behind it
#: cannot be reached (502, 504)
TransportFailure = Literal["connection", "timeout", "gateway"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str


#: Body fields a caller may not set through `GenParams.extra`: justeval sets them itself
#: (model, prompt, messages), reads one reply object (stream), or has a typed field for them.
RESERVED_BODY_FIELDS = frozenset({"model", "prompt", "messages", "stream", "stream_options",
                                  "max_completion_tokens", "extra"})


class GenParams(BaseModel):
    """Decoding parameters; part of the cache key.

    The fields below `response_format` are the sampling options of open-weight servers (vLLM,
    TGI) and of transformers that the OpenAI API does not have; `extra` carries any other body
    field a server accepts (`--param KEY=VALUE`). Which backend sends what is documented at
    `openai_backend.build_payload`; the hf backend maps them to transformers' arguments."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: list[str] | None = None
    seed: int | None = None
    response_format: dict[str, Any] | None = None
    # -- scoring a given text (token-shift analysis); completions endpoint only --------------
    echo: bool | None = None
    """Return the prompt's own tokens, with their logprobs, before the reply's (OpenAI `echo`)."""
    logprobs: int | None = None
    """Log-probability of each token and this many top alternatives (OpenAI `logprobs`)."""
    prompt_logprobs: int | None = None
    """vLLM's `prompt_logprobs`: each prompt token's logprob and rank, and this many top alternatives."""
    prompt_token_ids: list[int] | None = None
    """Send these token ids as the prompt instead of the text (which stays in `Request.prompt`
    for estimates and logs), so the server scores exactly the tokens the caller tokenized."""

    repetition_penalty: float | None = Field(None, gt=0)
    """Penalty on tokens already present, 1.0 = none (`--repetition-penalty`; URIAL uses 1.1 for
    its just-eval rows, 1.15 for MT-bench)."""

    top_k: int | None = Field(None, ge=-1)
    """Sample from the K most likely tokens only; 0 or -1: all of them (`--top-k`)."""

    no_repeat_ngram_size: int | None = Field(None, ge=0)
    """Never repeat an n-gram of this size (`--no-repeat-ngram-size`; transformers has it, vLLM not)."""

    n: int | None = Field(None, ge=1)
    """Completions per request (`--n`); a generation record holds one output, so generate takes 1."""

    extra: dict[str, Any] = Field(default_factory=dict)
    """Further body fields sent to the server as they are, e.g. vLLM's `min_p` (`--param KEY=VALUE`)."""

    @field_validator("extra")
    @classmethod
    def _extra_fields(cls, value: dict[str, Any]) -> dict[str, Any]:
        typed = set(cls.model_fields)
        for key in value:
            if key in typed:
                raise ValueError(f"{key!r} has its own option (--{key.replace('_', '-')}); do not pass it as --param")
            if key in RESERVED_BODY_FIELDS:
                raise ValueError(f"{key!r} is set by justeval itself and cannot be passed as --param")
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"--param values must be JSON: {exc}") from exc
        return value

    @model_serializer(mode="wrap")
    def _without_unset_additions(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The dump (and so the cache key) leaves out the options added after the first release
        while they hold their defaults: replies cached before they existed still match."""
        data: dict[str, Any] = handler(self)
        for name in _ADDED_FIELDS:
            if name in data and data[name] in (None, {}):
                del data[name]
        return data


#: GenParams fields added after 0.1, left out of its dump while unset (see `_without_unset_additions`)
_ADDED_FIELDS = ("repetition_penalty", "top_k", "no_repeat_ngram_size", "n", "extra", "echo", "logprobs",
                 "prompt_logprobs", "prompt_token_ids")


class Request(BaseModel):
    """One call. Chat backends read `messages`; in completion mode (`prompt` set) the
    text-completions endpoint gets `prompt` instead."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(description="caller's id for this call (item id, or item id + order)")
    messages: list[Message] = Field(default_factory=list)
    prompt: str | None = None
    params: GenParams = Field(default_factory=GenParams)
    repeat: int = Field(0, ge=0, description="which repeat of the same call this is (judge stability, "
                        "`--repeats`); part of the cache key when above 0, so each repeat is its own call")


class TopLogprob(BaseModel):
    """One candidate token at a position: its text, log-probability, and where the server says
    them, its id and rank (1 = most likely)."""

    token: str
    logprob: float
    token_id: int | None = None
    rank: int | None = None


class TokenLogprob(BaseModel):
    """One token of a reply (or, with `echo`, of the prompt): its logprob (None where the server
    has no prediction, e.g. the first prompt token) and the top alternatives it returned."""

    token: str
    logprob: float | None = None
    top: list[TopLogprob] = Field(default_factory=list)


class Completion(BaseModel):
    text: str
    usage: Usage = Field(default_factory=Usage)
    finish_reason: str | None = None
    model: str | None = None
    logprobs: list[TokenLogprob] | None = None
    """Per token, as the server returned them (`logprobs`); with `echo` the prompt's tokens come first."""
    prompt_logprobs: list[list[TopLogprob] | None] | None = None
    """vLLM's `prompt_logprobs`: per prompt token, the entries returned (the token itself and the top
    alternatives, each with id and rank); None at a position without a prediction (the first)."""


class BackendError(Exception):
    """A call failed. `retryable` says whether the engine may try again; `retry_after` is a
    server-suggested wait in seconds (from a Retry-After header); `failure` says when the
    server itself could not be reached (the circuit breaker counts those)."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None,
                 retry_after: float | None = None, failure: TransportFailure | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.failure = failure


class Backend(abc.ABC):
    """A model behind one async call. Implementations raise BackendError on failure."""

    #: registry prefix, e.g. "openai"
    kind: str = ""

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 completion: bool = False, timeout: float | None = None) -> None:
        """The uniform constructor `BackendSpec.build` calls (plus the spec's `options`); a
        backend that has no use for a server, key or timeout accepts and ignores them."""
        self.model = model

    @classmethod
    def find_key(cls, model: str, base_url: str | None) -> str | None:
        """The API key from this backend's default variable when none is named; raise
        `MissingKeyError` naming the variable when one is needed and unset. Called once, by
        `BackendSpec.api_key`; the default needs no key."""
        return None

    @property
    def spec(self) -> str:
        return f"{self.kind}:{self.model}"

    @abc.abstractmethod
    async def complete(self, request: Request) -> Completion:
        """Send one request and return its text and usage."""

    def identity(self) -> dict[str, Any]:
        """What, besides the request, decides the reply (part of the cache key)."""
        return {"backend": self.kind, "model": self.model}

    def cost_usd(self, usage: Usage) -> float | None:
        """Price of a call where known (LiteLLM's price map), else None."""
        return None

    def supports_response_format(self) -> bool:
        return False

    @property
    def server(self) -> str | None:
        """The server this backend sends to (its base URL), for records and messages; None
        for a backend that runs in-process."""
        return None

    async def probe(self, timeout_s: float) -> bool:
        """Check, without paying for a call, that the server answers at all: True when it
        answered (any HTTP status), False when this backend has nothing to check; raise a
        BackendError (with `failure` set) when it does not answer within `timeout_s`."""
        return False

    def batch_api(self) -> BatchAPI | None:
        """The provider's batch interface (upload, create, poll, download), or None."""
        return None

    def batch_cost_usd(self, usage: Usage) -> float | None:
        """Price of a call made through the provider's batch interface, where known."""
        return None

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


_REGISTRY: dict[str, Callable[[], type[Backend]]] = {}


def register_backend(kind: str, loader: Callable[[], type[Backend]]) -> None:
    """Register a backend kind; `loader` imports lazily so optional deps load only on use."""
    _REGISTRY[kind] = loader


def backend_kinds() -> list[str]:
    return sorted(_REGISTRY)


def backend_class(kind: str) -> type[Backend]:
    """The Backend class registered as `kind` (its module is imported now)."""
    from justeval.errors import JustevalError

    if kind not in _REGISTRY:
        raise JustevalError(f"unknown backend {kind!r}; known: {', '.join(backend_kinds())}")
    return _REGISTRY[kind]()
