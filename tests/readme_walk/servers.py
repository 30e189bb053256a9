"""The loopback servers the README's commands are pointed at.

- `ReadmeServer`: the OpenAI-compatible server (chat and completions, the Files + Batches API
  for `--batch`), answering as every role through `responder.respond`; a completions call
  with `echo` + `logprobs` (token-shift's server path) is scored by a tiny causal LM, in
  vLLM's reply format, by the token-shift tests' own logprobs server.
- `FileServer`: a static file server standing in for https://raw.githubusercontent.com,
  serving a fixed map of repository paths to local files (404 for anything else).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from justeval.testing.batch_server import BatchPlan, BatchServer
from tests.readme_walk.responder import respond


class TinyScorer:
    """Scores a token-shift call's tokens with a tiny causal LM, in vLLM's reply format: the
    token-shift tests' logprobs server's reply builder (not its server), each token's text
    looked up rather than decoded at every position. One per walk, shared by the servers."""

    def __init__(self, model: Path) -> None:
        from tests.tokenshift.logprobs_server import LogprobsServer

        self._builder = LogprobsServer(model)
        pieces = [str(self._builder.tokenizer.decode([i])) for i in range(len(self._builder.tokenizer))]
        self._builder._piece = pieces.__getitem__  # type: ignore[method-assign]
        self._lock = threading.Lock()
        self.scored = 0

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.scored += 1
            prompt = body["prompt"]
            ids = list(prompt) if isinstance(prompt, list) else list(self._builder.tokenizer(prompt)["input_ids"])
            return dict(self._builder._reply(body, ids))


class ReadmeServer(BatchServer):
    """Zero latency; a batch is finished as soon as it is created (processing takes no time)."""

    def __init__(self, scorer: TinyScorer) -> None:
        super().__init__(respond, default_plan=BatchPlan(processing_s=0.0))
        self.scorer = scorer

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path.endswith("/v1/completions"):
            body = await request.json()  # aiohttp keeps the body: the base handler reads it again
            if body.get("echo") or body.get("prompt_logprobs"):
                return web.json_response(self.scorer.reply(body))
        return await super()._handle(request)


class FileServer:
    """`with FileServer({"Re-Align/URIAL/main/x.txt": Path(...)}) as fs:` serves them at `fs.url`."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = dict(files)
        self.served: list[str] = []
        self.missing: list[str] = []  # asked for, not held: a README URL the walk does not stand in for
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FileServer:
        self._thread = threading.Thread(target=self._serve, name="readme-files", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("file server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop and self._runner:
            fut = asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop)
            with contextlib.suppress(Exception):
                fut.result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application()
        app.router.add_get("/{path:.*}", self._get)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _get(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.served.append(path)
        local = self.files.get(path)
        if local is None:
            self.missing.append(path)
            return web.Response(status=404, text=f"404: {path} is not served by the README walk's file server")
        return web.Response(body=local.read_bytes(), content_type="text/plain")
