"""A real OpenAI-compatible HTTP server on 127.0.0.1 with scripted replies, latency and faults.

Tests and benchmarks point the real clients at it, so request building, HTTP, retries and
parsing all run. It serves `POST /v1/chat/completions` and `POST /v1/completions` and
`GET /v1/models`, records every request (and, in `completed`, every reply written in full),
and tracks the peak number in flight. `kill()` makes it die as a killed process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """What the server answers to one request.

    `text` is the completion; `status` != 200 sends an OpenAI-style error body; `drop`
    closes the connection without answering; `delay` overrides the server's latency.
    """

    text: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float | None = None
    drop: bool = False
    finish_reason: str = "stop"
    usage: dict[str, Any] | None = None


@dataclass
class StubRequest:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def prompt_text(self) -> str:
        """The user-visible prompt: the last user message, or the completion prompt."""
        if "messages" in self.body:
            users = [m for m in self.body["messages"] if m.get("role") == "user"]
            return str(users[-1]["content"]) if users else ""
        return str(self.body.get("prompt", ""))


Responder = Callable[[StubRequest], Reply]


class InFlight:
    """Calls in flight over several servers together (pass one to each `StubServer`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def enter(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def leave(self) -> None:
        with self._lock:
            self.now -= 1


def echo_responder(req: StubRequest) -> Reply:
    return Reply(text=f"echo: {req.prompt_text}")


class StubServer:
    """Start with `with StubServer(...) as srv:`; `srv.base_url` is the `/v1` base URL."""

    def __init__(self, responder: Responder | None = None, *, latency: float = 0.0,
                 script: list[Reply] | None = None, port: int = 0, shared: InFlight | None = None) -> None:
        self.responder = responder or echo_responder
        self.latency = latency
        self.script: deque[Reply] = deque(script or [])
        self.requests: list[StubRequest] = []
        self.completed: list[StubRequest] = []  # replies written in full
        self.shared = shared
        self.killed = False
        self.hung = False
        self._release: asyncio.Event | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubServer:
        self._thread = threading.Thread(target=self._serve, name="stub-openai", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("stub server did not start")
        return self

    def hang(self) -> None:
        """Stop answering, like a stopped (SIGSTOP) process or a wedged server: connections are
        accepted and kept, nothing is answered, `/v1/models` included, until `stop()`."""
        with self._lock:
            self.hung = True

    async def _wait_while_hung(self) -> None:
        if self._release is None:
            self._release = asyncio.Event()
        await self._release.wait()

    def stop(self) -> None:
        if self._loop and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)
        if self._loop and self._runner:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def kill(self) -> None:
        """Die like a killed process: stop listening and abort every open connection at once
        (clients see resets and refusals); nothing more is answered or counted as completed."""
        with self._lock:
            self.killed = True
        if self._loop is None or self._runner is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._abort_all(), self._loop)
        fut.result(10)

    async def _abort_all(self) -> None:
        for site in list(self._runner.sites) if self._runner else []:
            server = getattr(site, "_server", None)
            if server is not None:
                server.close()
        handler_server = self._runner.server if self._runner else None
        for handler in list(getattr(handler_server, "connections", []) or []):
            transport = getattr(handler, "transport", None)
            if transport is not None:
                transport.abort()

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _routes(self, app: web.Application) -> None:
        """The endpoints served (a subclass adds its own)."""
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/v1/completions", self._handle)
        app.router.add_get("/v1/models", self._models)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=256 * 1024 * 1024)
        self._routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self._port, backlog=1024)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ready.set()
        loop.run_forever()
        loop.close()

    # -- counting ----------------------------------------------------------------
    @property
    def count(self) -> int:
        return len(self.requests)

    def count_for(self, predicate: Callable[[StubRequest], bool]) -> int:
        with self._lock:
            return sum(1 for r in self.requests if predicate(r))

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self.max_in_flight = 0

    # -- handlers ----------------------------------------------------------------
    async def _models(self, request: web.Request) -> web.Response:
        if self.hung:
            await self._wait_while_hung()
        if self.killed or self.hung:
            if request.transport is not None:
                request.transport.close()
            raise ConnectionResetError("killed")
        return web.json_response({"object": "list", "data": [{"id": "stub", "object": "model"}]})

    def _next_reply(self, req: StubRequest) -> Reply:
        with self._lock:
            if self.script:
                return self.script.popleft()
        return self.responder(req)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        req = StubRequest(path=request.path, body=body, headers=dict(request.headers))
        with self._lock:
            self.requests.append(req)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.shared is not None:
            self.shared.enter()
        try:
            reply = self._next_reply(req)
            delay = self.latency if reply.delay is None else reply.delay
            if delay > 0:
                await asyncio.sleep(delay)
            if self.hung:  # released only by stop(): then the connection just goes away
                await self._wait_while_hung()
            if reply.drop or self.killed or self.hung:
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("dropped by stub")
            if reply.status != 200:
                err = {"error": {"message": reply.text or f"stub error {reply.status}",
                                 "type": "stub_error", "code": reply.status}}
                return web.json_response(err, status=reply.status, headers=reply.headers)
            response = web.json_response(completion_body(req, reply, len(self.requests)), headers=reply.headers)
            await response.prepare(request)
            await response.write_eof()
            with self._lock:  # written: on loopback the client holds it, even if a kill comes now
                self.completed.append(req)
            return response
        finally:
            with self._lock:
                self.in_flight -= 1
            if self.shared is not None:
                self.shared.leave()


def completion_body(req: StubRequest, reply: Reply, serial: int = 0) -> dict[str, Any]:
    """The OpenAI-style reply body for a request (chat or text completion), usage included:
    the reply's own usage if it sets one, else about one token per four characters."""
    prompt_tokens = max(1, len(json.dumps(req.body.get("messages", req.body.get("prompt", "")))) // 4)
    usage = dict(reply.usage or {"prompt_tokens": prompt_tokens, "completion_tokens": max(1, len(reply.text) // 4)})
    usage.setdefault("total_tokens", usage["prompt_tokens"] + usage["completion_tokens"])
    model = str(req.body.get("model", "stub"))
    created = int(time.time())
    if req.path.endswith("/chat/completions"):
        return {"id": f"chatcmpl-{serial}", "object": "chat.completion", "created": created, "model": model,
                "choices": [{"index": 0, "finish_reason": reply.finish_reason,
                             "message": {"role": "assistant", "content": reply.text}}],
                "usage": usage}
    return {"id": f"cmpl-{serial}", "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": 0, "text": reply.text, "finish_reason": reply.finish_reason, "logprobs": None}],
            "usage": usage}
