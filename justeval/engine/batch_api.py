"""The provider batch interface the engine's batch mode talks to: upload a JSONL file of
requests, create a batch over it, look at it, download its output and error files.

Two implementations: `justeval.engine.backends.openai_batch.OpenAIBatchAPI` (the OpenAI Batch
API, which OpenAI-compatible providers copy) and
`justeval.engine.backends.anthropic_batch.AnthropicBatchAPI` (Anthropic's Message Batches, which
take their requests inline: its "upload" keeps the lines in the run directory). The types here
are the provider-neutral view the runner (`justeval.engine.batch`) needs.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from justeval.engine.types import Completion, Request

#: statuses after which a batch changes no more
TERMINAL_STATUSES = frozenset({"completed", "failed", "expired", "cancelled"})


class RequestCounts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    total: int = 0
    completed: int = 0
    failed: int = 0


class BatchInfo(BaseModel):
    """A batch as the provider describes it (the fields the runner reads)."""

    model_config = ConfigDict(extra="ignore")

    id: str
    status: str
    input_file_id: str
    output_file_id: str | None = None
    error_file_id: str | None = None
    created_at: float | None = None
    in_progress_at: float | None = None
    completed_at: float | None = None
    failed_at: float | None = None
    expired_at: float | None = None
    cancelled_at: float | None = None
    request_counts: RequestCounts | None = None
    errors: Any = None
    metadata: dict[str, Any] | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def ended_at(self) -> float | None:
        return self.completed_at or self.expired_at or self.cancelled_at or self.failed_at

    def error_text(self) -> str:
        """The provider's reasons for a failed batch, in one line."""
        data = self.errors.get("data") if isinstance(self.errors, dict) else None
        if isinstance(data, list) and data:
            parts = [f"{e.get('code') or 'error'}: {e.get('message') or ''}".strip() for e in data[:3]
                     if isinstance(e, dict)]
            return "; ".join(parts)
        return f"batch {self.status}"


@dataclass
class ItemOutcome:
    """One line of a batch's output or error file. `completion` is set for a reply the model
    gave (HTTP 200); otherwise `error` says why, `status` is the per-request HTTP status and
    `code` the provider's error code (`batch_expired`, `batch_cancelled`, ...)."""

    custom_id: str
    completion: Completion | None = None
    error: str | None = None
    status: int | None = None
    code: str | None = None

    @property
    def retryable(self) -> bool:
        """A failure worth a new try: the batch expired first, a rate limit, a server error."""
        from justeval.engine.httperrors import is_retryable_status

        if self.code == "batch_expired":
            return True
        return self.status is not None and is_retryable_status(self.status)

    @property
    def cancelled(self) -> bool:
        return self.code == "batch_cancelled"


class BatchAPI(abc.ABC):
    """The calls of a provider's batch interface (each raises BackendError on failure)."""

    #: `upload` only writes a local file (the provider takes requests inline): not a call to
    #: count in `RunSummary.calls` or to retry
    local_upload: bool = False

    @abc.abstractmethod
    def line(self, custom_id: str, request: Request) -> tuple[str, bytes]:
        """(the endpoint path the batch must name, one JSONL line) for a request."""

    def keep_inputs_in(self, folder: Path) -> None:  # noqa: B027 - optional hook
        """The run directory, for a provider without file uploads to keep its batch inputs in
        until the batch made from them is recorded."""

    def forget(self, file_id: str) -> None:  # noqa: B027 - optional hook
        """The batch made from this input is recorded (or was refused): a kept input may go."""

    @abc.abstractmethod
    async def upload(self, data: bytes, filename: str) -> str:
        """Upload a batch input file; its file id."""

    @abc.abstractmethod
    async def create(self, file_id: str, endpoint: str, *, window: str, metadata: dict[str, str]) -> BatchInfo:
        """Create a batch over an uploaded file."""

    @abc.abstractmethod
    async def retrieve(self, batch_id: str) -> BatchInfo:
        """The batch's current state."""

    @abc.abstractmethod
    async def find(self, file_id: str) -> BatchInfo | None:
        """A batch created from this input file, if any (to adopt one whose creation was
        requested but not recorded before the process died)."""

    @abc.abstractmethod
    async def download(self, file_id: str) -> bytes:
        """The content of an output or error file."""

    @abc.abstractmethod
    async def cancel(self, batch_id: str) -> BatchInfo:
        """Ask the provider to stop a batch."""

    @abc.abstractmethod
    def parse_line(self, endpoint: str, obj: dict[str, Any]) -> ItemOutcome:
        """One line of an output or error file of a batch on `endpoint`."""
