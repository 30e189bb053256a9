"""The experiments of the in-context alignment papers, as library functions over the generate and
judge stages (every call goes through them: resume, cache, budget and records as usual).

- `sweep`: one generation + judging per configuration (K demonstrations x selection mode) on one
  instruction selection, each in `OUT/<config>/`, sharing the reply cache; returns the points of
  a score-vs-K chart ("Is In-Context Learning Sufficient for Instruction Following in LLMs?",
  arXiv 2405.19874, and URIAL's K ablations) and writes them to `OUT/sweep.json`.
- `icl_select`: greedy selection of demonstrations (2405.19874's method): at each step every
  candidate from the pool is tried as the next demonstration of the current prompt, the outputs
  on the dev instructions are judged, and the best-scoring candidate is kept. Writes the final
  prompt file (a URIAL prompt `--urial` reads) and a JSONL log of every score. Each candidate's
  generation and judging is a run directory under the work folder, so a rerun pays for nothing
  twice; `dry_run` plans the calls and their cost instead.

K counts the demonstrations added from the pool; a URIAL prompt's own examples are not counted
(the paper's K=8 with URIAL is URIAL's three plus five).
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.config import EngineConfig
from justeval.engine.types import GenParams
from justeval.errors import JustevalError, UsageError
from justeval.generation import urial as urial_mod
from justeval.generation.icl import DEFAULT_LEAK_THRESHOLD, SELECT_MODES, LeakGuard, load_pool, pool_hash, tokenize
from justeval.generation.prompting import IclPosition, PromptBuilder, PromptSettings
from justeval.records import Instruction, Judgment

DEFAULT_GEN_PARAMS = GenParams(temperature=0.0, max_tokens=2048)
DEFAULT_JUDGE_MAX_TOKENS = 1024
SWEEP_FILE = "sweep.json"
SETTINGS_FILE = "icl-select.json"


# -- settings -------------------------------------------------------------------------------------
class SweepSettings(BaseModel):
    """One K sweep (`justeval sweep`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: BackendSpec
    """The model that generates (`--model`, `--base-url`, `--completion`)."""

    judge: BackendSpec
    """The judge (`--judge`, `--judge-base-url`)."""

    shots: list[int] = Field(default_factory=lambda: [0, 3, 8, 16, 50])
    """The K values, demonstrations added from the pool (`--shots 0,3,8,16,50`)."""

    selects: list[str] = Field(default_factory=lambda: ["random-fixed"])
    """Selection modes swept (`--select`, repeatable): fixed, random, random-fixed, similar."""

    prompt: PromptSettings = Field(default_factory=PromptSettings)
    """The prompt every configuration shares (`--urial`, `--icl-examples`, `--seed`, ...); its
    `shots` and `select` are set per configuration."""

    params: GenParams = Field(default_factory=lambda: DEFAULT_GEN_PARAMS.model_copy())
    """Decoding parameters of the model (`--temperature`, `--max-tokens`, `--repetition-penalty`, `--param`)."""

    judge_params: GenParams | None = None
    """Decoding parameters of the judge (`--judge-max-tokens`); None: the judge stage's defaults."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    """Concurrency, retries, cache and the total budget of the whole sweep (`--budget`)."""

    generator: str | None = None
    """Base of the generator names (`--generator`; default: the model spec); each run's is `<base>+<config>`."""

    @field_validator("shots")
    @classmethod
    def _shots(cls, value: list[int]) -> list[int]:
        if not value or any(k < 0 for k in value):
            raise ValueError("--shots needs one or more numbers >= 0")
        return list(dict.fromkeys(value))

    @field_validator("selects")
    @classmethod
    def _selects(cls, value: list[str]) -> list[str]:
        unknown = [s for s in value if s not in SELECT_MODES]
        if unknown or not value:
            given = ", ".join(unknown) or "(none)"
            raise ValueError(f"unknown --select {given} (choose from {', '.join(SELECT_MODES)})")
        return list(dict.fromkeys(value))


class IclSelectSettings(BaseModel):
    """One greedy selection of demonstrations (`justeval icl-select`)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    model: BackendSpec
    """The model that generates (`--model`, `--base-url`, `--completion`)."""

    judge: BackendSpec
    """The judge whose scores decide (`--judge`, `--judge-base-url`)."""

    pool: str
    """Candidate demonstrations: JSONL/JSON of {instruction, output[, source_id]} (`--pool`)."""

    start: str
    """The prompt to extend: a URIAL prompt file, URL or `default` (`--start`)."""

    start_format: urial_mod.FormatChoice = "auto"
    """Query layout of the start prompt (`--urial-format`); auto: by its version."""

    steps: int = Field(3, ge=1)
    """Demonstrations to add, one per step (`--steps`)."""

    candidates: int = Field(10, ge=1)
    """Candidates tried at each step, drawn (seeded) from the pool's unused examples; all of them
    when the pool has no more (`--candidates`)."""

    seed: int = 0
    """Seed of the candidate draw (`--seed`)."""

    position: IclPosition = "before"
    """Where the chosen demonstrations go: before the prompt's own examples (as the paper's
    `urial.plus.best_4&5&6` files) or after them (`--icl-position`)."""

    aspects: list[str] | None = None
    """Aspects whose mean is maximised (`--aspect`, repeatable); None: every aspect an item's judgment has."""

    leak_threshold: float = Field(DEFAULT_LEAK_THRESHOLD, gt=0, le=1)
    """Candidates this similar to a dev instruction are never tried (`--leak-threshold`)."""

    urial_clean: urial_mod.CleanMode = "fences"
    """Output cleaning of the completions (`--urial-clean`)."""

    params: GenParams = Field(default_factory=lambda: DEFAULT_GEN_PARAMS.model_copy())
    """Decoding parameters of the model."""

    judge_params: GenParams | None = None
    """Decoding parameters of the judge; None: the judge stage's defaults."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    """Concurrency, retries, cache and the total budget of the whole selection (`--budget`)."""


# -- results ------------------------------------------------------------------------------------
@dataclass
class RunScore:
    """The judged scores of one run directory: `mean` of the items' means (None: nothing scored)."""

    items: int = 0
    scored: int = 0
    mean: float | None = None
    aspects: dict[str, float] = field(default_factory=dict)


@dataclass
class CostPlan:
    """What a dry run would send: calls, and USD upper bounds (None: no price known). Every
    answer is priced at max_tokens and judged at that length; resume and the cache only lower it."""

    generation_calls: int = 0
    judge_calls: int = 0
    generation_cost_usd: float | None = 0.0
    judge_cost_usd: float | None = 0.0

    def add(self, gen_calls: int, gen_cost: float | None, judge_calls: int, judge_cost: float | None) -> None:
        self.generation_calls += gen_calls
        self.judge_calls += judge_calls
        self.generation_cost_usd = _plus(self.generation_cost_usd, gen_cost)
        self.judge_cost_usd = _plus(self.judge_cost_usd, judge_cost)


@dataclass
class SweepPoint:
    """One configuration of the sweep: a run directory and its score."""

    name: str
    shots: int
    select: str | None
    run_dir: Path
    generator: str
    score: RunScore
    cost_usd: float = 0.0


@dataclass
class SweepResult:
    out: Path
    points: list[SweepPoint] = field(default_factory=list)
    plan: CostPlan | None = None

    @property
    def run_dirs(self) -> list[Path]:
        return [p.run_dir for p in self.points]

    def chart(self) -> list[dict[str, Any]]:
        """The score-vs-K series: one row per configuration (select, K, mean, per aspect, items)."""
        return [{"name": p.name, "select": p.select, "shots": p.shots, "mean": p.score.mean,
                 "aspects": p.score.aspects, "items": p.score.items, "scored": p.score.scored,
                 "run_dir": str(p.run_dir), "generator": p.generator} for p in self.points]


@dataclass
class CandidateScore:
    step: int
    candidate: int
    instruction: str
    run_dir: Path
    score: RunScore


@dataclass
class IclSelectResult:
    out: Path
    log: Path
    work: Path
    start: RunScore | None = None
    chosen: list[int] = field(default_factory=list)
    scores: list[CandidateScore] = field(default_factory=list)
    step_scores: list[float | None] = field(default_factory=list)
    plan: CostPlan | None = None
    urial_format_flag: str | None = None  # `--urial-format X` when the written prompt needs it to be read back


# -- the sweep ----------------------------------------------------------------------------------
def sweep_configs(settings: SweepSettings) -> list[tuple[str, int, str | None]]:
    """(name, K, select) per configuration, in order; K=0 is one configuration whatever the select."""
    if settings.prompt.icl_examples is None and any(settings.shots):
        raise UsageError("--shots above 0 need --icl-examples FILE (the pool the demonstrations come from)")
    configs: list[tuple[str, int, str | None]] = []
    for k in settings.shots:
        if k == 0:
            configs.append(("k0", 0, None))
            continue
        configs += [(f"{select}-k{k}", k, select) for select in settings.selects]
    return configs


def sweep(settings: SweepSettings, instructions: Sequence[Instruction], out: str | Path, *,
          dry_run: bool = False, command: str | None = None) -> SweepResult:
    """Run every configuration of `settings` on `instructions` into `out/<config>/` (resumable:
    the same call again continues; see the module docstring)."""
    out = Path(out)
    items = list(instructions)
    result = SweepResult(out=out)
    base = settings.generator or settings.model.spec
    configs = sweep_configs(settings)
    if dry_run:
        result.plan = CostPlan()
        for _, k, select in configs:
            prompt = _config_prompt(settings.prompt, k, select)
            result.plan.add(*_plan_pass(settings.model, settings.judge, prompt, settings.params, settings.judge_params,
                                        items))
        return result
    spent = 0.0
    for name, k, select in configs:
        prompt = _config_prompt(settings.prompt, k, select)
        run_dir = out / name
        engine = _remaining_budget(settings.engine, spent)
        gen = _generate_stage(settings.model, prompt, settings.params, items, run_dir, engine=engine,
                              generator=f"{base}+{name}", command=command)
        spent += gen.cost_usd
        _stop_if_over_budget(gen.skipped_budget, f"sweep {name}")
        judged = _judge_stage(run_dir, settings.judge, settings.judge_params, _remaining_budget(settings.engine, spent),
                              command=command)
        spent += judged.cost_usd
        _stop_if_over_budget(judged.skipped_budget, f"sweep {name}")
        point = SweepPoint(name=name, shots=k, select=select, run_dir=run_dir, generator=f"{base}+{name}",
                           score=run_score(run_dir, settings.judge.spec), cost_usd=gen.cost_usd + judged.cost_usd)
        result.points.append(point)
        _write_sweep_file(out, settings, result)
    return result


def _config_prompt(base: PromptSettings, k: int, select: str | None) -> PromptSettings:
    if k == 0:  # no pool demonstrations: the URIAL prompt alone, or the bare zero-shot layout
        if base.urial is not None:
            return base.model_copy(update={"icl_examples": None, "shots": 3, "select": "fixed",
                                           "context_tokens": None, "tokenizer": None,
                                           "leak_threshold": DEFAULT_LEAK_THRESHOLD, "icl_position": "before",
                                           "icl_format": "auto"})
        return base.model_copy(update={"shots": 0, "select": "fixed"})
    return base.model_copy(update={"shots": k, "select": select or "fixed"})


def _write_sweep_file(out: Path, settings: SweepSettings, result: SweepResult) -> None:
    from justeval.jsonl import atomic_output

    data = {"kind": "sweep", "settings": settings.model_dump(mode="json"), "points": result.chart()}
    with atomic_output(out / SWEEP_FILE) as fh:
        fh.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


# -- greedy selection ---------------------------------------------------------------------------
def icl_select(settings: IclSelectSettings, dev: Sequence[Instruction], out: str | Path, *,
               work: str | Path | None = None, log: str | Path | None = None, dry_run: bool = False,
               command: str | None = None) -> IclSelectResult:
    """Greedy selection (see the module docstring). `work` (default `<out>.work/`) holds one run
    directory per tried prompt; `log` (default `<out stem>.steps.jsonl`) gets a line per score."""
    from justeval.jsonl import JsonlAppender, atomic_output

    out = Path(out)
    work_dir = Path(work) if work is not None else out.with_name(out.name + ".work")
    log_path = Path(log) if log is not None else out.with_name(out.stem + ".steps.jsonl")
    items = list(dev)
    if not items:
        raise UsageError("icl-select needs at least one dev instruction")
    start = urial_mod.load_urial(settings.start, fmt=settings.start_format)
    pool = load_pool(settings.pool)
    allowed = _non_leaking(pool, items, settings.leak_threshold)
    result = IclSelectResult(out=out, log=log_path, work=work_dir)
    if dry_run:
        result.plan = _plan_selection(settings, start, pool, allowed, items)
        return result
    _claim_work_dir(work_dir, settings, start, pool, items)
    logged = _read_log(log_path)
    spent = 0.0
    chosen: list[int] = []
    with JsonlAppender(log_path) as appender:

        def evaluate(prompt_text: str, run_dir: Path, label: str) -> RunScore:
            nonlocal spent
            prompt_file = run_dir.with_suffix(".txt")
            if not prompt_file.exists() or prompt_file.read_text(encoding="utf-8") != prompt_text:
                with atomic_output(prompt_file) as fh:
                    fh.write(prompt_text)
            prompt = _prompt_for_file(prompt_file, prompt_text, start.format, settings.urial_clean)
            gen = _generate_stage(settings.model, prompt, settings.params, items, run_dir,
                                  engine=_remaining_budget(settings.engine, spent), generator=settings.model.spec,
                                  command=command)
            spent += gen.cost_usd
            _stop_if_over_budget(gen.skipped_budget, f"icl-select {label}")
            judged = _judge_stage(run_dir, settings.judge, settings.judge_params,
                                  _remaining_budget(settings.engine, spent), command=command)
            spent += judged.cost_usd
            _stop_if_over_budget(judged.skipped_budget, f"icl-select {label}")
            return run_score(run_dir, settings.judge.spec, settings.aspects)

        def write_log(record: dict[str, Any]) -> None:
            key = (record["kind"], record["step"], record.get("candidate"))
            if logged.get(key) != record:  # a rerun logs only what is new or changed (readers take the last)
                appender.write(record)
                logged[key] = record

        result.start = evaluate(start.text, work_dir / "start", "start")
        write_log({"kind": "start", "step": 0, "candidate": None, **_score_fields(result.start),
                   "run_dir": str(work_dir / "start")})
        for step in range(1, settings.steps + 1):
            remaining = [i for i in allowed if i not in chosen]
            if not remaining:
                break
            tried = _candidates(remaining, settings.candidates, settings.seed, step)
            best: tuple[float, int] | None = None
            for index in tried:
                text = _with(start, settings.position, pool, [*chosen, index])
                run_dir = work_dir / f"step{step}" / f"c{index}"
                score = evaluate(text, run_dir, f"step {step} candidate {index}")
                result.scores.append(CandidateScore(step, index, pool[index].instruction, run_dir, score))
                write_log({"kind": "candidate", "step": step, "candidate": index,
                           "instruction": pool[index].instruction[:200], **_score_fields(score),
                           "run_dir": str(run_dir)})
                if score.mean is not None and (best is None or score.mean > best[0]):
                    best = (score.mean, index)
            if best is None:
                raise JustevalError(f"icl-select step {step}: no candidate got a score (see {log_path})")
            chosen.append(best[1])
            result.step_scores.append(best[0])
            write_log({"kind": "chosen", "step": step, "candidate": best[1],
                       "instruction": pool[best[1]].instruction[:200], "mean": best[0], "chosen": list(chosen)})
    result.chosen = chosen
    final = _with(start, settings.position, pool, chosen)
    with atomic_output(out) as fh:
        fh.write(final)
    found, _ = urial_mod.detect_format(out.stem, final)
    if found != start.format:
        result.urial_format_flag = f"--urial-format {start.format}"
    return result


def _with(start: urial_mod.UrialPrompt, position: IclPosition, pool: Sequence[Any], indices: list[int]) -> str:
    pairs = [(pool[i].instruction, pool[i].output) for i in indices]
    return start.with_examples(before=pairs) if position == "before" else start.with_examples(after=pairs)


def _candidates(remaining: list[int], count: int, seed: int, step: int) -> list[int]:
    if count >= len(remaining):
        return list(remaining)
    return random.Random(f"{seed}:step{step}").sample(remaining, count)


def _non_leaking(pool: Sequence[Any], dev: list[Instruction], threshold: float) -> list[int]:
    """Pool positions that duplicate no dev instruction (tried on the dev set, they would score
    their own answers)."""
    guard = LeakGuard(list(pool), threshold)
    queries = [(tokenize(d.instruction), set(tokenize(d.instruction)), d.source_id) for d in dev]
    return [i for i in range(len(pool)) if not any(guard.leaks(i, q, w, s) for q, w, s in queries)]


def _prompt_for_file(path: Path, text: str, fmt: urial_mod.UrialFormat, clean: urial_mod.CleanMode) -> PromptSettings:
    """The prompt settings that read `path` back in the start prompt's layout."""
    found, _ = urial_mod.detect_format(path.stem, text)
    return PromptSettings(urial=str(path), urial_format="auto" if found == fmt else fmt, urial_clean=clean)


def _claim_work_dir(work: Path, settings: IclSelectSettings, start: urial_mod.UrialPrompt, pool: Sequence[Any],
                    dev: list[Instruction]) -> None:
    """A work folder belongs to one selection: the same start, pool, dev set, model, judge and
    decoding; another is refused rather than mixing their runs."""
    from justeval.jsonl import atomic_output

    identity = {"start_sha256": start.sha256, "start_format": start.format, "pool_sha256": pool_hash(list(pool)),
                "dev_ids": [str(d.id) for d in dev], "model": settings.model.spec, "judge": settings.judge.spec,
                "params": settings.params.model_dump(mode="json", exclude_none=True),
                "judge_params": settings.judge_params.model_dump(mode="json", exclude_none=True)
                if settings.judge_params else None,
                "position": settings.position, "candidates": settings.candidates, "seed": settings.seed,
                "aspects": settings.aspects, "leak_threshold": settings.leak_threshold,
                "urial_clean": settings.urial_clean}
    path = work / SETTINGS_FILE
    if path.exists():
        from justeval.jsonl import read_json_file

        data = read_json_file(path, "work folder settings")
        old = data.get("identity") if isinstance(data, dict) else None
        changed = sorted(k for k in identity if old.get(k) != identity[k]) if isinstance(old, dict) else ["all"]
        # more steps continue the same selection: `steps` is not part of the identity
        if changed:
            raise JustevalError(f"{work} holds a selection with different {', '.join(changed)}; "
                                "use another --work folder")
        return
    with atomic_output(path) as fh:
        fh.write(json.dumps({"kind": "icl-select", "identity": identity,
                             "settings": settings.model_dump(mode="json")}, indent=2) + "\n")


def _read_log(path: Path) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The last logged record per (kind, step, candidate): what a rerun need not log again."""
    from justeval.jsonl import iter_json_lines

    if not path.exists():
        return {}
    last: dict[tuple[Any, ...], dict[str, Any]] = {}
    for _, obj in iter_json_lines(path):
        if isinstance(obj, dict) and "kind" in obj:
            last[(obj.get("kind"), obj.get("step"), obj.get("candidate"))] = obj
    return last


def _score_fields(score: RunScore) -> dict[str, Any]:
    return {"mean": score.mean, "items": score.items, "scored": score.scored, "aspects": score.aspects}


# -- scores -------------------------------------------------------------------------------------
def run_score(run_dir: str | Path, judge: str, aspects: Sequence[str] | None = None) -> RunScore:
    """Mean score of a judged run: per item, the mean of its numeric scores over `aspects`
    (default: all its judgment's aspects); then the mean over the items that have one. A missing
    score (N/A, parse error, failed call) is left out, never counted as a number."""
    from justeval.rundir import RunDir

    rd = RunDir(run_dir)
    latest: dict[Any, Judgment] = {}
    for rec in rd.load_judgments(judge):
        latest[rec.id] = rec
    per_aspect: dict[str, list[float]] = {}
    item_means: list[float] = []
    for rec in latest.values():
        if rec.status != "ok":
            continue
        values = {a: v for a, v in rec.scores.items() if v is not None and (aspects is None or a in aspects)}
        for a, v in values.items():
            per_aspect.setdefault(a, []).append(float(v))
        if values:
            item_means.append(sum(values.values()) / len(values))
    return RunScore(items=len(rd.ok_generations()), scored=len(item_means),
                    mean=sum(item_means) / len(item_means) if item_means else None,
                    aspects={a: sum(v) / len(v) for a, v in sorted(per_aspect.items())})


# -- dry-run plans ------------------------------------------------------------------------------
def _plan_pass(model: BackendSpec, judge: BackendSpec, prompt: PromptSettings, params: GenParams,
               judge_params: GenParams | None, items: list[Instruction]) -> tuple[int, float | None, int, float | None]:
    """Calls and cost upper bounds of one generation + judging pass over `items`."""
    from justeval.engine.pricing import count_tokens, estimate_cost

    builder = PromptBuilder.from_settings(prompt, params, backend=model)
    request_params = builder.request_params()
    prompt_tokens = 0
    for inst in items:
        request, _ = builder.build(inst, request_params)
        text = request.prompt if request.prompt is not None else "\n".join(m.content for m in request.messages)
        prompt_tokens += count_tokens(text, model.model) + 4 * len(request.messages)
    max_tokens = params.max_tokens or 0
    gen_cost = estimate_cost(model.spec, prompt_tokens, max_tokens * len(items)) if model.kind != "hf" else 0.0
    return len(items), gen_cost, len(items), _judge_cost(judge, judge_params, items, max_tokens)


def _judge_cost(judge: BackendSpec, judge_params: GenParams | None, items: list[Instruction],
                answer_tokens: int) -> float | None:
    """The judge's cost on answers `answer_tokens` long (the most an answer can be)."""
    from justeval.judging.estimate import estimate_calls
    from justeval.judging.prompts import JudgeTemplates, build_item
    from justeval.records import Generation

    params = judge_params or GenParams(temperature=0.0, max_tokens=DEFAULT_JUDGE_MAX_TOKENS)
    templates = JudgeTemplates.load()
    filler = " ".join(["answer"] * max(1, answer_tokens))
    gens = [Generation(id=i.id, instruction=i.instruction, output=filler, generator="plan", category=i.category)
            for i in items]
    judged = [build_item(g, templates, params=params, judge_system=None, max_words=-1, structured=True) for g in gens]
    return estimate_calls(judged, judge.spec, max_tokens=params.max_tokens).cost_usd


def _plan_selection(settings: IclSelectSettings, start: urial_mod.UrialPrompt, pool: Sequence[Any],
                    allowed: list[int], items: list[Instruction]) -> CostPlan:
    """The start prompt's pass, then per step one pass per candidate with prompts as long as
    that step's (the examples chosen are not known before: the candidates of the plan stand in)."""
    import tempfile

    plan = CostPlan()
    with tempfile.TemporaryDirectory(prefix="justeval-plan-") as tmp:
        def one_pass(text: str, name: str) -> None:
            path = Path(tmp) / f"{name}.txt"
            path.write_text(text, encoding="utf-8")
            prompt = _prompt_for_file(path, text, start.format, settings.urial_clean)
            plan.add(*_plan_pass(settings.model, settings.judge, prompt, settings.params, settings.judge_params,
                                 items))

        one_pass(start.text, "start")
        remaining = list(allowed)
        stand_ins: list[int] = []
        for step in range(1, settings.steps + 1):
            if not remaining:
                break
            tried = _candidates(remaining, settings.candidates, settings.seed, step)
            for index in tried:
                one_pass(_with(start, settings.position, pool, [*stand_ins, index]), f"s{step}c{index}")
            stand_ins.append(tried[0])
            remaining.remove(tried[0])
    return plan


# -- small helpers ------------------------------------------------------------------------------
def _plus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


def _remaining_budget(engine: EngineConfig, spent: float) -> EngineConfig:
    if engine.budget_usd is None:
        return engine
    return engine.but(budget_usd=max(0.0, engine.budget_usd - spent))


def _stop_if_over_budget(skipped: int, where: str) -> None:
    if skipped:
        raise JustevalError(f"{where}: the budget is spent ({skipped} call(s) not sent); finished work is kept: "
                            "raise --budget and run the same command again to continue")


# -- the stage calls ----------------------------------------------------------------------------
def _generate_stage(model: BackendSpec, prompt: PromptSettings, params: GenParams, items: list[Instruction],
                    run_dir: Path, *, engine: EngineConfig, generator: str, command: str | None) -> _Spent:
    """One generation pass through `justeval.generation.generate`."""
    from justeval.generation import generate
    from justeval.settings import GenerateSettings

    settings = GenerateSettings(model=model, generator=generator, params=params, prompt=prompt,
                                engine=engine.but(description=f"generate {run_dir.name}"))
    summary = generate(settings, run_dir, instructions=items, command=command)
    return _Spent(summary.engine.cost_usd, summary.engine.skipped_budget)


def _judge_stage(run_dir: Path, judge: BackendSpec, params: GenParams | None, engine: EngineConfig, *,
                 command: str | None) -> _Spent:
    """One judging pass through `justeval.judging.judge_run`."""
    from justeval.judging.run import judge_run
    from justeval.settings import JudgeSettings, judge_engine

    base = judge_engine()  # the judge stage's own defaults (parse retries), with the experiment's engine options
    config = engine.but(parse_retries=max(engine.parse_retries, base.parse_retries),
                        description=f"judge {run_dir.name}")
    settings = JudgeSettings(judge=judge, engine=config, **({"params": params} if params is not None else {}))
    summary = judge_run(run_dir, settings, command=command)
    return _Spent(summary.engine.cost_usd, summary.engine.skipped_budget)


@dataclass
class _Spent:
    cost_usd: float
    skipped_budget: int


__all__ = ["CostPlan", "IclSelectResult", "IclSelectSettings", "RunScore", "SweepPoint", "SweepResult",
           "SweepSettings", "icl_select", "run_score", "sweep", "sweep_configs"]
