"""The generation stage: one output per instruction from any backend, appended to
`generations.jsonl` as each call finishes.

Generation record (`justeval.records.Generation`, one JSON line each): `id`, `instruction`,
`output`, `generator`, `dataset`, `category` (the fields the original just-eval readers use),
plus `status` (`ok`, or `error` with `error` holding the message and `output` null),
`params` (decoding parameters, and the URIAL prompt / ICL examples used), `usage`,
`latency_s`, `finish_reason`, `cost_usd` (null when the price is unknown, 0 for a cache hit)
and `cached`.

Resume: re-running the same command on the same run directory requests only the items whose
latest record is not `ok`; failed items are asked again and their new record appended, and
readers take the last line per id (`justeval.generation.resume.latest_generations`). A run
directory belongs to one generator and one set of settings: re-running it with a different
model, decoding parameters or prompt is refused rather than mixing outputs.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from justeval.engine.engine import CallResult, Engine, RunSummary, stage_engine
from justeval.errors import JustevalError
from justeval.generation.prompting import PromptBuilder
from justeval.jsonl import JsonlAppender
from justeval.judging.estimate import CostEstimate
from justeval.records import Generation, Instruction, ItemId, Usage, id_order
from justeval.rundir import RunDir, holding

if TYPE_CHECKING:
    from justeval.settings import GenerateSettings


@dataclass
class GenerateSummary:
    """What one invocation of the stage did; the calls themselves are the engine's `engine`."""

    path: Path
    generator: str
    items: int = 0            # instructions selected
    already_done: int = 0     # ok before this invocation (resume)
    to_do: int = 0            # requested in this invocation
    engine: RunSummary = field(default_factory=RunSummary)
    error_ids: list[ItemId] = field(default_factory=list)
    error_reasons: Counter[str] = field(default_factory=Counter)  # failure message -> items
    estimate: CostEstimate | None = None  # a dry run's: completion tokens and cost are upper bounds

    @property
    def failed(self) -> int:
        """Items that came back without a usable output in this invocation."""
        return self.engine.errors + self.engine.parse_errors

    @property
    def nothing_usable(self) -> bool:
        """Every call failed, or the run stopped with nothing done: there is nothing to go on with."""
        nothing = self.engine.ok == 0 and self.already_done == 0
        return nothing and (self.failed > 0 or self.engine.stop_reason is not None)


def generate(settings: GenerateSettings, out_dir: str | Path, *, instructions: list[Instruction] | None = None,
             command: str | None = None, dry_run: bool = False) -> GenerateSummary:
    """Generate outputs into `out_dir` as `settings` say (resumable; see the module docstring).

    `instructions` are the items to answer (default: the settings' source and selection,
    loaded now); `command` is the invocation recorded in run.json (never a secret: keys are
    only named). `dry_run` counts the calls and the prompt tokens of the very requests that
    would be sent, prices them with every answer at `max_tokens` (an upper bound), and sends
    and writes nothing."""
    from justeval.instructions import load_selection
    from justeval.manifest import GenerateSection

    settings = settings.absolute()
    items = instructions if instructions is not None else load_selection(settings.instructions, settings.selection)
    builder = PromptBuilder.from_settings(settings.prompt, settings.params, backend=settings.model)
    request_params = builder.request_params()
    generator = settings.generator_name

    rd = RunDir(out_dir) if dry_run else RunDir(out_dir).ensure()
    with holding(rd, not dry_run):
        section = GenerateSection(command=command, settings=settings, items=len(items), request_params=request_params,
                                  prompt=builder.identity, prompt_sources=builder.sources)
        existing = rd.latest_generations()
        _check_same_run(rd, section, existing, items)
        summary = GenerateSummary(path=rd.generations, generator=generator, items=len(items))
        done = {i for i, g in existing.items() if g.status == "ok"}
        todo = [inst for inst in items if inst.id not in done]
        summary.already_done = len(items) - len(todo)
        summary.to_do = len(todo)
        if dry_run:
            summary.estimate = estimate_generation(settings, builder, todo)
            return summary
        rd.record("generate", section)
        if not todo:
            return summary

        config = stage_engine(settings.engine, f"generate {settings.model.spec}", rd)
        engine = Engine(settings.model, config)  # one backend per server in base_urls
        defaults = getattr(engine.backend, "generation_defaults", None)  # an hf model folder's generation_config.json
        backend_params: dict[str, Any] = {"generation_config": defaults} if isinstance(defaults, dict) else {}
        by_key: dict[str, tuple[Instruction, dict[str, Any]]] = {}
        requests = []
        for inst in todo:
            request, extra = builder.build(inst, request_params)
            by_key[request.key] = (inst, extra)
            requests.append(request)
        record_params = request_params.model_dump(exclude_none=True)

        started = time.perf_counter()
        with JsonlAppender(rd.generations) as appender:

            def on_result(result: CallResult) -> None:
                inst, extra = by_key[result.request.key]
                params = {**record_params, **backend_params, **extra}
                gen = to_generation(inst, result, generator=generator, params=params,
                                    clean=builder.clean_output if builder.completion_prompt else None)
                appender.write(gen)
                if gen.status != "ok":
                    summary.error_ids.append(gen.id)
                    summary.error_reasons[gen.error or "error"] += 1

            summary.engine = engine.run_sync(requests, on_result)
        summary.engine.wall_s = time.perf_counter() - started
        summary.error_ids.sort(key=id_order)
        return summary


def estimate_generation(settings: GenerateSettings, builder: PromptBuilder, todo: list[Instruction]) -> CostEstimate:
    """Calls, prompt tokens and the most the answers can cost (every one at `max_tokens`)."""
    from justeval.engine.pricing import count_tokens, estimate_cost
    from justeval.judging.run import buildable

    params = builder.request_params()
    prompt_tokens = 0
    for inst in todo:
        request, _ = builder.build(inst, params)
        text = request.prompt if request.prompt is not None else "\n".join(m.content for m in request.messages)
        prompt_tokens += count_tokens(text, settings.model.spec) + 4 * len(request.messages)
    completion_tokens = (params.max_tokens or 0) * len(todo)
    backend = buildable(settings.model, settings.engine, estimate=True)
    if not todo:
        cost: float | None = 0.0
    elif backend is not None:
        cost = backend.cost_usd(Usage(prompt_tokens=prompt_tokens, completion_tokens=completion_tokens))
    else:
        cost = estimate_cost(settings.model.spec, prompt_tokens, completion_tokens)
    return CostEstimate(calls=len(todo), prompt_tokens=prompt_tokens, completion_tokens=completion_tokens,
                        cost_usd=cost)


def to_generation(inst: Instruction, result: CallResult, *, generator: str, params: dict[str, Any],
                  clean: Callable[[str], str] | None = None) -> Generation:
    """The record for one finished call; `clean` cuts a URIAL/ICL completion to the answer."""
    completion = result.completion
    ok = result.status == "ok" and completion is not None
    output = None
    if ok and completion is not None:
        output = clean(completion.text) if clean is not None else completion.text
    return Generation(
        id=inst.id, instruction=inst.instruction, output=output, generator=generator, dataset=inst.dataset,
        category=inst.category, status="ok" if ok else "error",
        error=None if ok else (result.error or result.status), params=params,
        usage=completion.usage if completion is not None else Usage(),
        latency_s=round(result.latency_s, 4) if ok else None,
        finish_reason=completion.finish_reason if completion is not None else None,
        cost_usd=result.cost_usd, cached=result.cached, endpoint=result.endpoint, batch_id=result.batch_id)


def _check_same_run(rd: RunDir, new: Any, existing: dict[ItemId, Generation],
                    instructions: list[Instruction]) -> None:
    """Refuse to mix outputs of different models, settings or instruction texts in one run."""
    if not existing:
        return
    hint = "; use a new --out directory"
    old = rd.read_manifest().generate
    if old is not None:
        for what, before, now in (
                ("model", old.settings.model.spec, new.settings.model.spec),
                ("generator", old.settings.generator_name, new.settings.generator_name),
                ("endpoint", old.settings.model.endpoint, new.settings.model.endpoint),
                ("params", old.request_params.model_dump(exclude_none=True),
                 new.request_params.model_dump(exclude_none=True)),
                ("prompt", old.prompt, new.prompt)):
            if before != now:
                raise JustevalError(f"{rd.path} was generated with different {what} ({before!r}, now {now!r}){hint}")
    generators = {g.generator for g in existing.values() if g.status == "ok"}
    if generators - {new.settings.generator_name}:
        raise JustevalError(f"{rd.generations} holds outputs of {sorted(generators)}, "
                            f"not {new.settings.generator_name!r}{hint}")
    for inst in instructions:
        prev = existing.get(inst.id)
        if prev is not None and prev.instruction != inst.instruction:
            raise JustevalError(f"{rd.generations}: id {inst.id} was generated for a different instruction text "
                                f"than the current instruction set{hint}")
