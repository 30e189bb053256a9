"""`litellm:PROVIDER/MODEL`: every provider LiteLLM speaks to, through `litellm.acompletion`.
LiteLLM's own retries are off (`num_retries=0`): the engine retries."""

from __future__ import annotations

import contextlib
from typing import Any

from justeval.engine.backends.openai_backend import build_payload, parse_response
from justeval.engine.httperrors import is_retryable_status, parse_retry_after
from justeval.engine.types import Backend, BackendError, Completion, Request
from justeval.records import Usage

_KEY_SUFFIXES = ("_KEY", "_TOKEN", "_SECRET", "_CREDENTIALS")
#: keyword arguments of litellm.acompletion that configure LiteLLM itself rather than the model
LITELLM_OWN_KWARGS = frozenset({"api_base", "base_url", "api_key", "api_version", "num_retries", "timeout",
                                "custom_llm_provider", "metadata", "mock_response", "drop_params", "extra_headers",
                                "max_retries", "fallbacks", "caching", "logger_fn"})


def map_exception(exc: BaseException) -> BackendError:
    """LiteLLM exception -> BackendError: 429, 5xx, timeouts and connection failures are retryable."""
    from justeval.engine.pricing import load_litellm

    litellm = load_litellm()
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    headers: Any = getattr(exc, "litellm_response_headers", None)
    response = getattr(exc, "response", None)
    if not headers and response is not None:
        headers = getattr(response, "headers", None)
    retry_after = parse_retry_after(headers) if headers else None
    transient = (litellm.Timeout, litellm.APIConnectionError, litellm.RateLimitError,
                 litellm.InternalServerError, litellm.ServiceUnavailableError)
    permanent = (litellm.BadRequestError, litellm.AuthenticationError, litellm.PermissionDeniedError,
                 litellm.NotFoundError)
    if isinstance(exc, permanent):
        retryable = False
    elif isinstance(exc, transient):
        retryable = True
    else:
        retryable = status is not None and is_retryable_status(status)
    message = getattr(exc, "message", None) or str(exc)
    prefix = f"HTTP {status}: " if status else ""
    return BackendError(f"{prefix}{message}", retryable=retryable, status=status, retry_after=retry_after)


class LiteLLMBackend(Backend):
    kind = "litellm"

    def __init__(self, model: str, *, base_url: str | None = None, api_key: str | None = None,
                 completion: bool = False, timeout: float | None = None) -> None:
        super().__init__(model)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.completion = completion
        self.timeout = timeout
        self._api_key = api_key  # None: LiteLLM reads the provider's own variable
        self._batch: Any = None

    @classmethod
    def find_key(cls, model: str, base_url: str | None) -> str | None:
        """LiteLLM reads each provider's own variable (ANTHROPIC_API_KEY, ...): check now that it
        is set, so a missing key is one message before the run, not hundreds of failed calls."""
        if base_url:
            return None  # a self-hosted server behind LiteLLM: its key, if any, comes from --api-key-env
        from justeval.engine.pricing import load_litellm

        try:
            found = load_litellm().validate_environment(model=model)
        except Exception:
            return None  # a provider LiteLLM cannot check: its first call will say
        # only credentials: LiteLLM also lists settings with defaults (OLLAMA_API_BASE)
        missing = [str(k) for k in (found or {}).get("missing_keys") or [] if str(k).endswith(_KEY_SUFFIXES)]
        if missing:
            from justeval.engine.backend_spec import MissingKeyError

            names = missing[0] if len(missing) == 1 else "none of " + ", ".join(missing)
            raise MissingKeyError(f"{names} is set: litellm:{model} needs its API key there (or name the variable "
                                  "that holds it with --api-key-env)" if len(missing) > 1 else
                                  f"{names} is not set: litellm:{model} needs its API key there (or name the "
                                  "variable that holds it with --api-key-env)")
        return None

    def identity(self) -> dict[str, Any]:
        return {"backend": self.kind, "model": self.model, "base_url": self.base_url,
                "completion": self.completion}

    def supports_response_format(self) -> bool:
        return True

    def cost_usd(self, usage: Usage) -> float | None:
        if self.base_url and self.model.startswith("openai/") and "api.openai.com" not in self.base_url:
            return None  # `openai/` + api_base is a self-hosted OpenAI-compatible server: no list price
        from justeval.engine.pricing import cost_usd

        return cost_usd(self.model, usage)

    def api_key(self) -> str | None:
        """The key given with --api-key-env, if any (else the provider's own variable applies)."""
        return self._api_key

    def batch_api(self) -> Any:
        """Anthropic's Message Batches for `anthropic/` models (spoken directly, not through
        LiteLLM); None for every other provider, which batch mode then refuses."""
        from justeval.engine.backends.anthropic_batch import AnthropicBatchAPI, supports

        if not supports(self.model):
            return None
        if self._batch is None:
            self._batch = AnthropicBatchAPI(self)
        return self._batch

    def batch_cost_usd(self, usage: Usage) -> float | None:
        from justeval.engine.backends.anthropic_batch import supports

        if not supports(self.model) or self.cost_usd(usage) is None:
            return None  # no batch mode for this provider, or no price
        from justeval.engine.costs import call_cost_usd

        return call_cost_usd(self.model, usage, batch=True)

    async def complete(self, request: Request) -> Completion:
        from justeval.engine.pricing import load_litellm

        litellm = load_litellm()
        endpoint, body = build_payload(self.model, request, completion=self.completion)
        if "max_completion_tokens" in body:  # LiteLLM maps max_tokens per provider itself
            body["max_tokens"] = body.pop("max_completion_tokens")
        # repetition_penalty, top_k, no_repeat_ngram_size and --param fields are in `body` as
        # keyword arguments: LiteLLM passes parameters the OpenAI API lacks on to the provider
        # as provider-specific ones; only names LiteLLM reads itself cannot be passed that way
        if taken := sorted(set(request.params.extra) & LITELLM_OWN_KWARGS):
            raise BackendError(f"--param {', '.join(taken)}: LiteLLM reads these names itself; they cannot be sent "
                               "to the provider", retryable=False)
        extra: dict[str, Any] = {"num_retries": 0}
        if self.base_url:
            extra["api_base"] = self.base_url
        if self._api_key:
            extra["api_key"] = self._api_key
        if self.timeout is not None:
            extra["timeout"] = self.timeout
        try:
            if endpoint == "chat":
                response = await litellm.acompletion(**body, **extra)
            else:
                response = await litellm.atext_completion(**body, **extra)
        except Exception as exc:
            raise map_exception(exc) from exc
        data = response.model_dump() if hasattr(response, "model_dump") else dict(response)
        return parse_response(endpoint, data)

    async def aclose(self) -> None:
        """Close the HTTP sessions LiteLLM caches, so none is left open when the loop ends
        (another run would simply open new ones)."""
        from justeval.engine.pricing import load_litellm

        if self._batch is not None:
            await self._batch.aclose()
        litellm = load_litellm()
        with contextlib.suppress(Exception):
            await litellm.close_litellm_async_clients()
            litellm.in_memory_llm_clients_cache.flush_cache()
