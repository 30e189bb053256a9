"""`hf:REPO_OR_PATH`: local generation with transformers (extra `[hf]`).

Chat requests go through the tokenizer's chat template; completion requests (a `prompt`, or
`completion=True`) use the raw text. Requests that arrive within a short window and share
decoding parameters are left-padded into one `generate` call, run in a worker thread so the
event loop stays free. Stop strings are applied to the decoded text (cut at the first one).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.engine.types import Backend, BackendError, Completion, GenParams, Request
from justeval.errors import JustevalError
from justeval.records import Usage

DEFAULT_MAX_NEW_TOKENS = 512


def truncate_at_stop(text: str, stops: list[str] | None) -> tuple[str, bool]:
    """Cut `text` at the earliest stop string; say whether one was found."""
    cut = min((i for i in (text.find(s) for s in stops or [] if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


@dataclass
class _Pending:
    request: Request
    future: asyncio.Future[Completion]


@dataclass
class _LoopState:
    queue: asyncio.Queue[_Pending] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class HFBackend(Backend):
    kind = "hf"

    def __init__(self, model: str, *, completion: bool = False, device: str | None = None,
                 dtype: str | None = None, batch_size: int = 8, batch_window_s: float = 0.02,
                 base_url: str | None = None, api_key: str | None = None, timeout: float | None = None) -> None:
        super().__init__(model)  # base_url / api_key / timeout are accepted for a uniform call, unused
        self.completion = completion
        self.device = device
        self.dtype = dtype
        self.batch_size = max(1, batch_size)
        self.batch_window_s = batch_window_s
        self.batch_sizes: list[int] = []  # size of every generate call, for inspection
        self._model: Any = None
        self._tokenizer: Any = None
        self._load_lock = threading.Lock()
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="hf-generate")
        self._loops: dict[int, _LoopState] = {}
        try:  # load now: a wrong path fails at once, and loading time is not charged to the first call's timeout
            self._load()
        except BackendError as exc:
            raise JustevalError(str(exc)) from exc
        except OSError as exc:
            raise JustevalError(f"cannot load hf model {model!r}: {exc}") from exc

    def identity(self) -> dict[str, Any]:
        path = Path(self.model).expanduser()
        where = str(path.resolve()) if path.exists() else self.model
        return {"backend": self.kind, "model": where, "completion": self.completion, "dtype": self.dtype}

    # -- loading -----------------------------------------------------------------
    def _load(self) -> None:
        with self._load_lock:
            if self._model is not None:
                return
            try:
                import torch
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:
                raise BackendError("the hf backend needs the [hf] extra: pip install 'justeval[hf]'",
                                   retryable=False) from exc
            tokenizer = AutoTokenizer.from_pretrained(self.model)
            tokenizer.padding_side = "left"
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            kwargs: dict[str, Any] = {}
            if self.dtype:
                kwargs["dtype"] = getattr(torch, self.dtype)
            model: Any = AutoModelForCausalLM.from_pretrained(self.model, **kwargs)
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            model.to(device)
            model.eval()
            self.device = device
            self._tokenizer, self._model = tokenizer, model

    # -- batching ----------------------------------------------------------------
    async def complete(self, request: Request) -> Completion:
        loop = asyncio.get_running_loop()
        state = self._loops.get(id(loop))
        if state is None or state.task is None or state.task.done():
            state = _LoopState()
            state.task = loop.create_task(self._batcher(state))
            self._loops[id(loop)] = state
        future: asyncio.Future[Completion] = loop.create_future()
        await state.queue.put(_Pending(request, future))
        return await future

    async def _batcher(self, state: _LoopState) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await state.queue.get()
            batch = [first]
            deadline = loop.time() + self.batch_window_s
            while len(batch) < self.batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(state.queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            batch = [p for p in batch if not p.future.done()]  # drop callers that gave up (timeouts)
            groups: dict[str, list[_Pending]] = {}
            for pending in batch:
                key = json.dumps([pending.request.params.model_dump(mode="json"), self._is_completion(pending.request)],
                                 sort_keys=True)
                groups.setdefault(key, []).append(pending)
            for group in groups.values():
                try:
                    results = await loop.run_in_executor(self._executor, self._generate,
                                                         [p.request for p in group])
                except BaseException as exc:  # every waiter must hear about it
                    error = exc if isinstance(exc, BackendError) else BackendError(
                        f"generation failed: {type(exc).__name__}: {exc}", retryable=False)
                    for p in group:
                        if not p.future.done():
                            p.future.set_exception(error)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    continue
                for p, completion in zip(group, results, strict=True):
                    if not p.future.done():
                        p.future.set_result(completion)

    def _is_completion(self, request: Request) -> bool:
        return self.completion or request.prompt is not None

    # -- generation (worker thread) ------------------------------------------------
    def _prompt_text(self, request: Request) -> tuple[str, bool]:
        """The text to feed, and whether the tokenizer should add special tokens itself."""
        if self._is_completion(request):
            text = request.prompt if request.prompt is not None else "\n\n".join(m.content for m in request.messages)
            return text, True
        if not getattr(self._tokenizer, "chat_template", None):
            raise BackendError(f"{self.model} has no chat template; use completion mode", retryable=False)
        messages = [{"role": m.role, "content": m.content} for m in request.messages]
        text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return str(text), False

    def _generate(self, requests: list[Request]) -> list[Completion]:
        import torch

        self._load()
        tok, model = self._tokenizer, self._model
        texts, specials = zip(*(self._prompt_text(r) for r in requests), strict=True)
        enc = tok(list(texts), return_tensors="pt", padding=True, add_special_tokens=specials[0])
        enc = {k: v.to(self.device) for k, v in enc.items()}
        params: GenParams = requests[0].params
        max_new = params.max_tokens or DEFAULT_MAX_NEW_TOKENS
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": tok.pad_token_id}
        sample = bool(params.temperature) and (params.temperature or 0) > 0
        kwargs["do_sample"] = sample
        if sample:
            kwargs["temperature"] = params.temperature
            if params.top_p is not None:
                kwargs["top_p"] = params.top_p
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        self.batch_sizes.append(len(requests))
        prompt_len = enc["input_ids"].shape[1]
        eos_ids = {tok.eos_token_id} if tok.eos_token_id is not None else set()
        completions = []
        for row, request in enumerate(requests):
            new_ids = out[row, prompt_len:].tolist()
            ended = False
            for i, token in enumerate(new_ids):
                if token in eos_ids:
                    new_ids, ended = new_ids[: i + 1], True
                    break
            text = tok.decode(new_ids, skip_special_tokens=True)
            text, stopped = truncate_at_stop(text, request.params.stop)
            reason = "stop" if stopped or ended else ("length" if len(new_ids) >= max_new else "stop")
            usage = Usage(prompt_tokens=int(enc["attention_mask"][row].sum()), completion_tokens=len(new_ids))
            completions.append(Completion(text=text, usage=usage, finish_reason=reason, model=self.model))
        return completions

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        state = self._loops.pop(id(loop), None)
        if state is not None and state.task is not None:
            state.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.task
