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

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.engine.engine import CallResult, Engine, EngineConfig
from justeval.engine.types import Backend, GenParams, Request
from justeval.errors import JustevalError
from justeval.generation import urial as urial_mod
from justeval.generation.icl import ExampleSelector, load_pool, pool_hash
from justeval.generation.prompting import PromptBuilder
from justeval.generation.resume import latest_generations
from justeval.instructions import DEFAULT_SOURCE, Selection
from justeval.jsonl import JsonlAppender
from justeval.paths import local_path
from justeval.records import Generation, Instruction, ItemId, Usage
from justeval.rundir import RunDir

DEFAULT_PARAMS = GenParams(temperature=0.0, max_tokens=2048)


@dataclass
class GenerateSummary:
    path: Path
    generator: str
    items: int = 0            # instructions selected
    already_done: int = 0     # ok before this invocation (resume)
    to_do: int = 0            # requested in this invocation
    ok: int = 0
    errors: int = 0
    cached: int = 0
    retries: int = 0
    calls: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    skipped_budget: int = 0   # not sent: --budget reached (run again to continue)
    wall_s: float = 0.0
    error_ids: list[ItemId] = field(default_factory=list)


def generate(model_spec: str, instructions: list[Instruction], out_dir: str | Path, *,
             params: GenParams | None = None, system: str | None = None, urial: str | None = None,
             icl_examples: str | Path | None = None, shots: int = 0, select: str = "fixed", seed: int = 0,
             engine_config: EngineConfig | None = None, backend_options: dict[str, Any] | None = None,
             generator_name: str | None = None, instructions_source: str | Path | None = None,
             selection: Selection | None = None, meta: dict[str, Any] | None = None) -> GenerateSummary:
    """Generate outputs for `instructions` into `out_dir` (resumable; see the module docstring).

    `generator_name` is the `generator` written in each record (default: the model spec).
    `instructions_source` and `selection` say where the items came from, for run.json; `meta`
    is merged into run.json's `generate` section (the CLI puts the command line there). None
    of these may hold secrets: only the *name* of a key variable goes into backend_options.
    """
    params = params or DEFAULT_PARAMS
    config = engine_config or EngineConfig(description="generate")
    options = {k: v for k, v in (backend_options or {}).items() if v is not None}
    generator = generator_name or model_spec
    if urial is not None and system:
        raise JustevalError("--system and --urial cannot be combined: the URIAL prompt is the preamble")
    builder = PromptBuilder(params=params, system=system)
    prompt_meta: dict[str, Any] = {"system": system}  # what decides the prompts (compared on resume)
    sources: dict[str, Any] = {}                         # where the prompt parts came from
    if urial is not None:
        builder.urial = urial_mod.load_urial(urial)
        prompt_meta["urial_sha256"] = builder.urial.sha256
        sources["urial"] = {"name": builder.urial.name, "source": builder.urial.source}
    if icl_examples is not None:
        pool = load_pool(icl_examples)
        builder.selector = ExampleSelector(pool, shots, select, seed)
        prompt_meta["icl"] = {"pool_sha256": pool_hash(pool), "shots": shots, "select": select,
                              "seed": seed if select == "random" else None}
        sources["icl_examples"] = {"file": local_path(str(icl_examples)), "pool_size": len(pool)}
    request_params = builder.request_params()
    settings = {"model": model_spec, "generator": generator, "completion": bool(options.get("completion")),
                "params": request_params.model_dump(exclude_none=True), "prompt": prompt_meta}

    rd = RunDir(out_dir).ensure()
    existing = latest_generations(rd)
    _check_same_run(rd, settings, existing, instructions)
    summary = GenerateSummary(path=rd.generations, generator=generator, items=len(instructions))
    done = {i for i, g in existing.items() if g.status == "ok"}
    todo = [inst for inst in instructions if inst.id not in done]
    summary.already_done = len(instructions) - len(todo)
    summary.to_do = len(todo)
    origin = {"source": str(local_path(str(instructions_source or DEFAULT_SOURCE))), "items": len(instructions)}
    if selection is not None:
        origin["selection"] = _selection_meta(selection)
    rd.write_meta("generate", {**(meta or {}), "instructions": origin, "settings": settings,
                               "prompt_sources": sources, "engine": _engine_meta(config),
                               "backend": {k: v for k, v in options.items() if k in ("base_url", "api_key_env")}})
    if not todo:
        return summary

    backend = _make_backend(model_spec, options)
    by_key: dict[str, tuple[Instruction, Request, dict[str, Any]]] = {}
    for inst in todo:
        request, extra = builder.build(inst, request_params)
        by_key[request.key] = (inst, request, extra)
    record_params = request_params.model_dump(exclude_none=True)

    started = time.perf_counter()
    with JsonlAppender(rd.generations) as appender:

        def on_result(result: CallResult) -> None:
            inst, _, extra = by_key[result.request.key]
            gen = to_generation(inst, result, generator=generator, params={**record_params, **extra},
                                clean=builder.completion_prompt)
            appender.write(gen)
            if gen.status != "ok":
                summary.error_ids.append(gen.id)

        res = Engine(backend, config).run_sync([r for _, r, _ in by_key.values()], on_result)
    summary.wall_s = time.perf_counter() - started
    summary.ok, summary.errors, summary.cached = res.ok, res.errors + res.parse_errors, res.cached
    summary.retries, summary.calls = res.retries, res.calls
    summary.cost_usd, summary.unpriced_calls = res.cost_usd, res.unpriced_calls
    summary.skipped_budget = res.skipped_budget
    return summary


def to_generation(inst: Instruction, result: CallResult, *, generator: str, params: dict[str, Any],
                  clean: bool) -> Generation:
    """The record for one finished call; URIAL/ICL completions are cut to the answer."""
    completion = result.completion
    ok = result.status == "ok" and completion is not None
    output = None
    if ok and completion is not None:
        output = urial_mod.clean_output(completion.text) if clean else completion.text
    return Generation(
        id=inst.id, instruction=inst.instruction, output=output, generator=generator, dataset=inst.dataset,
        category=inst.category, status="ok" if ok else "error",
        error=None if ok else (result.error or result.status), params=params,
        usage=completion.usage if completion is not None else Usage(),
        latency_s=round(result.latency_s, 4) if ok else None,
        finish_reason=completion.finish_reason if completion is not None else None,
        cost_usd=result.cost_usd, cached=result.cached)


def _check_same_run(rd: RunDir, settings: dict[str, Any], existing: dict[ItemId, Generation],
                    instructions: list[Instruction]) -> None:
    """Refuse to mix outputs of different models, settings or instruction texts in one run."""
    if not existing:
        return
    hint = "; use a new --out directory"
    previous = rd.read_meta().get("generate")
    old = previous.get("settings") if isinstance(previous, dict) else None
    if isinstance(old, dict):
        for key in ("model", "generator", "completion", "params", "prompt"):
            if key in old and old[key] != settings[key]:
                raise JustevalError(f"{rd.path} was generated with different {key} "
                                    f"({old[key]!r}, now {settings[key]!r}){hint}")
    generators = {g.generator for g in existing.values() if g.status == "ok"}
    if generators - {settings["generator"]}:
        raise JustevalError(f"{rd.generations} holds outputs of {sorted(generators)}, "
                            f"not {settings['generator']!r}{hint}")
    for inst in instructions:
        prev = existing.get(inst.id)
        if prev is not None and prev.instruction != inst.instruction:
            raise JustevalError(f"{rd.generations}: id {inst.id} was generated for a different instruction text "
                                f"than the current instruction set{hint}")


def _selection_meta(sel: Selection) -> dict[str, Any]:
    """The selection options that were set (defaults left out), JSON-ready."""
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(sel).items()
            if v not in (None, [], "")}


def _engine_meta(config: EngineConfig) -> dict[str, Any]:
    return {"concurrency": config.concurrency, "rpm": config.rpm, "tpm": config.tpm,
            "max_retries": config.max_retries, "timeout_s": config.timeout_s, "cache": config.cache}


def _make_backend(spec: str, options: dict[str, Any]) -> Backend:
    from justeval.engine.backend_spec import BackendSpec

    opts = {k: v for k, v in options.items() if v is not None}
    endpoint = "completions" if opts.get("completion") else "chat"
    return BackendSpec(spec=spec, base_urls=opts.get("base_url"), api_key_env=opts.get("api_key_env"),
                       endpoint=endpoint).build(timeout_s=opts.get("timeout"))
