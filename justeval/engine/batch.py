"""Batch mode (`EngineConfig.batch`): the same requests, sent through the provider's batch
interface at about half the price, with everything the synchronous engine guarantees.

- A cache hit is delivered at once and never sent; identical requests are sent once.
- Requests are cut into batches under `batch_max_requests` and `batch_max_bytes`; each batch
  is recorded in `batch_dir/batches.jsonl` as soon as its file is uploaded and again once it is
  created (`justeval.engine.batch_state`), so a killed process or `batch_wait=False` leaves
  nothing to submit twice: the next run with the same requests finds the open batches and
  collects them.
- Results come through the same `on_result` as synchronous ones, validated, cached and priced
  at the batch price, with `CallResult.batch_id` set.
- Items a batch did not finish (expired, a 429 or 5xx for that line, a failed batch) go into a
  new batch, or, with `batch_fallback="sync"`, are sent as ordinary calls; after
  `batch_retries` new batches they are errors. A 4xx for a line is an error at once.
- A batch cancelled at the provider is reported: its unfinished requests are listed in
  `RunSummary.cancelled_keys`, never recorded as failed, and sent again by the next run.
- Requests still waiting at the provider when the run returns (`batch_wait=False`, or the
  process is interrupted) are in `RunSummary.pending_keys` and are not passed to `on_result`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from justeval.engine.batch_api import BatchAPI, BatchInfo, ItemOutcome
from justeval.engine.batch_state import BatchEntry, BatchState
from justeval.engine.retry import call_with_retries
from justeval.engine.types import BackendError, Completion, Request
from justeval.errors import JustevalError, UsageError

if TYPE_CHECKING:
    from justeval.engine.engine import _Run

T = TypeVar("T")

INPUT_FILENAME = "justeval-batch.jsonl"


def identity_digest(identity: dict[str, object]) -> str:
    """A short, stable name for a backend identity (which batches in a folder are ours)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class _Item:
    """The requests with one content (one custom id) and what batches did for them."""

    __slots__ = ("batch_id", "cost", "custom_id", "error", "last", "parse_failures", "replies", "requests", "rounds")

    def __init__(self, custom_id: str) -> None:
        self.custom_id = custom_id
        self.requests: list[Request] = []
        self.rounds = 0              # batches this item has been in
        self.parse_failures = 0
        self.replies: list[Completion] = []
        self.cost: float | None = None
        self.error = ""
        self.last: Completion | None = None
        self.batch_id: str | None = None


class BatchRunner:
    """One batch-mode pass of an engine run (`_Run` provides the cache, validation, records)."""

    def __init__(self, run: _Run) -> None:
        self.run = run
        self.config = run.config
        self.backend = run.backend
        self.server = run.fleet.endpoints[0].server
        api = self.backend.batch_api()
        if api is None:
            raise UsageError(f"{self.backend.spec} has no batch interface: batch mode needs an openai: backend "
                             "(OpenAI or a provider with the same Batch API) or litellm:anthropic/MODEL "
                             "(Anthropic's Message Batches); run without --batch")
        self.api: BatchAPI = api
        if self.config.batch_dir is None:
            raise JustevalError("batch mode needs a folder to keep its state in (EngineConfig.batch_dir: the run "
                                "directory)")
        self.state = BatchState(self.config.batch_dir)
        self.api.keep_inputs_in(self.config.batch_dir)
        self.identity = identity_digest(run.identity)
        self.items: dict[str, _Item] = {}
        self.open: dict[str, BatchEntry] = {}   # by batch id
        self.infos: dict[str, BatchInfo] = {}
        self.retry: list[_Item] = []
        self.sync_later: list[_Item] = []

    # -- the pass ---------------------------------------------------------------------
    async def execute(self, requests: list[Request]) -> None:
        from justeval.engine.cache import cache_key

        run = self.run
        for request in requests:
            custom_id = cache_key(run.identity, request)
            if run.cache is not None and (hit := run.from_cache(request, custom_id)) is not None:
                run.record(hit)
                continue
            self.items.setdefault(custom_id, _Item(custom_id)).requests.append(request)
        await run.probe_once()
        if run.fleet.stopped:
            self._not_sent(list(self.items.values()))
            return
        await self._adopt()
        waiting = {cid for entry in self.open.values() for cid in entry.custom_ids}
        await self._submit([item for cid, item in self.items.items() if cid not in waiting])
        await self._collect()
        if self.sync_later and not run.fleet.stopped:
            await run.run_calls(iter([r for item in self.sync_later for r in item.requests]))
        for entry in self.open.values():
            for cid in entry.custom_ids:
                item = self.items.get(cid)
                if item is not None:
                    run.summary.pending_keys.extend(r.key for r in item.requests)
        run.summary.batches_pending = len(self.open)

    async def _control(self, fn: Callable[[], Awaitable[T]]) -> T:
        """One call of the batch interface, with the engine's transport retries."""
        config = self.config
        try:
            result, attempts = await call_with_retries(fn, max_retries=config.max_retries, timeout_s=config.timeout_s,
                                                       base_s=config.retry_base_s, max_wait_s=config.retry_max_wait_s)
        except BackendError as exc:
            self.run.summary.calls += getattr(exc, "attempts", 1)
            raise
        self.run.summary.calls += attempts
        return result

    # -- batches left open by an earlier run ---------------------------------------------
    async def _adopt(self) -> None:
        for entry in self.state.open_entries(self.identity):
            if entry.batch_id is None:  # uploaded, but the process died around the create call
                try:
                    found = await self._control(lambda e=entry: self.api.find(e.file_id))  # type: ignore[misc]
                except BackendError as exc:
                    self.run.fleet.stop_with(f"cannot list the batches at {self.server}: {exc}")
                    return
                if found is None:
                    if not any(cid in self.items for cid in entry.custom_ids):
                        self.state.abandoned(entry, "not created, and no longer asked for")
                        self.api.forget(entry.file_id)
                        continue
                    if not await self._create(entry):
                        return
                    continue
                self.state.created(entry, found.id)
                self.api.forget(entry.file_id)
            assert entry.batch_id is not None
            self.open[entry.batch_id] = entry
            for cid in entry.custom_ids:
                if cid in self.items:
                    self.items[cid].rounds += 1
                    self.items[cid].batch_id = entry.batch_id

    # -- submitting -------------------------------------------------------------------------
    async def _submit(self, items: list[_Item]) -> None:
        run = self.run
        if not items or run.fleet.stopped:
            return
        if run.over_budget:
            for item in items:
                for r in item.requests:
                    run.summary.skipped_budget += 1
                    run.summary.skipped_keys.append(r.key)
            return
        limit_n, limit_bytes = self.config.batch_max_requests, self.config.batch_max_bytes
        groups: dict[str, list[tuple[_Item, bytes]]] = {}
        for item in items:
            try:
                path, line = self.api.line(item.custom_id, item.requests[0])
            except BackendError as exc:  # a request this provider's batches cannot take
                item.error = str(exc)
                self._fail(item)
                continue
            if len(line) > limit_bytes:
                item.error = f"request of {len(line):,} bytes exceeds the batch file limit ({limit_bytes:,} bytes)"
                self._fail(item)
                continue
            groups.setdefault(path, []).append((item, line))
        for path, rows in groups.items():
            chunk: list[tuple[_Item, bytes]] = []
            size = 0
            for row in rows:
                if chunk and (len(chunk) >= limit_n or size + len(row[1]) > limit_bytes):
                    if not await self._send_chunk(path, chunk):
                        return
                    chunk, size = [], 0
                chunk.append(row)
                size += len(row[1])
            if chunk and not await self._send_chunk(path, chunk):
                return

    async def _send_chunk(self, path: str, chunk: list[tuple[_Item, bytes]]) -> bool:
        data = b"".join(line for _, line in chunk)
        try:
            if self.api.local_upload:
                file_id = await self.api.upload(data, INPUT_FILENAME)
            else:
                file_id = await self._control(lambda: self.api.upload(data, INPUT_FILENAME))
        except BackendError as exc:
            self._not_sent([item for item, _ in chunk])
            self.run.fleet.stop_with(f"cannot upload a batch to {self.server}: {exc}")
            return False
        entry = self.state.uploaded(file_id, self.identity, path, [item.custom_id for item, _ in chunk])
        return await self._create(entry)

    async def _create(self, entry: BatchEntry) -> bool:
        try:
            info = await self._control(lambda: self.api.create(
                entry.file_id, entry.endpoint, window=self.config.batch_completion_window,
                metadata={"created_by": "justeval", "requests": str(len(entry.custom_ids))}))
        except BackendError as exc:
            items = [self.items[cid] for cid in entry.custom_ids if cid in self.items]
            self._not_sent(items)
            if exc.retryable:  # it may exist: the next run looks for it before making it again
                self.run.fleet.stop_with(f"cannot create a batch at {self.server}: {exc}")
            else:
                self.state.abandoned(entry, str(exc))
                self.api.forget(entry.file_id)
                self.run.fleet.stop_with(f"{self.server} refused the batch: {exc}")
            return False
        self.state.created(entry, info.id)
        self.api.forget(entry.file_id)
        self.run.summary.batches_created.append(info.id)
        self.open[info.id] = entry
        self.infos[info.id] = info
        for cid in entry.custom_ids:
            item = self.items.get(cid)
            if item is not None:
                item.rounds += 1
                item.batch_id = info.id
        return True

    # -- waiting and collecting ----------------------------------------------------------------
    async def _collect(self) -> None:
        run = self.run
        interval = self.config.batch_poll_s
        while self.open and not run.fleet.stopped:
            for batch_id, entry in list(self.open.items()):
                try:
                    info = await self._control(lambda b=batch_id: self.api.retrieve(b))  # type: ignore[misc]
                except BackendError as exc:
                    run.fleet.stop_with(f"cannot look at batch {batch_id} at {self.server}: {exc}")
                    return
                self.infos[batch_id] = info
                if info.terminal:
                    await self._settle(entry, info)
                    del self.open[batch_id]
            if self.retry:
                again, self.retry = self.retry, []
                await self._submit(again)
            if not self.open or not self.config.batch_wait:
                return
            run.progress.status(self._status(interval))
            await run.fleet.sleep(interval)
            interval = min(interval * 1.5, self.config.batch_poll_max_s)
        run.progress.status("")

    def _status(self, interval: float) -> str:
        total = done = failed = 0
        for batch_id in self.open:
            counts = self.infos[batch_id].request_counts if batch_id in self.infos else None
            if counts is not None:
                total += counts.total
                done += counts.completed
                failed += counts.failed
        batches = "batch" if len(self.open) == 1 else "batches"
        return (f"waiting for {len(self.open)} {batches} at the provider ({done:,}/{total:,} done, {failed:,} failed), "
                f"next look in {interval:.0f} s")

    async def _lines(self, file_id: str | None, endpoint: str) -> list[ItemOutcome]:
        if not file_id:
            return []
        data = await self._control(lambda: self.api.download(file_id))
        found: list[ItemOutcome] = []
        for raw in data.splitlines():
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue  # a line the provider garbled: its item counts as missing, and is retried
            if isinstance(obj, dict):
                found.append(self.api.parse_line(endpoint, obj))
        return found

    async def _settle(self, entry: BatchEntry, info: BatchInfo) -> None:
        outcomes: dict[str, ItemOutcome] = {}
        for file_id in (info.output_file_id, info.error_file_id):
            for outcome in await self._lines(file_id, entry.endpoint):
                if outcome.custom_id not in outcomes or outcome.completion is not None:
                    outcomes[outcome.custom_id] = outcome
        completed = failed = 0
        cancelled: list[str] = []
        for cid in entry.custom_ids:
            found = outcomes.get(cid)
            item = self.items.get(cid)
            if found is not None and found.completion is not None:
                completed += 1
                if item is None:
                    self._keep(cid, found.completion)
                else:
                    self._deliver(item, found.completion, info)
                continue
            failed += 1
            if item is None:
                continue
            if info.status == "cancelled" and (found is None or found.cancelled):
                cancelled.extend(r.key for r in item.requests)
                continue
            if found is not None:
                item.error = found.error or "failed"
            elif info.status == "failed":
                item.error = f"batch {info.id} failed: {info.error_text()}"
            else:
                item.error = f"no result for this request in batch {info.id} ({info.status})"
            if found is None or found.retryable:
                self._again(item)
            else:
                self._fail(item)
        self.state.settled(entry, info.status, completed=completed, failed=failed)
        if cancelled:
            self.run.summary.cancelled_keys.extend(cancelled)
            self.run.progress.note(f"batch {info.id} was cancelled at the provider: {len(cancelled):,} request(s) "
                                   "not done, not recorded; the next run sends them again")

    def _again(self, item: _Item) -> None:
        if item.rounds > self.config.batch_retries:
            self._fail(item)
        elif self.config.batch_fallback == "sync":
            self.sync_later.append(item)
        else:
            self.retry.append(item)

    # -- delivering ---------------------------------------------------------------------------------
    def _deliver(self, item: _Item, completion: Completion, info: BatchInfo) -> None:
        from justeval.engine.engine import CallResult, ParseFailure, _with_total_usage

        run = self.run
        cost = run.charge(completion, self.backend, batch=True)
        if cost is not None:
            item.cost = (item.cost or 0.0) + cost
        item.replies.append(completion)
        total = _with_total_usage(completion, item.replies)
        first, *duplicates = item.requests
        try:
            parsed = run.validate(first, completion) if run.validate else None
        except ParseFailure as exc:
            item.error = str(exc) or "reply could not be parsed"
            item.last = total
            if item.parse_failures < self.config.parse_retries:
                item.parse_failures += 1
                (self.sync_later if self.config.batch_fallback == "sync" else self.retry).append(item)
            else:
                for request in item.requests:
                    run.record(CallResult(request, "parse_error", completion=total, error=item.error,
                                          latency_s=self._latency(info), attempts=item.rounds,
                                          cost_usd=item.cost if request is first else 0.0,
                                          endpoint=self.server, batch_id=info.id))
            return
        if run.cache is not None:
            run.cache.put(item.custom_id, completion)
        run.record(CallResult(first, "ok", completion=total, parsed=parsed, latency_s=self._latency(info),
                              attempts=item.rounds, cost_usd=item.cost, endpoint=self.server,
                              batch_id=info.id))
        for request in duplicates:  # the same content: paid once, delivered to each
            try:
                again = run.validate(request, completion) if run.validate else None
            except ParseFailure as exc:
                run.record(CallResult(request, "parse_error", completion=completion, error=str(exc), attempts=0,
                                      cached=True, cost_usd=0.0, endpoint=self.server, batch_id=info.id))
                continue
            run.record(CallResult(request, "ok", completion=completion, parsed=again, attempts=0, cached=True,
                                  cost_usd=0.0, endpoint=self.server, batch_id=info.id))

    def _keep(self, custom_id: str, completion: Completion) -> None:
        """A result no request of this run asks for (recorded by an earlier run, or dropped from
        the selection): paid for, so kept in the cache where a later run finds it."""
        if self.run.cache is not None:
            self.run.cache.put(custom_id, completion)

    def _fail(self, item: _Item) -> None:
        from justeval.engine.engine import CallResult

        first = item.requests[0]
        for request in item.requests:
            self.run.record(CallResult(request, "error", completion=item.last, error=item.error,
                                       attempts=item.rounds, cost_usd=item.cost if request is first else None,
                                       endpoint=self.server, batch_id=item.batch_id))

    def _not_sent(self, items: list[_Item]) -> None:
        for item in items:
            for request in item.requests:
                self.run.not_sent(request)

    @staticmethod
    def _latency(info: BatchInfo) -> float:
        end = info.ended_at or time.time()
        return max(0.0, end - info.created_at) if info.created_at else 0.0

