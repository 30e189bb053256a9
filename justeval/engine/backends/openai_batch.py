"""The OpenAI Batch API (`/v1/files` + `/v1/batches`) for an `openai:` backend, through the
same SDK client (its auth, headers and our aiohttp transport) as the backend's calls.

Each line of the input file is the very body an ordinary call would send (`build_payload`), and
each reply line is read by the very function that reads an ordinary reply (`parse_response`),
so a batch result is the same record as a synchronous one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from justeval.engine.backends.openai_backend import build_payload, map_exception, parse_response
from justeval.engine.batch_api import BatchAPI, BatchInfo, ItemOutcome
from justeval.engine.types import BackendError, Request

if TYPE_CHECKING:
    from justeval.engine.backends.openai_backend import OpenAIBackend

_PATHS = {"chat": "/v1/chat/completions", "completions": "/v1/completions"}
#: batches looked through to find one created from a given file (newest first)
_FIND_LIMIT = 1000


class OpenAIBatchAPI(BatchAPI):
    def __init__(self, backend: OpenAIBackend) -> None:
        self.backend = backend

    async def _sdk(self, call: Any) -> Any:
        import openai

        try:
            return await call
        except openai.OpenAIError as exc:
            raise map_exception(exc) from exc

    def line(self, custom_id: str, request: Request) -> tuple[str, bytes]:
        endpoint, body = build_payload(self.backend.model, request, completion=self.backend.completion)
        path = _PATHS[endpoint]
        text = json.dumps({"custom_id": custom_id, "method": "POST", "url": path, "body": body},
                          ensure_ascii=False, separators=(",", ":"))
        return path, text.encode("utf-8") + b"\n"

    async def upload(self, data: bytes, filename: str) -> str:
        client = self.backend.client()
        made = await self._sdk(client.files.create(file=(filename, data, "application/jsonl"), purpose="batch"))
        return str(made.id)

    async def create(self, file_id: str, endpoint: str, *, window: str, metadata: dict[str, str]) -> BatchInfo:
        client = self.backend.client()
        made = await self._sdk(client.batches.create(input_file_id=file_id, endpoint=endpoint,
                                                     completion_window=window, metadata=metadata))
        return BatchInfo.model_validate(made.model_dump())

    async def retrieve(self, batch_id: str) -> BatchInfo:
        found = await self._sdk(self.backend.client().batches.retrieve(batch_id))
        return BatchInfo.model_validate(found.model_dump())

    async def find(self, file_id: str) -> BatchInfo | None:
        import openai

        seen = 0
        try:
            async for batch in self.backend.client().batches.list(limit=100):
                if batch.input_file_id == file_id:
                    return BatchInfo.model_validate(batch.model_dump())
                seen += 1
                if seen >= _FIND_LIMIT:
                    break
        except openai.OpenAIError as exc:
            raise map_exception(exc) from exc
        return None

    async def download(self, file_id: str) -> bytes:
        content = await self._sdk(self.backend.client().files.content(file_id))
        return bytes(content.content)

    async def cancel(self, batch_id: str) -> BatchInfo:
        done = await self._sdk(self.backend.client().batches.cancel(batch_id))
        return BatchInfo.model_validate(done.model_dump())

    def parse_line(self, endpoint: str, obj: dict[str, Any]) -> ItemOutcome:
        custom_id = str(obj.get("custom_id") or "")
        response = obj.get("response") if isinstance(obj.get("response"), dict) else None
        error = obj.get("error") if isinstance(obj.get("error"), dict) else None
        kind = "completions" if endpoint.endswith("/v1/completions") else "chat"
        if response is not None:
            status = response.get("status_code")
            status = status if isinstance(status, int) else None
            body = response.get("body")
            if status == 200 and isinstance(body, dict):
                try:
                    return ItemOutcome(custom_id, completion=parse_response(kind, body))  # type: ignore[arg-type]
                except BackendError as exc:
                    return ItemOutcome(custom_id, error=str(exc), status=status)
            message = _message(body) or (error or {}).get("message") or f"HTTP {status}"
            return ItemOutcome(custom_id, error=f"HTTP {status}: {message}", status=status,
                               code=(error or {}).get("code"))
        if error is not None:
            code = str(error.get("code") or "error")
            return ItemOutcome(custom_id, error=f"{code}: {error.get('message') or ''}".strip(), code=code)
        return ItemOutcome(custom_id, error="batch line without a response or an error")


def _message(body: Any) -> str | None:
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return None

