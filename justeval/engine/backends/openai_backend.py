"""`openai:MODEL`: OpenAI, or any OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI) via
`base_url`, through the official SDK (its client: auth, headers, error classes). The SDK's own retries
are off: the engine retries.

Payload building and reply parsing are pure functions so they can be tested without a server.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any, Literal

from justeval.engine.httperrors import is_retryable_status, parse_retry_after
from justeval.engine.types import Backend, BackendError, Completion, Request, TokenLogprob, TopLogprob
from justeval.errors import UsageError, warn
from justeval.records import Usage

Endpoint = Literal["chat", "completions"]
_OPENAI_HOSTS = ("api.openai.com",)
# reasoning models take `max_completion_tokens` and reject `max_tokens`
_MAX_COMPLETION_TOKENS_PREFIXES = ("o1", "o3", "o4", "gpt-5")


def _server(base_url: str | None) -> str | None:
    """The server: the one given, else $OPENAI_BASE_URL, else None (api.openai.com)."""
    return (base_url or os.environ.get("OPENAI_BASE_URL") or "").rstrip("/") or None


def _uses_max_completion_tokens(model: str) -> bool:
    return model.rsplit("/", 1)[-1].startswith(_MAX_COMPLETION_TOKENS_PREFIXES)


def prompt_from_messages(request: Request) -> str:
    """Completion mode with only messages: their contents, separated by blank lines."""
    return "\n\n".join(m.content for m in request.messages)


#: GenParams fields that are not part of the OpenAI API: open-weight servers take them as extra
#: body fields (vLLM: repetition_penalty, top_k and more; TGI: repetition_penalty, top_k)
NON_OPENAI_FIELDS = ("repetition_penalty", "top_k", "no_repeat_ngram_size")


def non_openai_params(request: Request) -> list[str]:
    """The request's parameters that api.openai.com would reject, by name."""
    params = request.params
    named = [name for name in NON_OPENAI_FIELDS if getattr(params, name) is not None]
    return named + sorted(params.extra)


def build_payload(model: str, request: Request, *, completion: bool = False,
                  openai_api: bool = False) -> tuple[Endpoint, dict[str, Any]]:
    """The endpoint and JSON body for one request (chat unless completion mode or a `prompt`).

    What is sent: the OpenAI fields that are set (temperature, top_p, max_tokens, or
    max_completion_tokens for reasoning models on the chat endpoint, stop, seed, n, and
    response_format on the chat endpoint), then the open-weight sampling options
    (`repetition_penalty`, `top_k`, `no_repeat_ngram_size`) and every `extra` field as top-level
    body fields, the way vLLM's and TGI's OpenAI-compatible servers read them. The OpenAI API
    rejects fields it does not know, so with `openai_api` (the server is api.openai.com) a request
    that carries any of them is refused here, naming them, rather than sent to fail or sent
    without them (outputs recorded with a repetition_penalty that was never applied would be
    wrong). A self-hosted server that does not know a field ignores it or refuses it itself
    (vLLM logs the fields it ignored; it has no `no_repeat_ngram_size`)."""
    params = request.params
    use_completions = completion or request.prompt is not None
    if openai_api and (refused := non_openai_params(request)):
        raise BackendError(f"api.openai.com does not accept {', '.join(refused)} (options of open-weight servers "
                           "such as vLLM and TGI): leave them out, or point --base-url at a server that takes them",
                           retryable=False)
    body: dict[str, Any] = {"model": model}
    if use_completions:
        body["prompt"] = request.prompt if request.prompt is not None else prompt_from_messages(request)
    else:
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages]
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.max_tokens is not None:
        reasoning = not use_completions and _uses_max_completion_tokens(model)
        body["max_completion_tokens" if reasoning else "max_tokens"] = params.max_tokens
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed is not None:
        body["seed"] = params.seed
    if params.n is not None:
        body["n"] = params.n
    if params.response_format is not None and not use_completions:
        body["response_format"] = params.response_format
    for name in NON_OPENAI_FIELDS:
        value = getattr(params, name)
        if value is not None:
            body[name] = value
    body.update(params.extra)  # GenParams refuses extra keys that collide with the fields above
    if use_completions:  # scoring a given text (token-shift): the prompt's own logprobs
        if params.prompt_token_ids is not None:
            body["prompt"] = list(params.prompt_token_ids)
        if params.echo:
            body["echo"] = True
        if params.logprobs is not None:
            body["logprobs"] = params.logprobs
        if params.prompt_logprobs is not None:
            body["prompt_logprobs"] = params.prompt_logprobs
    return ("completions" if use_completions else "chat"), body


def _usage(data: dict[str, Any]) -> Usage:
    raw = data.get("usage") or {}
    details = raw.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(prompt_tokens=int(raw.get("prompt_tokens") or 0),
                 completion_tokens=int(raw.get("completion_tokens") or 0),
                 cached_tokens=int(cached or 0))


def parse_response(endpoint: Endpoint, data: dict[str, Any]) -> Completion:
    """Text, usage and finish reason of the first choice.

    Only text is an answer: a reply without choices, a `content` (chat) or `text` (completions)
    that is null or missing, a refusal, or tool calls without text are errors (never an empty
    output that would be judged as if the model had said nothing). Content given as a list of
    text parts is joined; a lone surrogate (half of a character, which cannot be stored as
    UTF-8) becomes U+FFFD, the replacement character."""
    choices = data.get("choices") or []
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise BackendError("reply has no choices", retryable=False)
    choice = choices[0]
    finish = choice.get("finish_reason")
    if endpoint == "chat":
        message = choice.get("message")
        if not isinstance(message, dict):
            raise BackendError("reply has no message", retryable=False)
        text = _content_text(message.get("content"))
        if text is None:
            raise BackendError(_no_text(message, finish), retryable=False)
    else:
        text = choice.get("text")
        if not isinstance(text, str):
            raise BackendError(f"reply has no text ({'null' if text is None else type(text).__name__}"
                               f"{_finish_note(finish)})", retryable=False)
    if not isinstance(finish, str):
        finish = None
    return Completion(text=_whole_characters(text), usage=_usage(data), finish_reason=finish,
                      model=data.get("model") if isinstance(data.get("model"), str) else None,
                      logprobs=_legacy_logprobs(choice.get("logprobs")),
                      prompt_logprobs=_prompt_logprobs(choice.get("prompt_logprobs")))


def _content_text(content: Any) -> str | None:
    """A message's text: a string, or a list of text parts joined; None when there is none."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(
            isinstance(p, dict) and p.get("type", "text") == "text" and isinstance(p.get("text"), str)
            for p in content):
        return "".join(p["text"] for p in content)
    return None


def _finish_note(finish: Any) -> str:
    if finish == "length":
        return "; finish_reason length: the token limit was reached before any answer"
    return f"; finish_reason {finish}" if isinstance(finish, str) and finish else ""


def _no_text(message: dict[str, Any], finish: Any) -> str:
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal.strip():
        return f"the model refused: {refusal.strip()[:200]}"
    if message.get("tool_calls") or message.get("function_call"):
        return f"reply holds tool calls, not an answer{_finish_note(finish)}"
    content = message.get("content")
    kind = "null" if content is None else type(content).__name__
    return f"reply has no content ({kind}{_finish_note(finish)})"


def _whole_characters(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def _legacy_logprobs(raw: Any) -> list[TokenLogprob] | None:
    """The completions endpoint's `logprobs` ({tokens, token_logprobs, top_logprobs}), one entry
    per token; None when the server sent none. A malformed one is an error, not a guess."""
    if raw is None:
        return None
    try:
        tokens = raw["tokens"]
        values = raw.get("token_logprobs") or [None] * len(tokens)
        tops = raw.get("top_logprobs") or [None] * len(tokens)
        out = []
        for token, value, top in zip(tokens, values, tops, strict=True):
            alternatives = sorted((TopLogprob(token=str(t), logprob=float(lp)) for t, lp in (top or {}).items()),
                                  key=lambda a: -a.logprob)
            out.append(TokenLogprob(token=str(token), logprob=None if value is None else float(value),
                                    top=alternatives))
        return out
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackendError(f"malformed `logprobs` in the reply: {type(exc).__name__}: {exc}", retryable=False) from exc


def _prompt_logprobs(raw: Any) -> list[list[TopLogprob] | None] | None:
    """vLLM's `prompt_logprobs`: per prompt token None or {token id: {logprob, rank, decoded_token}}."""
    if raw is None:
        return None
    try:
        out: list[list[TopLogprob] | None] = []
        for position in raw:
            if position is None:
                out.append(None)
                continue
            entries = [TopLogprob(token=str(v.get("decoded_token") or ""), logprob=float(v["logprob"]),
                                  token_id=int(k), rank=None if v.get("rank") is None else int(v["rank"]))
                       for k, v in position.items()]
            out.append(sorted(entries, key=lambda a: -a.logprob))
        return out
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise BackendError(f"malformed `prompt_logprobs` in the reply: {type(exc).__name__}: {exc}",
                           retryable=False) from exc


def map_exception(exc: BaseException) -> BackendError:
    """SDK exception -> BackendError (retryable for 429, 5xx, timeouts, dropped connections)."""
    import openai

    from justeval.engine.backends.aiohttp_transport import ReplyTooLarge

    too_large = _cause(exc, ReplyTooLarge)
    if too_large is not None:  # the same reply would be refused again: not worth paying for twice
        return BackendError(str(too_large), retryable=False)
    if isinstance(exc, openai.APITimeoutError):
        return BackendError(f"request timed out: {exc}", retryable=True, failure="timeout")
    if isinstance(exc, openai.APIConnectionError):
        from justeval.engine.breaker import transport_reason

        return BackendError(f"connection failed: {transport_reason(exc) or exc}", retryable=True,
                            failure="connection")
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        retry_after = parse_retry_after(exc.response.headers) if exc.response is not None else None
        message = getattr(exc, "message", None) or str(exc)
        return BackendError(f"HTTP {status}: {message}", retryable=is_retryable_status(status), status=status,
                            retry_after=retry_after)
    return BackendError(f"{type(exc).__name__}: {exc}", retryable=False)


def _cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """`exc` or the first exception of type `kind` it was raised from (the SDK wraps what its
    transport raises in its own connection error)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


_STRUCTURED_WORDS = ("response_format", "json_schema", "structured output", "guided")


def rejects_structured_output(exc: BackendError) -> bool:
    """A 400/422 whose message is about the requested output format."""
    text = str(exc).lower()
    return exc.status in (400, 422) and any(word in text for word in _STRUCTURED_WORDS)


def _without_response_format(request: Request) -> Request:
    return request.model_copy(update={"params": request.params.model_copy(update={"response_format": None})})


def _raw_response_type() -> Any:
    from justeval.engine.backends.aiohttp_transport import sdk_http

    return sdk_http().Response


class OpenAIBackend(Backend):
    kind = "openai"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 completion: bool = False, timeout: float | None = None, max_connections: int = 1000,
                 max_reply_bytes: int | None = None) -> None:
        super().__init__(model)
        from justeval.engine.backends.aiohttp_transport import DEFAULT_MAX_REPLY_BYTES

        self.base_url = _server(base_url)
        self.completion = completion
        self.timeout = timeout
        self.max_connections = max_connections
        #: the largest reply read, after decompression (`BackendSpec.options["max_reply_bytes"]`)
        self.max_reply_bytes = DEFAULT_MAX_REPLY_BYTES if max_reply_bytes is None else max_reply_bytes
        if isinstance(self.max_reply_bytes, bool) or not isinstance(self.max_reply_bytes, int) \
                or self.max_reply_bytes < 1:
            raise UsageError(f"max_reply_bytes must be a positive whole number of bytes, not {max_reply_bytes!r}")
        self._api_key = api_key or "EMPTY"  # BackendSpec looked it up; local servers need none
        self._client: Any = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._structured_ok = True  # until the server rejects a response_format
        self._openai_api = self.base_url is None or any(host in self.base_url for host in _OPENAI_HOSTS)
        # Import the SDK now, not inside the first timed call (about a second on a cold start).
        import openai  # noqa: F401

        from justeval.engine.backends import aiohttp_transport  # noqa: F401

    @classmethod
    def find_key(cls, model: str, base_url: str | None) -> str | None:
        """OPENAI_API_KEY; a self-hosted OpenAI-compatible server usually needs none."""
        key = os.environ.get("OPENAI_API_KEY")
        if key:
            return key
        server = _server(base_url)
        if server and not any(host in server for host in _OPENAI_HOSTS):
            return None
        from justeval.engine.backend_spec import MissingKeyError

        raise MissingKeyError(f"OPENAI_API_KEY is not set: export it for openai:{model}, or name the variable "
                              "that holds the key with --api-key-env")

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "base_url": self.base_url,
                "completion": self.completion}

    def supports_response_format(self) -> bool:
        return self._structured_ok

    @property
    def server(self) -> str | None:
        return self.base_url or "https://api.openai.com/v1"

    def cost_usd(self, usage: Usage) -> float | None:
        if self.base_url and not any(host in self.base_url for host in _OPENAI_HOSTS):
            return None  # a self-hosted model has no list price
        from justeval.engine.costs import call_cost_usd

        return call_cost_usd(self.model, usage)

    def batch_cost_usd(self, usage: Usage) -> float | None:
        if self.cost_usd(usage) is None:
            return None
        from justeval.engine.costs import call_cost_usd

        return call_cost_usd(self.model, usage, batch=True)

    def batch_api(self) -> Any:
        """The OpenAI Batch API (Files + Batches) of this backend's server."""
        from justeval.engine.backends.openai_batch import OpenAIBatchAPI

        return OpenAIBatchAPI(self)

    async def probe(self, timeout_s: float) -> bool:
        """`GET /models`: any HTTP answer (even 401 or 404) says the server is there; it costs
        nothing and takes no model time."""
        import openai

        client = self._get_client()
        try:
            await client.get("/models", cast_to=_raw_response_type(), options={"timeout": timeout_s})
        except openai.APIStatusError:
            return True
        except openai.OpenAIError as exc:
            raise map_exception(exc) from exc
        return True

    def client(self) -> Any:
        """The SDK client of the running event loop (the batch interface shares it)."""
        return self._get_client()

    def _get_client(self) -> Any:
        """One client per event loop (httpx connections belong to the loop that opened them)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            import openai

            from justeval.engine.backends.aiohttp_transport import sdk_http, transport_for

            transport: Any = transport_for(sdk_http())(max_connections=self.max_connections,  # the SDK's library
                                                       max_reply_bytes=self.max_reply_bytes)
            http_client = openai.DefaultAsyncHttpxClient(transport=transport)
            self._client = openai.AsyncOpenAI(api_key=self._api_key, base_url=self.base_url, max_retries=0,
                                              timeout=self.timeout if self.timeout is not None else 600.0,
                                              http_client=http_client)
            self._client_loop = loop
        return self._client

    async def complete(self, request: Request) -> Completion:
        if request.params.response_format is not None and not self._structured_ok:
            request = _without_response_format(request)
        try:
            return await self._post(request)
        except BackendError as exc:
            if request.params.response_format is None or not rejects_structured_output(exc):
                raise
        # Many OpenAI-compatible servers (older vLLM, TGI, llama.cpp builds) refuse json_schema
        # output: ask once more without it, and never again for this backend. The judge's
        # prompt still asks for JSON, and the reply is parsed the same way.
        if self._structured_ok:
            self._structured_ok = False
            warn(f"{self.kind}:{self.model}: the server rejected structured output (response_format); "
                 "continuing without it")
        return await self._post(_without_response_format(request))

    async def _post(self, request: Request) -> Completion:
        client = self._get_client()
        endpoint, body = build_payload(self.model, request, completion=self.completion, openai_api=self._openai_api)
        path = "/chat/completions" if endpoint == "chat" else "/completions"
        try:
            # the SDK's generic POST: its auth, headers and error classes, without re-validating
            # our already-plain JSON body or building pydantic objects we would only dump again
            response = await client.post(path, body=body, cast_to=_raw_response_type())
        except Exception as exc:
            import openai

            from justeval.engine.backends.aiohttp_transport import ReplyTooLarge

            if isinstance(exc, openai.OpenAIError) or _cause(exc, ReplyTooLarge) is not None:
                raise map_exception(exc) from exc
            raise
        try:
            data = response.json()
        except ValueError as exc:
            raise BackendError(f"reply is not JSON: {response.text[:200]!r}", retryable=True) from exc
        if not isinstance(data, dict):
            raise BackendError("reply is not a JSON object", retryable=False)
        return parse_response(endpoint, data)

    async def aclose(self) -> None:
        client, self._client, self._client_loop = self._client, None, None
        if client is not None:
            with contextlib.suppress(RuntimeError):  # its loop is gone: nothing left to release
                await client.close()
