"""`hf:REPO_OR_PATH`: local generation with transformers (extra `[hf]`).

Chat requests go through the tokenizer's chat template; completion requests (a `prompt`, or
`completion=True`) use the raw text. Requests that arrive within a short window and share
decoding parameters are left-padded into one `generate` call, run in a worker thread so the
event loop stays free.

- Stop strings end generation: a stopping criterion decodes each row's newest tokens at every
  step, so a row that reached a stop string stops there (the others go on); the text is cut at
  the first stop string, and `completion_tokens` counts the tokens generated up to and including
  the one that completed it (or the end-of-sequence token), never the rest of `max_tokens`.
- Decoding options map to transformers' arguments: temperature and top_p (when sampling),
  top_k (when sampling; 0 or -1: all tokens), repetition_penalty, no_repeat_ngram_size, and
  `extra` fields that are GenerationConfig attributes (e.g. `min_p`, `typical_p`). What a request
  leaves unset comes from the model folder's `generation_config.json`, then transformers'
  defaults; the folder's values are part of `identity()` (the cache key) and of
  `generation_defaults`, which the stage records, so editing that file cannot silently change
  outputs that are served from the cache or compared across runs.
- A prompt that does not fit the model's context (prompt + max_tokens above its position
  limit) is refused for that request alone, with its token counts; the rest of the batch runs.
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
#: generate() arguments justeval sets itself: a `--param` cannot set them
_OWN_ARGUMENTS = frozenset({"max_new_tokens", "max_length", "do_sample", "pad_token_id", "stopping_criteria",
                            "num_return_sequences", "temperature", "top_p", "top_k", "repetition_penalty",
                            "no_repeat_ngram_size", "stop_strings", "tokenizer", "generation_config"})
#: model config attributes that bound the positions a model can attend to, in the order tried
_CONTEXT_ATTRIBUTES = ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length", "n_ctx")
#: extra tokens decoded around a stop string's length when looking for it at each step (a
#: token can decode to nothing on its own, such as a partial UTF-8 byte)
_STOP_WINDOW_MARGIN = 8


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
        self.steps: list[int] = []  # new positions each generate call ran for (stops end it early)
        #: the model folder's generation_config.json values (what applies when a request leaves
        #: an option unset); part of identity(), recorded by the stage
        self.generation_defaults: dict[str, Any] = {}
        #: the most positions the model attends to (prompt + new tokens), None when unknown
        self.context_tokens: int | None = None
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
        return {"backend": self.kind, "model": where, "completion": self.completion, "dtype": self.dtype,
                "generation_config": self.generation_defaults}

    def count_tokens(self, text: str) -> int:
        """Tokens of a completion prompt as this backend feeds it (special tokens included)."""
        return len(self._tokenizer(text, add_special_tokens=True)["input_ids"])

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
            self.generation_defaults = _folder_generation_config(model)
            self.context_tokens = _context_limit(model, tokenizer)

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
                for p, outcome in zip(group, results, strict=True):
                    if p.future.done():
                        continue
                    if isinstance(outcome, BackendError):
                        p.future.set_exception(outcome)
                    else:
                        p.future.set_result(outcome)

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

    def _generate(self, requests: list[Request]) -> list[Completion | BackendError]:
        """One generate call for requests that share decoding parameters; a request that cannot
        run (too long, an option transformers lacks) gets its own error, the rest still run."""
        import torch

        self._load()
        tok, model = self._tokenizer, self._model
        params: GenParams = requests[0].params
        max_new = params.max_tokens or DEFAULT_MAX_NEW_TOKENS
        try:
            kwargs = self._generate_kwargs(params, max_new)
        except BackendError as exc:
            return [exc for _ in requests]
        texts, specials = zip(*(self._prompt_text(r) for r in requests), strict=True)
        results: list[Completion | BackendError | None] = [None] * len(requests)
        runnable: list[int] = []
        for row, text in enumerate(texts):
            length = len(tok(text, add_special_tokens=specials[row])["input_ids"])
            if self.context_tokens is not None and length + max_new > self.context_tokens:
                results[row] = BackendError(
                    f"prompt is {length} tokens and max_tokens {max_new}: {length + max_new} is more than the "
                    f"{self.context_tokens} positions of {self.model} (shorten the prompt, lower --max-tokens, "
                    "or fit in-context examples with --context-tokens)", retryable=False)
            else:
                runnable.append(row)
        if not runnable:
            return [r for r in results if r is not None]
        enc = tok([texts[i] for i in runnable], return_tensors="pt", padding=True, add_special_tokens=specials[0])
        enc = {k: v.to(self.device) for k, v in enc.items()}
        prompt_len = enc["input_ids"].shape[1]
        stops = [s for s in params.stop or [] if s]
        criterion = _stop_criterion(tok, stops, prompt_len, len(runnable)) if stops else None
        if criterion is not None:
            kwargs["stopping_criteria"] = _criteria_list([criterion])
        if params.seed is not None:
            torch.manual_seed(params.seed)
        with torch.inference_mode():
            out = model.generate(**enc, **kwargs)
        self.batch_sizes.append(len(runnable))
        self.steps.append(int(out.shape[1]) - prompt_len)
        eos_ids = _eos_ids(tok, model)
        for pos, row in enumerate(runnable):
            new_ids = out[pos, prompt_len:].tolist()
            done_at = criterion.done_at[pos] if criterion is not None else None
            if done_at is not None:
                new_ids = new_ids[:done_at]
            ended = False
            for i, token in enumerate(new_ids):
                if token in eos_ids:
                    new_ids, ended = new_ids[: i + 1], True
                    break
            text = tok.decode(new_ids, skip_special_tokens=True)
            text, stopped = truncate_at_stop(text, stops)
            reason = "stop" if stopped or ended or done_at is not None else "length"
            usage = Usage(prompt_tokens=int(enc["attention_mask"][pos].sum()), completion_tokens=len(new_ids))
            results[row] = Completion(text=text, usage=usage, finish_reason=reason, model=self.model)
        return [r for r in results if r is not None]

    def _generate_kwargs(self, params: GenParams, max_new: int) -> dict[str, Any]:
        """transformers' generate() arguments for `params` (see the module docstring)."""
        if params.n is not None and params.n > 1:
            raise BackendError("the hf backend returns one completion per request (n > 1 is not supported)",
                               retryable=False)
        kwargs: dict[str, Any] = {"max_new_tokens": max_new, "pad_token_id": self._tokenizer.pad_token_id}
        sample = bool(params.temperature) and (params.temperature or 0) > 0
        kwargs["do_sample"] = sample
        if sample:
            kwargs["temperature"] = params.temperature
            if params.top_p is not None:
                kwargs["top_p"] = params.top_p
            if params.top_k is not None:
                kwargs["top_k"] = max(0, params.top_k)  # vLLM's -1 (all tokens) is transformers' 0
        if params.repetition_penalty is not None:
            kwargs["repetition_penalty"] = params.repetition_penalty
        if params.no_repeat_ngram_size is not None:
            kwargs["no_repeat_ngram_size"] = params.no_repeat_ngram_size
        if params.extra:
            from transformers import GenerationConfig

            known = GenerationConfig().to_dict()
            unknown = sorted(k for k in params.extra if k not in known or k in _OWN_ARGUMENTS)
            if unknown:
                raise BackendError(f"--param {', '.join(unknown)}: not a transformers generation option the hf "
                                   "backend can pass (see transformers.GenerationConfig)", retryable=False)
            kwargs.update(params.extra)
        return kwargs

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        state = self._loops.pop(id(loop), None)
        if state is not None and state.task is not None:
            state.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state.task


def _folder_generation_config(model: Any) -> dict[str, Any]:
    """The values the model's generation_config.json sets (those that differ from transformers'
    own defaults), as JSON; the library version it was saved with is left out."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return {}
    try:
        values = config.to_diff_dict()
    except Exception:
        return {}
    values.pop("transformers_version", None)
    kept = {k: v for k, v in values.items() if v is not None and not k.startswith("_")}  # `_`: transformers' own
    return json.loads(json.dumps(kept, sort_keys=True, default=str))


def _context_limit(model: Any, tokenizer: Any) -> int | None:
    """The model's position limit from its config; the tokenizer's limit where the config has
    none (tokenizers without one report a huge sentinel, ignored)."""
    config = getattr(model, "config", None)
    for name in _CONTEXT_ATTRIBUTES:
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 10**7 else None


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    """End-of-sequence ids: the tokenizer's and the generation config's (which may list several)."""
    ids: set[int] = set()
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    configured = getattr(getattr(model, "generation_config", None), "eos_token_id", None)
    if isinstance(configured, int):
        ids.add(configured)
    elif isinstance(configured, (list, tuple)):
        ids.update(int(i) for i in configured)
    return ids


def _criteria_list(criteria: list[Any]) -> Any:
    from transformers import StoppingCriteriaList

    return StoppingCriteriaList(criteria)


def _stop_criterion(tokenizer: Any, stops: list[str], prompt_len: int, rows: int) -> Any:
    """A StoppingCriteria that ends each row of the batch once its decoded new text holds a stop
    string; `done_at[row]` is the number of new tokens at that moment."""
    import torch
    from transformers import StoppingCriteria

    window = max(len(s) for s in stops) + _STOP_WINDOW_MARGIN

    class StopOnText(StoppingCriteria):
        def __init__(self) -> None:
            self.done_at: list[int | None] = [None] * rows

        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            length = input_ids.shape[1]
            new = length - prompt_len
            for row in range(input_ids.shape[0]):
                if self.done_at[row] is None and new > 0:
                    tail = input_ids[row, max(prompt_len, length - window):].tolist()
                    if any(s in tokenizer.decode(tail, skip_special_tokens=True) for s in stops):
                        self.done_at[row] = new
            return torch.tensor([d is not None for d in self.done_at], dtype=torch.bool, device=input_ids.device)

    return StopOnText()
