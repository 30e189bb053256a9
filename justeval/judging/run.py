"""The judge stage: every `ok` generation of a run scored by an LLM judge, one record per item
as it arrives.

Judgment record (a line of `judgments.jsonl`, or `judgments/<judge>.jsonl` when several judges
score one run; `justeval.records.Judgment`):
- `id`, `generator`, `category`: the judged generation.
- `judge`: the judge spec (`openai:gpt-4o`).
- `template`: `{name, hash}`; `hash` is a short sha256 of the template text.
- `status`: `ok` (scores read), `parse_error` (the reply could not be read even after
  `--parse-retries` repeats; scores all null, `raw` keeps the last reply), `error` (the call
  failed, e.g. after transport retries; `error` says why, scores all null).
- `scores`: `{aspect: number or null}`; null with status `ok` means the judge said N/A (its
  reason is in `rationales`); never a number the judge did not give.
- `rationales`: `{aspect: text}`; `raw`: the judge's reply; `error`: the failure reason.
- `usage` (prompt/completion tokens), `latency_s`, `cost_usd` (null when the price is unknown;
  0 for a cache hit), `attempts` (calls made, including parse retries).
- `output_sha256`: sha256 of the output judged (a leaderboard leaves out a judgment whose
  item's output was replaced since); `identity`: the judging's identity (judge spec + the
  hashes of its template set, `records.judging_identity`); `repeat`: which of `repeats`
  scorings of the item (0..K-1). Records written before these existed lack them.

Where: the file `RunDir.judgments_path` gives the identity: the one that already holds it,
else today's `judgments.jsonl` (`judgments/<judge>.jsonl` for several judges) while it is free,
else `judgments/<judge>@<identity>.jsonl`; one file never mixes identities.

Resume: an item's repeat is done for a judging when a record of the same identity (an older
record: the same judge and template hash), `id` and `repeat` exists with status `ok` or
`parse_error` (a parse error already spent its retries; pass `retry_parse_errors=True` to try
those again) and judged the item's current output. `error` records are retried. Readers take
the last line per (id, judge, template hash, repeat).

Repeats (`JudgeSettings.repeats`, judge stability): each item is scored K times at the judge's
temperature; repeat r > 0 has its own request key and cache entry (`Request.repeat`), so even at
temperature 0 it is a call of its own and a non-deterministic API shows itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from justeval.engine.engine import CallResult, Engine, RunSummary, stage_engine
from justeval.engine.estimate import ModeEstimate
from justeval.engine.types import Backend, Completion, Request
from justeval.errors import JustevalError
from justeval.jsonl import JsonlAppender
from justeval.judging.estimate import CostEstimate, Pricer, estimate_calls
from justeval.judging.parse import ParsedScores, parse_scores
from justeval.judging.prompts import JudgeItem, JudgeTemplates, build_item
from justeval.records import Generation, ItemId, Judgment, TemplateRef, Usage, judging_identity, output_digest
from justeval.rundir import RunDir, holding

if TYPE_CHECKING:
    from justeval.engine.backend_spec import BackendSpec
    from justeval.engine.config import EngineConfig
    from justeval.instructions import Selection
    from justeval.settings import JudgeSettings


@dataclass
class JudgeSummary:
    """What one judge did in one invocation; the calls themselves are the engine's `engine`."""

    judge: str
    path: Path
    items: int = 0              # ok generations selected
    already_done: int = 0       # item repeats skipped: judged before (resume); items when repeats is 1
    to_do: int = 0              # calls planned in this invocation (items x repeats not done)
    skipped_generations: int = 0  # generations not `ok` (nothing to judge)
    engine: RunSummary = field(default_factory=RunSummary)
    estimate: CostEstimate | None = None
    modes: ModeEstimate | None = None  # a dry run's: synchronous, batch and prompt-caching costs side by side
    templates: dict[str, TemplateRef] = field(default_factory=dict)
    error_reasons: Counter[str] = field(default_factory=Counter)  # failure message -> items
    identity: str = ""          # the judging's identity (`records.judging_identity`)
    repeats: int = 1            # scorings per item

    def choice(self) -> list[str]:
        """What picks this judging on a board (`--template`): its identity, and its template
        hashes for records written before identities were recorded."""
        return [self.identity, *dict.fromkeys(t.hash for t in self.templates.values())]

    @property
    def nothing_usable(self) -> bool:
        """Every call failed and nothing was judged before."""
        e = self.engine
        nothing = e.ok == 0 and e.parse_errors == 0 and self.already_done == 0
        return nothing and (e.errors > 0 or e.stop_reason is not None)


def latest_generations(rd: RunDir) -> tuple[list[Generation], int]:
    """The `ok` generations to judge (the last line wins when an id repeats) and the number
    of ids whose latest generation is not usable."""
    latest = rd.latest_generations()
    usable = [g for g in latest.values() if g.status == "ok" and g.output is not None]
    return usable, len(latest) - len(usable)


@dataclass
class _Located:
    """A generation without its output (`output` emptied), and where its line starts: the judge
    stage reads each output back only while its request is built, so a run of long outputs is
    never held in memory whole. `repeats`: the repeats of it this invocation sends."""

    offset: int | None
    generation: Generation
    digest: str | None = None
    repeats: tuple[int, ...] = (0,)


def _latest_located(rd: RunDir) -> tuple[list[_Located], int]:
    """`latest_generations`, streamed: the usable ones located in the file, and the count of ids
    whose latest generation is not usable."""
    from justeval.streaming import iter_records

    latest: dict[ItemId, tuple[int, Generation, str | None]] = {}
    for offset, gen in iter_records(rd.generations, Generation):
        digest = output_digest(gen.output) if gen.output is not None else None
        latest[gen.id] = (offset, gen.model_copy(update={"output": "" if gen.output is not None else None}), digest)
    usable = [_Located(offset, g, digest) for offset, g, digest in latest.values()
              if g.status == "ok" and g.output is not None]
    return usable, len(latest) - len(usable)


class _Requests:
    """The judge requests, built one at a time as the engine takes them (it knows their number
    for the progress line): each output is read back from its line, rendered, and let go."""

    def __init__(self, rd: RunDir, todo: list[_Located], build: Callable[[Generation], JudgeItem],
                 items: dict[str, JudgeItem], *, keep_requests: bool = False) -> None:
        self.rd, self.todo, self.build, self.items = rd, todo, build, items
        self.keep_requests = keep_requests  # for estimates; a run lets each request go once it is sent

    def __len__(self) -> int:
        return len(self.todo)

    def check_templates(self) -> None:
        """Build the first request of each category now, so a template that fails to render
        (an undefined variable, a runtime error) stops the stage before anything is written."""
        first = {loc.generation.category: loc for loc in reversed(self.todo)}
        for item in _Requests(self.rd, list(first.values()), self.build, {}):
            del item

    def __iter__(self) -> Iterator[Request]:
        from contextlib import nullcontext

        from justeval.streaming import read_line

        on_disk = any(loc.offset is not None for loc in self.todo)
        with open(self.rd.generations, "rb") if on_disk else nullcontext() as fh:
            for located in self.todo:
                gen = located.generation
                if located.offset is not None:
                    gen = Generation.model_validate(read_line(self.rd.generations, located.offset, fh))
                item = self.build(gen)
                digest = output_digest(gen.output) if gen.output is not None else None
                for repeat in located.repeats:
                    again = item.again(repeat)
                    # what the record needs of the generation, without its output
                    request = again.request if self.keep_requests else Request(key=again.request.key)
                    self.items[again.request.key] = JudgeItem(
                        generation=located.generation, template=item.template, aspects=item.aspects,
                        request=request, output_sha256=digest, repeat=repeat)
                    yield again.request


def selected(rd: RunDir, gens: list[Generation], selection: Selection) -> list[Generation]:
    """The generations the selection options keep. Tags (task, topic, difficulty) and the lite
    ids come from the instruction source the run recorded."""
    if selection.is_everything():
        return gens
    from justeval.instructions import select
    from justeval.records import Instruction

    needs_source = selection.subset == "lite" or bool(selection.tasks or selection.topics or selection.difficulties)
    source = rd.read_manifest().instruction_source() if needs_source else None
    tags: dict[ItemId, Instruction] = {}
    if selection.tasks or selection.topics or selection.difficulties:
        from justeval.instructions import load_instructions

        tags = {inst.id: inst for inst in load_instructions(source)}
    items = [tags.get(g.id) or Instruction(id=g.id, instruction=g.instruction, dataset=g.dataset,
                                           category=g.category) for g in gens]
    keep = {inst.id for inst in select(items, selection, source=source)}
    return [g for g in gens if g.id in keep]


def done_keys(rd: RunDir, judge: str, *, retry_parse_errors: bool, identity: str | None = None,
              digests: dict[ItemId, str | None] | None = None) -> set[tuple[ItemId, str, int]]:
    """(id, template hash, repeat) this judging has already settled, in any judgments file: by a
    record of its `identity` (or an older record of this judge, which names none), of the item's
    current output where both are known (`digests`: id -> sha256 of its latest output)."""
    last: dict[tuple[ItemId, str, int], str] = {}
    for rec in rd.load_judgments(judge):
        if identity is not None and rec.identity not in (None, identity):
            continue  # another judging of this judge (other templates): its calls are not ours
        if digests is not None and rec.output_sha256 is not None and rec.output_sha256 != digests.get(rec.id):
            continue  # it judged an output that has since been replaced
        last[(rec.id, rec.template.hash, rec.repeat)] = rec.status
    keep = {"ok"} if retry_parse_errors else {"ok", "parse_error"}
    return {key for key, status in last.items() if status in keep}


def judge_run(run_dir: str | Path, settings: JudgeSettings, *, several_judges: bool = False, dry_run: bool = False,
              retry_parse_errors: bool = False, command: str | None = None,
              planned: Sequence[Generation] = ()) -> JudgeSummary:
    """Judge every selected `ok` generation in `run_dir` as `settings` say; see the module docstring.

    `planned` (dry runs only) are generations not made yet, estimated as if they were there."""
    from justeval.manifest import JudgeSection, TemplateInfo

    rd = RunDir(run_dir)
    settings = settings.absolute()
    spec = settings.judge.spec
    templates = JudgeTemplates.load(settings.template_multi, settings.template_safety)
    hashes = (templates.regular.hash, templates.safety.hash)
    identity = judging_identity(spec, hashes)
    with holding(rd, not dry_run):
        out_path = rd.judgments_path(spec, several=several_judges, identity=identity, template_hashes=hashes)
        by_category = (("regular", templates.regular), ("safety", templates.safety))
        summary = JudgeSummary(judge=spec, path=out_path, identity=identity, repeats=settings.repeats,
                               templates={c: TemplateRef(name=t.name, hash=t.hash) for c, t in by_category})
        if not rd.generations.exists() and not (dry_run and planned):
            rd.load_generations()  # raises the one-line "no generations" error
        located, summary.skipped_generations = _latest_located(rd) if rd.generations.exists() else ([], 0)
        if planned:
            have = {loc.generation.id for loc in located}
            located += [_Located(None, g) for g in planned if g.id not in have]
        keep = {g.id for g in selected(rd, [loc.generation for loc in located], settings.selection)}
        located = [loc for loc in located if loc.generation.id in keep]
        summary.items = len(located)
        done = done_keys(rd, spec, retry_parse_errors=retry_parse_errors, identity=identity,
                         digests={loc.generation.id: loc.digest for loc in located if loc.offset is not None})
        todo: list[_Located] = []
        for loc in located:
            tpl = templates.for_category(loc.generation.category).hash
            repeats = tuple(r for r in range(settings.repeats) if (loc.generation.id, tpl, r) not in done)
            if repeats:
                todo.append(_Located(loc.offset, loc.generation, loc.digest, repeats))
        summary.to_do = sum(len(loc.repeats) for loc in todo)
        summary.already_done = len(located) * settings.repeats - summary.to_do
        config = settings.engine.but(description=f"judge {spec}")

        if dry_run:
            # the schema sent with our own templates counts as prompt tokens; without a usable
            # backend here (no key yet), assume it will take structured output, as most do, and
            # price by the judge's list price
            backend = buildable(settings.judge, config, estimate=True)
            structured = backend.supports_response_format() if backend else True
            summary.estimate, summary.modes = _estimate(rd, todo, lambda g: build_item(
                g, templates, params=settings.params, judge_system=settings.judge_system, max_words=settings.max_words,
                structured=structured), spec, settings.params.max_tokens, backend)
            return summary
        if not todo:
            return summary

        config = stage_engine(settings.engine, f"judge {spec}", rd)
        engine = Engine(settings.judge, config)  # one backend per server in base_urls
        structured = engine.backend.supports_response_format()
        items: dict[str, JudgeItem] = {}
        def build(g: Generation) -> JudgeItem:
            return build_item(g, templates, params=settings.params, judge_system=settings.judge_system,
                              max_words=settings.max_words, structured=structured)

        requests = _Requests(rd, todo, build, items)
        requests.check_templates()  # a template that cannot render fails here, before anything is written
        first = out_path in (rd.judgments_path(spec), rd.judgments_path(spec, several=True))
        rd.record("judging", JudgeSection(command=command, settings=settings, templates={
            c: TemplateInfo(name=t.name, hash=t.hash, source=t.source, upstream=t.upstream) for c, t in by_category}),
            key=spec if first else f"{spec}@{identity}")
        started = time.perf_counter()
        with JsonlAppender(out_path) as appender:
            summary.engine = asyncio.run(_judge_items(engine, requests, items, spec, appender, summary.error_reasons,
                                                      identity))
        summary.engine.wall_s = time.perf_counter() - started
        return summary


def _estimate(rd: RunDir, todo: list[_Located], build: Callable[[Generation], JudgeItem], spec: str,
              max_tokens: int | None, backend: Backend | None, chunk: int = 256) -> tuple[CostEstimate, ModeEstimate]:
    """The dry run's estimate, from the very requests a run would send, built a chunk at a time:
    synchronous calls, and the same sent in batch and with provider prompt caching (shared
    prefixes are found within a chunk)."""
    from justeval.judging.estimate import estimate_judge_modes

    price = _pricer(backend) if backend is not None else None
    items: dict[str, JudgeItem] = {}
    total = CostEstimate(calls=0, prompt_tokens=0, completion_tokens=0, cost_usd=0.0)
    modes: ModeEstimate | None = None
    batch: list[JudgeItem] = []

    def settle() -> None:
        nonlocal total, modes
        total = _add(total, estimate_calls(batch, spec, max_tokens=max_tokens, price=price))
        part = estimate_judge_modes(batch, spec, max_tokens=max_tokens, backend=backend)
        modes = part if modes is None else modes.plus(part)
        batch.clear()

    for request in _Requests(rd, todo, build, items, keep_requests=True):
        batch.append(items.pop(request.key))
        if len(batch) >= chunk:
            settle()
    if batch or modes is None:
        settle()
    assert modes is not None
    return total, modes


def _add(a: CostEstimate, b: CostEstimate) -> CostEstimate:
    cost = None if a.cost_usd is None or b.cost_usd is None else a.cost_usd + b.cost_usd
    return CostEstimate(calls=a.calls + b.calls, prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                        completion_tokens=a.completion_tokens + b.completion_tokens, cost_usd=cost)


def judge_many(run_dir: str | Path, judges: Sequence[JudgeSettings], *, dry_run: bool = False,
               retry_parse_errors: bool = False, command: str | None = None,
               planned: Sequence[Generation] = ()) -> list[JudgeSummary]:
    """Several judges on one run, one file each; the first judge's budget is shared by all of them."""
    several = len({j.judge.spec for j in judges}) > 1
    budget = judges[0].engine.budget_usd if judges else None
    summaries: list[JudgeSummary] = []
    spent = 0.0
    for settings in judges:
        if budget is not None:
            settings = settings.model_copy(update={"engine": settings.engine.but(budget_usd=max(0.0, budget - spent))})
        summary = judge_run(run_dir, settings, several_judges=several, dry_run=dry_run,
                            retry_parse_errors=retry_parse_errors, command=command, planned=planned)
        spent += summary.engine.cost_usd
        summaries.append(summary)
    return summaries


def buildable(spec: BackendSpec, config: EngineConfig, *, estimate: bool = False) -> Backend | None:
    """The backend, or None when it cannot be set up here (no API key yet): estimates then use
    list prices by name. For an `estimate` the key is not looked up (nothing is sent)."""
    try:
        return spec.build(timeout_s=config.timeout_s, key=not estimate)
    except JustevalError:
        return None


def backend_pricer(spec: BackendSpec) -> Pricer | None:
    """Price estimates as the backend will charge them (a self-hosted server has no price);
    None (list price by name) when the backend cannot be set up here, e.g. no API key yet."""
    from justeval.engine.config import EngineConfig

    backend = buildable(spec, EngineConfig())
    return _pricer(backend) if backend is not None else None


def _pricer(backend: Backend) -> Pricer:
    return lambda prompt, completion: backend.cost_usd(Usage(prompt_tokens=prompt, completion_tokens=completion))


async def _judge_items(engine: Engine, requests: _Requests, by_key: dict[str, JudgeItem], judge: str,
                       appender: JsonlAppender, reasons: Counter[str], identity: str | None = None) -> RunSummary:
    """One engine pass over every item; each reply is validated against its own template's
    aspects, so regular and safety items share the concurrency and the budget. `by_key` fills as
    `requests` are taken; an entry is dropped once its record is written."""

    def on_result(result: CallResult) -> None:
        record = to_judgment(by_key.pop(result.request.key), judge, result, identity)
        appender.write(record)
        if record.status == "error":
            reasons[record.error or "error"] += 1

    def validate(request: Request, completion: Completion) -> ParsedScores:
        return parse_scores(completion.text, by_key[request.key].aspects)

    return await engine.run(requests, on_result, validate_request=validate)


def to_judgment(item: JudgeItem, judge: str, result: CallResult, identity: str | None = None) -> Judgment:
    gen = item.generation
    completion = result.completion
    parsed = result.parsed if result.status == "ok" else None
    if parsed is not None and not isinstance(parsed, ParsedScores):
        raise TypeError(f"unexpected parsed value {type(parsed).__name__}")
    return Judgment(
        id=gen.id, judge=judge, generator=gen.generator, category=gen.category,
        template=TemplateRef(name=item.template.name, hash=item.template.hash),
        status=result.status,
        scores=dict(parsed.scores) if parsed else {a: None for a in item.aspects},
        rationales=dict(parsed.rationales) if parsed else {},
        raw=completion.text if completion is not None else None,
        error=result.error if result.status != "ok" else None,
        usage=completion.usage if completion is not None else Usage(),
        latency_s=round(result.latency_s, 4), cost_usd=result.cost_usd, attempts=result.attempts,
        endpoint=result.endpoint, batch_id=result.batch_id, output_sha256=item.output_sha256,
        repeat=item.repeat, identity=identity)
