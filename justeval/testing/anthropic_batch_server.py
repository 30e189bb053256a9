"""A real loopback server speaking Anthropic's Messages and Message Batches API, for tests and
benchmarks of batch mode on `litellm:anthropic/MODEL` backends.

It serves `POST /v1/messages` (the synchronous call LiteLLM makes, also the batch runner's sync
fallback), and `POST /v1/messages/batches`, `GET /v1/messages/batches[/{id}]`,
`GET /v1/messages/batches/{id}/results` (the batch's `results_url`, JSONL) and
`POST /v1/messages/batches/{id}/cancel`. Requests without an `anthropic-version` header or an
`x-api-key` are refused, as Anthropic does. Each request is answered by a `responder` that sees it
as an OpenAI-style chat request (system message first; the Anthropic body under `params`), so the
stub responders of the other servers work here too; a request that forces the `json_tool_call`
tool gets the reply's JSON as that tool's input. What happens to each batch is scripted with
`AnthropicBatchPlan`s, taken in creation order (`plans`), else `default_plan`. Everything is
recorded: `requests` (every call, with its headers), `batch_bodies` (the body of each create),
`batches`, and `batched` (how many times each custom id was put in a created batch).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from aiohttp import web

from justeval.testing.stub_server import Reply, StubRequest, StubServer

Outcome = Literal["complete", "expire", "cancel"]


@dataclass
class AnthropicBatchPlan:
    """What the server does with one batch.

    `outcome`: `complete`, or `expire` / `cancel` after `done_fraction` of its requests (the rest
    are `expired` / `canceled`). `errored_every`: every Nth request (1-based) is `errored` with
    Anthropic error type `error_type`. `processing_s`: time from creation to the end.
    """

    outcome: Outcome = "complete"
    errored_every: int = 0
    error_type: str = "overloaded_error"
    done_fraction: float = 0.5
    processing_s: float = 0.05


@dataclass
class _Batch:
    data: dict[str, Any]
    plan: AnthropicBatchPlan
    requests: list[dict[str, Any]]
    results: list[dict[str, Any]] = field(default_factory=list)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


class AnthropicBatchServer(StubServer):
    """`with AnthropicBatchServer(responder) as srv:` serves the API at `srv.root` (the base URL
    to give `--base-url`)."""

    def __init__(self, *args: Any, default_plan: AnthropicBatchPlan | None = None,
                 cache_read_tokens: int = 0, results_root: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.results_root = results_root  # another host to name in results_url (a hostile reply)
        self.default_plan = default_plan or AnthropicBatchPlan()
        self.plans: deque[AnthropicBatchPlan] = deque()
        self.cache_read_tokens = cache_read_tokens
        self.batch_bodies: list[dict[str, Any]] = []
        self.batches: dict[str, _Batch] = {}
        self.batched: Counter[str] = Counter()
        self.control_calls: Counter[str] = Counter()
        self._serial = 0
        self._batch_lock = threading.Lock()
        self._processing: set[asyncio.Task[None]] = set()

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._message)
        app.router.add_post("/v1/messages/batches", self._create)
        app.router.add_get("/v1/messages/batches", self._list)
        app.router.add_get("/v1/messages/batches/{batch_id}", self._retrieve)
        app.router.add_get("/v1/messages/batches/{batch_id}/results", self._results)
        app.router.add_post("/v1/messages/batches/{batch_id}/cancel", self._cancel)

    def _next_id(self, prefix: str) -> str:
        with self._batch_lock:
            self._serial += 1
            return f"{prefix}_{self._serial:05d}"

    @staticmethod
    def _refused(request: web.Request) -> web.Response | None:
        if not request.headers.get("anthropic-version"):
            return _error(400, "invalid_request_error", "anthropic-version: header is required")
        if not request.headers.get("x-api-key"):
            return _error(401, "authentication_error", "x-api-key header is required")
        return None

    def _record(self, request: web.Request, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(StubRequest(path=request.path, body=body, headers=dict(request.headers)))

    # -- answering one request ------------------------------------------------------------
    def _answer(self, params: dict[str, Any], serial: int) -> tuple[int, dict[str, Any]]:
        """(HTTP status, Messages API body or error body) for one request's params."""
        if not params.get("model") or not isinstance(params.get("max_tokens"), int) or not params.get("messages"):
            return 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                    "message": "model, max_tokens and messages are required"}}
        if any(m.get("role") == "system" for m in params["messages"]):
            return 400, {"type": "error", "error": {"type": "invalid_request_error",
                                                    "message": "messages: system is not a message role"}}
        messages = ([{"role": "system", "content": _text(params["system"])}] if params.get("system") else []) + \
            [{"role": m.get("role"), "content": _text(m.get("content"))} for m in params["messages"]]
        req = StubRequest(path="/v1/messages", body={"model": params["model"], "messages": messages, "params": params},
                          headers={})
        reply: Reply = self._next_reply(req)
        if reply.status != 200:
            return reply.status, {"type": "error", "error": {"type": "api_error", "message": reply.text or "error"}}
        forced = (params.get("tool_choice") or {}).get("name")
        if forced:
            content = [{"type": "tool_use", "id": f"toolu_{serial}", "name": forced, "input": json.loads(reply.text)}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": reply.text}]
            stop = {"stop": "end_turn", "length": "max_tokens"}.get(reply.finish_reason, reply.finish_reason)
        given = reply.usage or {}  # the responder's own count, else about one token per four characters
        prompt = int(given.get("prompt_tokens") or max(1, len(json.dumps(messages)) // 4))
        output = int(given.get("completion_tokens") or max(1, len(reply.text) // 4))
        read = min(self.cache_read_tokens, prompt)
        return 200, {"id": f"msg_{serial:05d}", "type": "message", "role": "assistant", "model": params["model"],
                     "content": content, "stop_reason": stop, "stop_sequence": None,
                     "usage": {"input_tokens": prompt - read, "output_tokens": output,
                               "cache_read_input_tokens": read, "cache_creation_input_tokens": 0}}

    async def _message(self, request: web.Request) -> web.Response:
        body = await request.json()
        self._record(request, body)
        if (refused := self._refused(request)) is not None:
            return refused
        status, answer = self._answer(body, len(self.requests))
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        return web.json_response(answer, status=status)

    # -- batches --------------------------------------------------------------------------
    async def _create(self, request: web.Request) -> web.Response:
        self.control_calls["create"] += 1
        body = await request.json()
        self._record(request, body)
        if (refused := self._refused(request)) is not None:
            return refused
        items = body.get("requests")
        if not isinstance(items, list) or not items:
            return _error(400, "invalid_request_error", "requests: a non-empty list is required")
        ids = [r.get("custom_id") for r in items if isinstance(r, dict)]
        if len(ids) != len(items) or len(set(ids)) != len(ids) or not all(isinstance(i, str) and i for i in ids):
            return _error(400, "invalid_request_error", "requests: each needs a unique custom_id")
        self.batch_bodies.append(body)
        batch_id = self._next_id("msgbatch")
        now = time.time()
        with self._batch_lock:
            plan = self.plans.popleft() if self.plans else self.default_plan
        data: dict[str, Any] = {
            "id": batch_id, "type": "message_batch", "processing_status": "in_progress",
            "request_counts": {"processing": len(items), "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0},
            "ended_at": None, "created_at": _iso(now), "expires_at": _iso(now + 86400), "archived_at": None,
            "cancel_initiated_at": None, "results_url": None}
        batch = _Batch(data=data, plan=plan, requests=items)
        self.batches[batch_id] = batch
        for custom_id in ids:
            self.batched[str(custom_id)] += 1
        self._processing.add(task := asyncio.ensure_future(self._process(batch)))
        task.add_done_callback(self._processing.discard)
        return web.json_response(data)

    async def _retrieve(self, request: web.Request) -> web.Response:
        self.control_calls["retrieve"] += 1
        if (refused := self._refused(request)) is not None:
            return refused
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _error(404, "not_found_error", "no such batch")
        return web.json_response(batch.data)

    async def _list(self, request: web.Request) -> web.Response:
        self.control_calls["list"] += 1
        if (refused := self._refused(request)) is not None:
            return refused
        items = [b.data for b in reversed(list(self.batches.values()))]  # newest first, as Anthropic lists them
        after = request.query.get("after_id")
        if after:
            ids = [b["id"] for b in items]
            items = items[ids.index(after) + 1:] if after in ids else []
        limit = int(request.query.get("limit", "20"))
        page = items[:limit]
        return web.json_response({"data": page, "has_more": len(items) > limit,
                                  "first_id": page[0]["id"] if page else None,
                                  "last_id": page[-1]["id"] if page else None})

    async def _results(self, request: web.Request) -> web.Response:
        self.control_calls["results"] += 1
        if (refused := self._refused(request)) is not None:
            return refused
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None or batch.data["processing_status"] != "ended":
            return _error(404, "not_found_error", "no results (yet) for this batch")
        text = "".join(json.dumps(r) + "\n" for r in batch.results)
        return web.Response(body=text.encode("utf-8"), content_type="application/binary")

    async def _cancel(self, request: web.Request) -> web.Response:
        self.control_calls["cancel"] += 1
        if (refused := self._refused(request)) is not None:
            return refused
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _error(404, "not_found_error", "no such batch")
        if batch.data["processing_status"] == "in_progress":
            batch.plan = AnthropicBatchPlan(outcome="cancel", done_fraction=0.0, processing_s=0.0)
            batch.data.update(processing_status="canceling", cancel_initiated_at=_iso(time.time()))
        return web.json_response(batch.data)

    # -- processing ---------------------------------------------------------------------------
    async def _process(self, batch: _Batch) -> None:
        await asyncio.sleep(batch.plan.processing_s)
        plan = batch.plan  # a cancel while waiting replaces it
        stop_at = len(batch.requests)
        if plan.outcome in ("expire", "cancel"):
            stop_at = int(len(batch.requests) * plan.done_fraction)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        for n, item in enumerate(batch.requests, start=1):
            custom_id = item.get("custom_id")
            if n > stop_at:
                kind = "expired" if plan.outcome == "expire" else "canceled"
                counts[kind] += 1
                batch.results.append({"custom_id": custom_id, "result": {"type": kind}})
                continue
            if plan.errored_every and n % plan.errored_every == 0:
                counts["errored"] += 1
                batch.results.append({"custom_id": custom_id, "result": {"type": "errored", "error": {
                    "type": "error", "error": {"type": plan.error_type, "message": f"stub: {plan.error_type}"}}}})
                continue
            status, answer = self._answer(item.get("params") or {}, n)
            if status != 200:
                counts["errored"] += 1
                batch.results.append({"custom_id": custom_id, "result": {"type": "errored", "error": answer}})
            else:
                counts["succeeded"] += 1
                batch.results.append({"custom_id": custom_id, "result": {"type": "succeeded", "message": answer}})
        where = self.results_root or self.root
        batch.data.update(processing_status="ended", request_counts=counts, ended_at=_iso(time.time()),
                          results_url=f"{where}/v1/messages/batches/{batch.data['id']}/results")


def _error(status: int, kind: str, message: str) -> web.Response:
    return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)


def _text(content: Any) -> str:
    """A string, or the text blocks of a content list joined (LiteLLM sends lists)."""
    if isinstance(content, list):
        return "\n".join(str(b.get("text", "")) for b in content if isinstance(b, dict) and b.get("type") == "text")
    return str(content or "")
