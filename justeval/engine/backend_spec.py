"""Which model answers and how to reach it, as one validated value: the model spec, the
server(s), the name of the variable holding the key, the endpoint kind, a client timeout and
backend-specific options. Every command and the pipeline describe a backend with a
`BackendSpec`; `build()` is the one place a backend is made and the one place its key is looked
up, with one actionable message when it is missing. Its JSON form goes into run.json (the key's
variable name, never its value).
"""

from __future__ import annotations

import os
import urllib.parse
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.engine.types import Backend, backend_class, backend_kinds
from justeval.errors import JustevalError, UsageError

Endpoint = Literal["chat", "completions"]


class MissingKeyError(JustevalError):
    """No API key where the backend needs one; the message names the variable to set."""


def check_base_url(url: str) -> str:
    """A server URL as recorded and used: http(s), a host, no credentials, no trailing slash.

    A password in a URL would be written to run.json and logs, so it is refused with the way
    out (put the key in a variable and name it with --api-key-env)."""
    text = url.strip()
    try:
        parsed = urllib.parse.urlparse(text)
        port = parsed.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise UsageError(f"malformed server URL {text[:200]!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"malformed server URL {text[:200]!r}: expected http(s)://HOST[:PORT]/PATH")
    if parsed.username is not None or parsed.password is not None:
        where = parsed._replace(netloc=parsed.hostname + (f":{port}" if port else "")).geturl()
        raise UsageError(f"server URL {where} carries a user name or password: it would be recorded in run.json; "
                         "put the key in an environment variable and name it with --api-key-env")
    return text.rstrip("/")


class BackendSpec(BaseModel):
    """A model and the way to reach it (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    spec: str
    """KIND:MODEL, e.g. `openai:gpt-4o`, `litellm:anthropic/claude-3-5-sonnet-20241022`, `hf:./my-model`."""

    base_urls: list[str] = Field(default_factory=list)
    """OpenAI-compatible server(s) (`--base-url`); empty: the provider's own (or $OPENAI_BASE_URL)."""

    api_key_env: str | None = None
    """Name of the environment variable holding the key (`--api-key-env`); None: the backend's default."""

    endpoint: Endpoint = "chat"
    """`chat` (chat completions) or `completions` (plain text completion, for base models; `--completion`)."""

    timeout_s: float | None = Field(None, gt=0)
    """Seconds the client waits for the server; None: the engine's per-call timeout."""

    options: dict[str, Any] = Field(default_factory=dict)
    """Backend-specific settings passed to its constructor (hf: `device`, `dtype`, `batch_size`)."""

    @field_validator("spec")
    @classmethod
    def _spec(cls, value: str) -> str:
        import justeval.engine.backends  # noqa: F401  (registers the built-in kinds)

        kind, sep, model = value.strip().partition(":")
        if not sep or not model.strip() or not kind:
            raise ValueError(f"model spec {value[:200]!r} must look like KIND:MODEL, KIND one of "
                             f"{', '.join(backend_kinds())}")
        if kind not in backend_kinds():
            raise ValueError(f"unknown backend {kind!r} in {value[:200]!r}; known: {', '.join(backend_kinds())}")
        return value.strip()

    @field_validator("base_urls", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> Any:
        """One URL, a comma list, or a list of either; each checked by `check_base_url`."""
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            return value
        urls = [part for item in value for part in str(item).split(",") if part.strip()]
        try:
            return list(dict.fromkeys(check_base_url(u) for u in urls))
        except UsageError as exc:  # as a validation error, so the message names the option
            raise ValueError(str(exc)) from exc

    @field_validator("api_key_env")
    @classmethod
    def _env_name(cls, value: str | None) -> str | None:
        if value is not None and (not value or not value.replace("_", "a").isalnum()):
            raise ValueError(f"{value[:80]!r} is not an environment variable name")
        return value

    # -- derived -----------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.spec.partition(":")[0]

    @property
    def model(self) -> str:
        return self.spec.partition(":")[2]

    @property
    def base_url(self) -> str | None:
        """The first (or only) server."""
        return self.base_urls[0] if self.base_urls else None

    def with_(self, **changes: Any) -> BackendSpec:
        """A copy with `changes`, validated like the original."""
        return BackendSpec.model_validate({**self.model_dump(), **changes})

    # -- the key and the backend ---------------------------------------------------
    def api_key(self) -> str | None:
        """The key, read once from the environment: the variable `api_key_env` names, else the
        backend's own default (OPENAI_API_KEY, a provider's variable). Raises MissingKeyError
        naming the variable when a key is needed and absent."""
        from justeval.redact import register_secret

        if self.api_key_env:
            key = os.environ.get(self.api_key_env)
            if not key:
                raise MissingKeyError(f"environment variable {self.api_key_env} is not set; it should hold the API "
                                      f"key for {self.spec} (named by --api-key-env)")
            register_secret(key)  # masked wherever it might be echoed back, whatever the variable's name
            return key
        return backend_class(self.kind).find_key(self.model, self.base_url)

    def build(self, *, timeout_s: float | None = None, key: bool = True) -> Backend:
        """The backend this spec describes (for its first server); `timeout_s` (the engine's
        per-call deadline) is its client timeout unless the spec sets one. `key=False` builds it
        without looking up a key, for estimates and checks that send nothing."""
        return self._make(self.base_url, self.api_key() if key else None, timeout_s)

    def build_all(self, *, timeout_s: float | None = None) -> list[Backend]:
        """One backend per server in `base_urls` (one, for none), the key looked up once: the
        fleet `Engine(spec, config)` sends to, each call to the least busy server."""
        key = self.api_key()
        urls: list[str | None] = list(self.base_urls) or [None]
        return [self._make(url, key, timeout_s) for url in urls]

    def _make(self, base_url: str | None, key: str | None, timeout_s: float | None) -> Backend:
        cls = backend_class(self.kind)
        timeout = self.timeout_s if self.timeout_s is not None else timeout_s
        return cls(self.model, base_url=base_url, api_key=key, completion=self.endpoint == "completions",
                   timeout=timeout, **self.options)

    def manifest(self) -> dict[str, Any]:
        """The JSON form recorded in run.json: every field, the key's variable name only."""
        return self.model_dump(mode="json")
