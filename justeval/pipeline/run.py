"""Run the whole pipeline from one PipelineConfig, each stage through its own library call,
so a notebook gets exactly what `justeval run` does."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from justeval.engine.engine import EngineConfig
from justeval.pipeline.config import PipelineConfig
from justeval.rundir import RunDir


@dataclass
class PipelineResult:
    run_dir: Path
    items: int
    generation: Any = None
    judging: list[Any] = field(default_factory=list)
    leaderboards: dict[str, Any] = field(default_factory=dict)  # judge -> its leaderboard

    @property
    def leaderboard(self) -> Any:
        """The first judge's leaderboard (the only one with a single judge)."""
        return next(iter(self.leaderboards.values()), None)


def engine_config(cfg: PipelineConfig, *, budget: float | None = None, parse_retries: int = 0,
                  description: str = "calls") -> EngineConfig:
    return EngineConfig(concurrency=cfg.concurrency, rpm=cfg.rpm, tpm=cfg.tpm, max_retries=cfg.max_retries,
                        timeout_s=cfg.timeout, cache=cfg.cache,
                        cache_dir=Path(cfg.cache_dir) if cfg.cache_dir else None, budget_usd=budget,
                        parse_retries=parse_retries, progress=cfg.progress, description=description)


PATH_OPTIONS = ("instructions", "urial", "icl_examples", "template_multi", "template_safety", "cache_dir")


def run_pipeline(cfg: PipelineConfig, *, command: str | None = None) -> PipelineResult:
    """Generate, judge and tabulate; every stage resumes from what the run directory holds.
    `command` (the invocation, no secrets) is recorded in run.json beside the options."""
    from justeval.board import Settings, build_leaderboard
    from justeval.engine.types import GenParams
    from justeval.generation import generate
    from justeval.generation.run import DEFAULT_PARAMS as GEN_DEFAULTS
    from justeval.instructions import Selection, load_selection
    from justeval.judging.run import judge_many
    from justeval.paths import local_path

    rd = RunDir(cfg.out).ensure()
    # local paths recorded absolute, so `--config RUN_DIR/run.json` means the same from anywhere
    cfg = cfg.model_copy(update={"out": str(rd.path.resolve()),
                                 **{k: local_path(getattr(cfg, k)) for k in PATH_OPTIONS}})
    if command:
        rd.write_meta("run", {"command": command})
    rd.write_meta("pipeline", cfg.model_dump(mode="json"))
    selection = Selection(subset=cfg.subset, datasets=cfg.dataset, tasks=cfg.task, topics=cfg.topic,
                          difficulties=cfg.difficulty, ids=cfg.ids, limit=cfg.limit, sample=cfg.sample,
                          seed=cfg.seed)
    items = load_selection(cfg.instructions, selection)
    result = PipelineResult(run_dir=rd.path, items=len(items))

    overrides = {"temperature": cfg.temperature, "max_tokens": cfg.max_tokens, "top_p": cfg.top_p}
    gen_params = GEN_DEFAULTS.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    gen_backend = {"base_url": cfg.base_url, "api_key_env": cfg.api_key_env, "completion": cfg.completion,
                   "timeout": cfg.timeout}
    result.generation = generate(
        cfg.model, items, rd.path, params=gen_params, system=cfg.system, urial=cfg.urial,
        icl_examples=cfg.icl_examples, shots=cfg.shots, select=cfg.select, seed=cfg.seed,
        engine_config=engine_config(cfg, description="generate"), backend_options=gen_backend,
        generator_name=cfg.generator, instructions_source=cfg.instructions, selection=selection)

    judges = list(dict.fromkeys(cfg.judge))
    # The judge has its own server and key options: a judge never inherits a local model's URL.
    judge_backend = {"base_url": cfg.judge_base_url, "api_key_env": cfg.judge_api_key_env, "timeout": cfg.timeout}
    result.judging = judge_many(
        rd.path, judges, template_multi=cfg.template_multi, template_safety=cfg.template_safety,
        judge_system=cfg.judge_system, max_words=cfg.max_words,
        params=GenParams(temperature=cfg.judge_temperature, max_tokens=cfg.judge_max_tokens),
        engine_config=engine_config(cfg, budget=cfg.budget, parse_retries=cfg.parse_retries,
                                    description="judge"),
        backend_options=judge_backend)

    # One board per judge: scores of different judges are not averaged together.
    for judge in judges:
        settings = Settings(na_as=cfg.na_as, bootstrap=cfg.bootstrap, seed=cfg.seed, judge=[judge])
        result.leaderboards[judge] = build_leaderboard([rd.path], instructions=cfg.instructions, settings=settings)
    return result
