"""A real loopback server speaking the OpenAI Files + Batches API, for batch-mode tests and
benchmarks: the real SDK uploads, creates, polls and downloads against it.

It is a `StubServer` (so it also answers ordinary calls, for the synchronous fallback) that adds
`POST /v1/files`, `GET /v1/files/{id}/content`, `POST /v1/batches`, `GET /v1/batches[/{id}]` and
`POST /v1/batches/{id}/cancel`. Each line of a batch is answered by the same `responder` as an
ordinary call. What happens to each batch is scripted with `BatchPlan`s, taken in creation
order (`plans`), else `default_plan`: complete, fail some lines, expire or be cancelled half way,
or fail as a whole. `create_delay_s` answers a create request late (after the batch exists),
to test a client killed during the call. Everything is recorded: `batches`, `files`, and
`batched` (how many times each custom id was put in a created batch).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from justeval.testing.stub_server import Reply, StubRequest, StubServer, completion_body

Outcome = Literal["complete", "expire", "cancel", "fail"]


@dataclass
class BatchPlan:
    """What the server does with one batch.

    `outcome`: `complete`; `expire` / `cancel` after `done_fraction` of its lines (the rest get
    `batch_expired` / `batch_cancelled`); `fail` (the whole batch fails validation, no lines).
    `fail_every`: every Nth line (1-based) is answered with HTTP `fail_status` instead.
    `processing_s`: time from creation to the end.
    """

    outcome: Outcome = "complete"
    fail_every: int = 0
    fail_status: int = 500
    done_fraction: float = 0.5
    processing_s: float = 0.05


@dataclass
class _Batch:
    data: dict[str, Any]
    plan: BatchPlan
    lines: list[dict[str, Any]] = field(default_factory=list)


class BatchServer(StubServer):
    """`with BatchServer() as srv:` serves the Batch API at `srv.base_url`."""

    def __init__(self, *args: Any, default_plan: BatchPlan | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default_plan = default_plan or BatchPlan()
        self.plans: deque[BatchPlan] = deque()
        self.create_delay_s = 0.0
        self.files: dict[str, bytes] = {}
        self.file_names: dict[str, str] = {}
        self.batches: dict[str, _Batch] = {}
        self.batched: Counter[str] = Counter()
        self.control_calls: Counter[str] = Counter()
        self._serial = 0
        self._batch_lock = threading.Lock()
        self._processing: set[asyncio.Task[None]] = set()

    def _routes(self, app: web.Application) -> None:
        super()._routes(app)
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{file_id}/content", self._content)
        app.router.add_post("/v1/batches", self._create)
        app.router.add_get("/v1/batches", self._list)
        app.router.add_get("/v1/batches/{batch_id}", self._retrieve)
        app.router.add_post("/v1/batches/{batch_id}/cancel", self._cancel)

    def _next_id(self, prefix: str) -> str:
        with self._batch_lock:
            self._serial += 1
            return f"{prefix}-{self._serial:05d}"

    # -- files ----------------------------------------------------------------------------
    async def _upload(self, request: web.Request) -> web.Response:
        self.control_calls["upload"] += 1
        form = await request.post()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "file"):
            return web.json_response({"error": {"message": "no file"}}, status=400)
        data = upload.file.read()
        file_id = self._next_id("file")
        self.files[file_id] = data
        self.file_names[file_id] = str(getattr(upload, "filename", "upload"))
        return web.json_response({"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                                  "filename": self.file_names[file_id], "purpose": str(form.get("purpose", "batch")),
                                  "status": "processed"})

    def _store(self, lines: list[dict[str, Any]]) -> str | None:
        if not lines:
            return None
        file_id = self._next_id("file")
        self.files[file_id] = "".join(json.dumps(x) + "\n" for x in lines).encode("utf-8")
        return file_id

    async def _content(self, request: web.Request) -> web.Response:
        self.control_calls["download"] += 1
        data = self.files.get(request.match_info["file_id"])
        if data is None:
            return web.json_response({"error": {"message": "no such file"}}, status=404)
        return web.Response(body=data, content_type="application/octet-stream")

    # -- batches --------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        self.control_calls["create"] += 1
        body = await request.json()
        file_id = str(body.get("input_file_id"))
        if file_id not in self.files:
            return web.json_response({"error": {"message": f"no file {file_id}"}}, status=400)
        lines = [json.loads(x) for x in self.files[file_id].decode("utf-8").splitlines() if x.strip()]
        batch_id = self._next_id("batch")
        now = int(time.time())
        with self._batch_lock:
            plan = self.plans.popleft() if self.plans else self.default_plan
        data: dict[str, Any] = {
            "id": batch_id, "object": "batch", "endpoint": body.get("endpoint"), "errors": None,
            "input_file_id": file_id, "completion_window": body.get("completion_window", "24h"),
            "status": "validating", "output_file_id": None, "error_file_id": None, "created_at": now,
            "in_progress_at": None, "expires_at": now + 86400, "finalizing_at": None, "completed_at": None,
            "failed_at": None, "expired_at": None, "cancelling_at": None, "cancelled_at": None,
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "metadata": body.get("metadata")}
        batch = _Batch(data=data, plan=plan, lines=lines)
        self.batches[batch_id] = batch
        for line in lines:
            self.batched[str(line.get("custom_id"))] += 1
        self._processing.add(task := asyncio.ensure_future(self._process(batch)))
        task.add_done_callback(self._processing.discard)
        if self.create_delay_s:
            await asyncio.sleep(self.create_delay_s)  # the batch exists; the answer comes late
        return web.json_response(data)

    async def _retrieve(self, request: web.Request) -> web.Response:
        self.control_calls["retrieve"] += 1
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        return web.json_response(batch.data)

    async def _list(self, request: web.Request) -> web.Response:
        self.control_calls["list"] += 1
        items = [b.data for b in reversed(list(self.batches.values()))]  # newest first, as OpenAI lists them
        after = request.query.get("after")
        if after:
            ids = [b["id"] for b in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query.get("limit", "20"))
        page = items[:limit]
        return web.json_response({"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                                  "last_id": page[-1]["id"] if page else None, "has_more": len(items) > limit})

    async def _cancel(self, request: web.Request) -> web.Response:
        self.control_calls["cancel"] += 1
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return web.json_response({"error": {"message": "no such batch"}}, status=404)
        batch.plan = BatchPlan(outcome="cancel", done_fraction=0.0, processing_s=0.0)
        batch.data["status"] = "cancelling"
        return web.json_response(batch.data)

    # -- processing -------------------------------------------------------------------------
    async def _process(self, batch: _Batch) -> None:
        data, plan = batch.data, batch.plan
        await asyncio.sleep(plan.processing_s / 4)
        if plan.outcome == "fail":
            data.update(status="failed", failed_at=int(time.time()),
                        errors={"object": "list", "data": [{"code": "invalid_request", "line": None,
                                                             "message": "the stub was told to fail this batch"}]})
            return
        data.update(status="in_progress", in_progress_at=int(time.time()))
        await asyncio.sleep(plan.processing_s * 3 / 4)
        stop_at = len(batch.lines)
        if plan.outcome in ("expire", "cancel"):
            stop_at = int(len(batch.lines) * plan.done_fraction)
        out: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for n, line in enumerate(batch.lines, start=1):
            custom_id = line.get("custom_id")
            if batch.plan.outcome == "cancel" and batch.data["status"] == "cancelling":
                stop_at = min(stop_at, int(len(batch.lines) * batch.plan.done_fraction))
            if n > stop_at:
                code = "batch_expired" if plan.outcome == "expire" else "batch_cancelled"
                errors.append({"id": f"req-{n}", "custom_id": custom_id, "response": None,
                               "error": {"code": code, "message": f"not done: {code}"}})
                continue
            req = StubRequest(path=str(line.get("url", "/v1/chat/completions")), body=line.get("body") or {},
                              headers={})
            reply = Reply(status=plan.fail_status, text="stub batch line failure") \
                if plan.fail_every and n % plan.fail_every == 0 else self._next_reply(req)
            if reply.status != 200:
                errors.append({"id": f"req-{n}", "custom_id": custom_id, "error": None,
                               "response": {"status_code": reply.status, "request_id": f"r{n}",
                                            "body": {"error": {"message": reply.text or "error",
                                                               "type": "stub_error"}}}})
            else:
                out.append({"id": f"req-{n}", "custom_id": custom_id, "error": None,
                            "response": {"status_code": 200, "request_id": f"r{n}",
                                         "body": completion_body(req, reply, n)}})
        now = int(time.time())
        status = {"complete": "completed", "expire": "expired", "cancel": "cancelled"}[plan.outcome] \
            if batch.data["status"] != "cancelling" else "cancelled"
        data.update(status=status, output_file_id=self._store(out), error_file_id=self._store(errors),
                    finalizing_at=now,
                    request_counts={"total": len(batch.lines), "completed": len(out), "failed": len(errors)})
        data[{"completed": "completed_at", "expired": "expired_at", "cancelled": "cancelled_at"}[status]] = now
