"""A loopback OpenAI-compatible completions server that scores the prompt with a tiny model, the
way vLLM answers `echo` + `logprobs` and `prompt_logprobs`: the real client, engine and parsing
run against it, and its numbers come from its own forward pass (not from the code under test).

`mode`: "vllm" answers both forms; "ignores_echo" answers like a server without the feature
(the generated text only, no logprobs); "refuses" answers HTTP 400 naming `echo`. `fail_next`
requests are answered HTTP 500 first.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from pathlib import Path
from typing import Any

from aiohttp import web


class LogprobsServer:
    def __init__(self, model_path: Path, *, mode: str = "vllm", fail_next: int = 0) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.mode = mode
        self.fail_next = fail_next
        self.model = AutoModelForCausalLM.from_pretrained(model_path)
        self.model.eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model_path)
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> LogprobsServer:
        self._thread = threading.Thread(target=self._serve, name="logprobs-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("logprobs server did not start")
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
        app.router.add_post("/v1/completions", self._completions)
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

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        if self.fail_next > 0:
            self.fail_next -= 1
            return web.json_response({"error": {"message": "overloaded", "type": "server_error"}}, status=500)
        if self.mode == "refuses" and body.get("echo"):
            return web.json_response({"error": {"message": "echo is not supported by this server",
                                                "type": "invalid_request_error"}}, status=400)
        prompt = body["prompt"]
        ids = list(prompt) if isinstance(prompt, list) else list(self.tokenizer(prompt)["input_ids"])
        return web.json_response(self._reply(body, ids))

    def _piece(self, token_id: int) -> str:
        return str(self.tokenizer.decode([token_id]))

    def _reply(self, body: dict[str, Any], ids: list[int]) -> dict[str, Any]:
        import torch

        with torch.inference_mode():
            logits = self.model(torch.tensor([ids])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        generated = int(logits[-1].argmax())
        choice: dict[str, Any] = {"index": 0, "text": self._piece(generated), "finish_reason": "length",
                                  "logprobs": None}
        k = body.get("logprobs")
        if self.mode == "vllm" and body.get("echo") and k:
            tokens, values, tops, offsets = [], [], [], []
            position = 0
            for i, token in enumerate([*ids, generated]):
                tokens.append(self._piece(token))
                offsets.append(position)
                position += len(tokens[-1])
                if i == 0:
                    values.append(None)
                    tops.append(None)
                    continue
                row = logprobs[i - 1]
                best = row.topk(k)
                top = {self._piece(int(t)): float(v) for t, v in zip(best.indices, best.values, strict=True)}
                top[self._piece(token)] = float(row[token])  # vLLM lists the token itself too
                values.append(float(row[token]))
                tops.append(top)
            choice["logprobs"] = {"tokens": tokens, "token_logprobs": values, "top_logprobs": tops,
                                  "text_offset": offsets}
        n = body.get("prompt_logprobs")
        if self.mode == "vllm" and n:
            rows: list[Any] = [None]
            for i in range(1, len(ids)):
                row = logprobs[i - 1]
                entries = {}
                best = row.topk(n)
                for rank, (t, v) in enumerate(zip(best.indices.tolist(), best.values.tolist(), strict=True), 1):
                    entries[str(t)] = {"logprob": v, "rank": rank, "decoded_token": self._piece(t)}
                token = ids[i]
                entries[str(token)] = {"logprob": float(row[token]), "rank": int((row > row[token]).sum()) + 1,
                                       "decoded_token": self._piece(token)}
                rows.append(entries)
            choice["prompt_logprobs"] = rows
        return {"id": f"cmpl-{len(self.requests)}", "object": "text_completion", "model": body.get("model"),
                "choices": [choice], "usage": {"prompt_tokens": len(ids), "completion_tokens": 1,
                                               "total_tokens": len(ids) + 1}}
