"""Anthropic's Message Batches API (`/v1/messages/batches`) for a `litellm:anthropic/MODEL`
backend, spoken directly over HTTP (aiohttp): LiteLLM makes the synchronous calls, but its
batch support goes through OpenAI-shaped files, and Anthropic takes a batch's requests inline.

How it fits the engine's `BatchAPI` (upload a file, create a batch from it):
- `upload` keeps the JSONL lines on disk, in `anthropic-inputs/` of the run directory (see
  `keep_inputs_in`), under a name made from their hash; that name is the "file id" the state
  file records. `create` posts them as the batch's `requests`; once the batch id is recorded the
  runner calls `forget` and the file goes.
- `find` (a batch whose creation was requested but not recorded: the process died during the
  call) has no file id to match, since Anthropic batches carry no input file or metadata: it
  lists the newest batches and takes the first one created after the lines were kept with
  exactly as many requests. It can be wrong when another client creates a batch of the very
  same size in those seconds; then the adopted batch has no result for our custom ids, and they
  go into a new batch (paid once more, never recorded twice). When nothing matches, the batch is
  created again: if the lost create had in fact succeeded, those requests are paid twice.
- Each request's `params` is what LiteLLM sends for the same chat request: system messages as
  the top-level `system`, `max_tokens` always set (Anthropic requires it; 4096, LiteLLM's
  default, when the request has none), `stop` as `stop_sequences`, and structured output as
  LiteLLM asks for it: Anthropic's `output_format` (with its beta header) for the models and
  schemas LiteLLM sends it for, else one forced tool (`json_tool_call`) whose input is returned
  as the reply's JSON text.
- A result is read into the same `Completion` as a synchronous reply through LiteLLM: text,
  usage (prompt tokens include the cache reads and writes, `cached_tokens` the reads), finish
  reason `end_turn`/`stop_sequence`/`tool_use` -> stop, `max_tokens` -> length.
- Line outcomes: `canceled` and `expired` become the engine's `batch_cancelled` and
  `batch_expired`; `errored` carries Anthropic's error type, mapped to its HTTP status
  (`overloaded_error` 529, `rate_limit_error` 429, `api_error` 500 are retried; an
  `invalid_request_error` is a 400, an error record at once).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from justeval.engine.batch_api import BatchAPI, BatchInfo, ItemOutcome, RequestCounts
from justeval.engine.httperrors import is_retryable_status, parse_retry_after
from justeval.engine.types import BackendError, Completion, Request
from justeval.records import Usage

if TYPE_CHECKING:
    import aiohttp

    from justeval.engine.backends.litellm_backend import LiteLLMBackend

API_VERSION = "2023-06-01"
DEFAULT_BASE = "https://api.anthropic.com"
#: Anthropic's limits on one batch (the runner is given these through EngineConfig)
MAX_REQUESTS = 100_000
MAX_BYTES = 256 * 1000 * 1000
#: max_tokens when a request sets none (LiteLLM's default for Anthropic)
DEFAULT_MAX_TOKENS = 4096
JSON_TOOL = "json_tool_call"
#: the beta that `output_format` (native structured output) needs, as LiteLLM sends it
STRUCTURED_OUTPUTS_BETA = "structured-outputs-2025-11-13"
ENDPOINT = "/v1/messages/batches"
INPUTS_FOLDER = "anthropic-inputs"
#: batches looked through by `find` (newest first), and the clock skew allowed between us and them
_FIND_LIMIT = 1000
_SKEW_S = 120.0
_CUSTOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

#: Anthropic error types -> the HTTP status the same error has on a synchronous call
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                "rate_limit_error": 429, "api_error": 500, "timeout_error": 504, "overloaded_error": 529}
FINISH = {"end_turn": "stop", "stop_sequence": "stop", "tool_use": "stop", "max_tokens": "length",
          "pause_turn": "stop", "refusal": "content_filter"}


def supports(model: str) -> bool:
    """Whether batch mode can send this LiteLLM model: Anthropic's own API only."""
    return model.startswith("anthropic/")


def message_params(model: str, request: Request) -> dict[str, Any]:
    """The Messages API body of one request, as LiteLLM would send it for this chat request."""
    p = request.params
    if request.prompt is not None:
        raise BackendError("Anthropic's Message Batches take chat requests only (no completion prompt)",
                           retryable=False)
    refused = [name for name in ("seed", "n", "repetition_penalty", "no_repeat_ngram_size", "logprobs",
                                 "prompt_logprobs", "echo", "prompt_token_ids") if getattr(p, name) is not None]
    if refused:
        raise BackendError(f"Anthropic's Messages API does not take {', '.join(refused)}: leave them out or run "
                           "without --batch", retryable=False)
    system = [m.content for m in request.messages if m.role == "system"]
    body: dict[str, Any] = {"model": model.split("/", 1)[1],
                            "max_tokens": p.max_tokens if p.max_tokens is not None else DEFAULT_MAX_TOKENS,
                            "messages": [{"role": m.role, "content": m.content}
                                         for m in request.messages if m.role != "system"]}
    if system:
        body["system"] = "\n".join(system)
    if p.temperature is not None:
        body["temperature"] = p.temperature
    if p.top_p is not None:
        body["top_p"] = p.top_p
    if p.top_k is not None and p.top_k > 0:
        body["top_k"] = p.top_k
    if p.stop:
        body["stop_sequences"] = list(p.stop)
    fmt = p.response_format
    if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
        native = _native_output_format(body["model"], fmt, schema)
        if native is not None:
            body["output_format"] = native
        else:
            body["tools"] = [{"name": JSON_TOOL, "input_schema": schema if isinstance(schema, dict) else
                              {"type": "object", "properties": {}, "additionalProperties": True}}]
            body["tool_choice"] = {"type": "tool", "name": JSON_TOOL}
    body.update(p.extra)  # provider parameters (--param), sent as LiteLLM passes them on
    return body


def _native_output_format(model: str, fmt: dict[str, Any], schema: Any) -> dict[str, Any] | None:
    """Anthropic's own structured output (`output_format`) where LiteLLM would send it for this
    model and schema (its decision and its schema filtering, so a batch asks exactly what a
    synchronous call asks); None: the forced `json_tool_call` tool, as LiteLLM does otherwise."""
    if not isinstance(schema, dict):
        return None
    from justeval.engine.pricing import load_litellm

    try:
        config = load_litellm().AnthropicConfig()
        if not config.uses_native_structured_output_for_schema(model, schema, {}):
            return None
        made = config.map_response_format_to_anthropic_output_format(fmt)
    except Exception:  # a LiteLLM without these helpers: the tool works on every Claude model
        return None
    return dict(made) if made else None


def parse_message(message: dict[str, Any]) -> Completion:
    """A Messages API reply -> Completion (the text blocks joined, or the forced tool's input)."""
    blocks = message.get("content")
    if not isinstance(blocks, list):
        raise BackendError("reply has no content", retryable=False)
    texts = [b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text"
             and isinstance(b.get("text"), str)]
    tools = [b for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use" and b.get("name") == JSON_TOOL]
    if tools:
        text = json.dumps(tools[0].get("input"), ensure_ascii=False)
    elif texts:
        text = "".join(texts)
    else:
        raise BackendError(f"reply has no text (stop_reason {message.get('stop_reason')})", retryable=False)
    raw = _dict(message.get("usage"))
    read = int(raw.get("cache_read_input_tokens") or 0)
    written = int(raw.get("cache_creation_input_tokens") or 0)
    usage = Usage(prompt_tokens=int(raw.get("input_tokens") or 0) + read + written,
                  completion_tokens=int(raw.get("output_tokens") or 0), cached_tokens=read)
    stop = message.get("stop_reason")
    model = message.get("model")
    return Completion(text=text, usage=usage, finish_reason=FINISH.get(stop, stop) if isinstance(stop, str) else None,
                      model=model if isinstance(model, str) else None)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _epoch(value: Any) -> float | None:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value:
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def batch_info(data: dict[str, Any]) -> BatchInfo:
    """An Anthropic message batch in the engine's terms: `ended` becomes `cancelled` when a
    cancel was asked for, `expired` when nothing but expiry happened, else `completed`."""
    counts = _dict(data.get("request_counts"))
    n = {k: int(counts.get(k) or 0) for k in ("processing", "succeeded", "errored", "canceled", "expired")}
    state = data.get("processing_status")
    ended = _epoch(data.get("ended_at"))
    times: dict[str, float | None] = {}
    if state == "ended":
        if data.get("cancel_initiated_at") or n["canceled"]:
            status, times["cancelled_at"] = "cancelled", ended
        elif n["expired"] and not (n["succeeded"] or n["errored"]):
            status, times["expired_at"] = "expired", ended
        else:
            status, times["completed_at"] = "completed", ended
    else:
        status = "cancelling" if state == "canceling" else "in_progress"
    return BatchInfo(id=str(data.get("id") or ""), status=status, input_file_id="",
                     output_file_id=data.get("results_url") or None, created_at=_epoch(data.get("created_at")),
                     request_counts=RequestCounts(total=sum(n.values()), completed=n["succeeded"],
                                                  failed=n["errored"] + n["canceled"] + n["expired"]),
                     **times)


class AnthropicBatchAPI(BatchAPI):
    """The Message Batches API at the backend's base URL (default api.anthropic.com)."""

    local_upload = True

    def __init__(self, backend: LiteLLMBackend) -> None:
        self.backend = backend
        base = backend.base_url or os.environ.get("ANTHROPIC_API_BASE") or os.environ.get("ANTHROPIC_BASE_URL") \
            or DEFAULT_BASE
        base = base.rstrip("/")
        for tail in ("/v1/messages", "/v1"):  # LiteLLM takes the base with or without these
            if base.endswith(tail):
                base = base[: -len(tail)]
                break
        self.base = base
        self.folder: Path | None = None
        self._session: aiohttp.ClientSession | None = None

    # -- HTTP -----------------------------------------------------------------------------
    def _headers(self, beta: str | None = None) -> dict[str, str]:
        headers = {"anthropic-version": API_VERSION, "content-type": "application/json"}
        if beta:
            headers["anthropic-beta"] = beta
        key = self.backend.api_key() or os.environ.get("ANTHROPIC_API_KEY")
        if key:
            headers["x-api-key"] = key
        return headers

    async def _call(self, method: str, url: str, body: Any = None, *, raw: bool = False,
                    beta: str | None = None) -> Any:
        import aiohttp

        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        try:
            async with self._session.request(method, url, headers=self._headers(beta),
                                             data=None if body is None else json.dumps(body, ensure_ascii=False)
                                             .encode("utf-8")) as response:
                data = await response.read()
                if response.status >= 400:
                    raise _http_error(response.status, data, response.headers)
        except aiohttp.ClientConnectionError as exc:
            raise BackendError(f"cannot reach {self.base}: {exc}", retryable=True, failure="connection") from exc
        except TimeoutError as exc:
            raise BackendError(f"no answer from {self.base}", retryable=True, failure="timeout") from exc
        if raw:
            return data
        try:
            return json.loads(data)
        except ValueError as exc:
            raise BackendError(f"{url}: the answer is not JSON", retryable=True) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- the BatchAPI ---------------------------------------------------------------------
    def keep_inputs_in(self, folder: Path) -> None:
        self.folder = Path(folder) / INPUTS_FOLDER

    def _input_path(self, file_id: str) -> Path:
        if self.folder is None:
            raise BackendError("no folder to keep the batch's requests in", retryable=False)
        if not re.fullmatch(r"local-[0-9a-f]{32}", file_id):  # the name is part of a path
            raise BackendError(f"{file_id!r} is not a batch input kept by justeval", retryable=False)
        return self.folder / f"{file_id}.jsonl"

    def line(self, custom_id: str, request: Request) -> tuple[str, bytes]:
        if not _CUSTOM_ID.match(custom_id):  # the runner's ids are hex digests; Anthropic allows 64 of [\w-]
            raise BackendError(f"custom id {custom_id!r} is not one Anthropic accepts", retryable=False)
        text = json.dumps({"custom_id": custom_id, "params": message_params(self.backend.model, request)},
                          ensure_ascii=False, separators=(",", ":"))
        return ENDPOINT, text.encode("utf-8") + b"\n"

    async def upload(self, data: bytes, filename: str) -> str:
        file_id = "local-" + hashlib.sha256(data).hexdigest()[:32]
        path = self._input_path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except OSError as exc:
            raise BackendError(f"cannot keep the batch's requests in {path}: {exc}", retryable=False) from exc
        return file_id

    def _requests(self, file_id: str) -> list[dict[str, Any]]:
        path = self._input_path(file_id)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise BackendError(f"the requests of batch input {file_id} are no longer in {path}: they are sent "
                               "again in a new batch", retryable=False) from exc
        return [json.loads(x) for x in text.splitlines() if x.strip()]

    async def create(self, file_id: str, endpoint: str, *, window: str, metadata: dict[str, str]) -> BatchInfo:
        # Anthropic has no completion window (a batch ends within 24 h) and no metadata
        requests = self._requests(file_id)
        beta = STRUCTURED_OUTPUTS_BETA if any("output_format" in (r.get("params") or {}) for r in requests) else None
        made = await self._call("POST", self.base + ENDPOINT, {"requests": requests}, beta=beta)
        return batch_info(made)

    def forget(self, file_id: str) -> None:
        if self.folder is not None:
            with contextlib.suppress(OSError, BackendError):
                self._input_path(file_id).unlink()

    async def retrieve(self, batch_id: str) -> BatchInfo:
        return batch_info(await self._call("GET", f"{self.base}{ENDPOINT}/{batch_id}"))

    async def find(self, file_id: str) -> BatchInfo | None:
        path = self._input_path(file_id)
        try:
            kept_at = path.stat().st_mtime
            count = sum(1 for x in path.read_bytes().splitlines() if x.strip())
        except OSError:
            return None
        best: dict[str, Any] | None = None
        seen = 0
        after: str | None = None
        while seen < _FIND_LIMIT:
            url = f"{self.base}{ENDPOINT}?limit=100" + (f"&after_id={after}" if after else "")
            page = await self._call("GET", url)
            rows = [b for b in page.get("data") or [] if isinstance(b, dict)]
            for batch in rows:  # newest first
                seen += 1
                made = _epoch(batch.get("created_at")) or 0.0
                if made < kept_at - _SKEW_S:
                    return batch_info(best) if best is not None else None
                if batch_info(batch).request_counts.total == count:  # type: ignore[union-attr]
                    best = batch  # keep going: the earliest match after the lines were kept
            if not page.get("has_more") or not rows:
                break
            after = str(page.get("last_id") or rows[-1].get("id"))
        return batch_info(best) if best is not None else None

    async def download(self, file_id: str) -> bytes:
        """The batch's `results_url`, always fetched from the configured server's host: the API
        key is never sent to another host that a reply names."""
        parts, ours = urlsplit(file_id), urlsplit(self.base)
        url = file_id
        if (parts.scheme, parts.netloc) != (ours.scheme, ours.netloc):
            url = f"{ours.scheme}://{ours.netloc}{parts.path}" + (f"?{parts.query}" if parts.query else "")
        return bytes(await self._call("GET", url, raw=True))

    async def cancel(self, batch_id: str) -> BatchInfo:
        return batch_info(await self._call("POST", f"{self.base}{ENDPOINT}/{batch_id}/cancel"))

    def parse_line(self, endpoint: str, obj: dict[str, Any]) -> ItemOutcome:
        custom_id = str(obj.get("custom_id") or "")
        result = _dict(obj.get("result"))
        kind = result.get("type")
        if kind == "succeeded" and isinstance(result.get("message"), dict):
            try:
                return ItemOutcome(custom_id, completion=parse_message(result["message"]))
            except BackendError as exc:
                return ItemOutcome(custom_id, error=str(exc), status=200)
        if kind == "canceled":
            return ItemOutcome(custom_id, error="batch_cancelled: the batch was cancelled first",
                               code="batch_cancelled")
        if kind == "expired":
            return ItemOutcome(custom_id, error="batch_expired: the batch ended (24 h) before this request",
                               code="batch_expired")
        if kind == "errored":
            err = _dict(result.get("error"))
            inner = _dict(err.get("error")) or err  # {"type": "error", "error": {..}}
            etype = str(inner.get("type") or "error")
            status = ERROR_STATUS.get(etype, 500 if "overload" in etype else 400)
            return ItemOutcome(custom_id, error=f"HTTP {status}: {etype}: {inner.get('message') or ''}".strip(),
                               status=status, code=etype)
        return ItemOutcome(custom_id, error=f"batch result of an unknown type {kind!r}")


def _http_error(status: int, data: bytes, headers: Any) -> BackendError:
    message = data[:300].decode("utf-8", "replace")
    with contextlib.suppress(ValueError, AttributeError):
        err = json.loads(data).get("error") or {}
        message = f"{err.get('type') or 'error'}: {err.get('message') or ''}".strip()
    return BackendError(f"HTTP {status}: {message}", retryable=is_retryable_status(status), status=status,
                        retry_after=parse_retry_after(headers),
                        failure="gateway" if status in (502, 503, 504) else None)

