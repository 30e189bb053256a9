"""The typed description of a run: one settings model per stage, each both the stage's input
and its section of run.json, so a value has one type and one name from the flag to the disk.

    GenerateSettings  model (BackendSpec), decoding params, prompt, engine, instructions + selection
    JudgeSettings     judge (BackendSpec), templates, decoding params, engine, selection
    PairwiseSettings  judge, template, aspects, decoding params, engine, ids/limit
    RunSettings       `justeval run`: generation, one JudgeSettings per judge, the leaderboard's

Local paths are recorded absolute (`absolute()`), so a recorded run means the same from any
working folder. Nothing here holds a secret: a key is only ever named (`api_key_env`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.config import EngineConfig
from justeval.engine.types import GenParams
from justeval.generation.prompting import PromptSettings
from justeval.instructions.select import Selection
from justeval.paths import local_path

__all__ = ["BackendSpec", "BoardSettings", "EngineConfig", "GenParams", "GenerateSettings", "JudgeSettings",
           "PairwiseSettings", "PromptSettings", "RunSettings", "Selection"]

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True)


def generation_params() -> GenParams:
    """Decoding defaults of `generate`: greedy, 2,048 tokens."""
    return GenParams(temperature=0.0, max_tokens=2048)


def judge_params() -> GenParams:
    """Decoding defaults of a judge: temperature 0 and 1,024 tokens, as the original just-eval scorer."""
    return GenParams(temperature=0.0, max_tokens=1024)


def judge_engine() -> EngineConfig:
    """A judge repeats an unreadable reply twice by default."""
    return EngineConfig(parse_retries=2)


def _absolute_cache(engine: EngineConfig) -> EngineConfig:
    return engine.but(cache_dir=local_path(str(engine.cache_dir))) if engine.cache_dir else engine


class GenerateSettings(BaseModel):
    """One model's outputs for a selection of the instruction set (`justeval generate`)."""

    model_config = _STRICT

    model: BackendSpec
    """The model and how to reach it (`--model`, `--base-url`, `--api-key-env`, `--completion`)."""

    generator: str | None = None
    """Name written in each record (`--generator`); None: the model spec."""

    params: GenParams = Field(default_factory=generation_params)
    """Decoding parameters (`--temperature`, `--max-tokens`, `--top-p`, `--seed`)."""

    prompt: PromptSettings = Field(default_factory=PromptSettings)
    """How an instruction becomes a prompt (`--system`, `--urial`, `--icl-examples`, ...)."""

    engine: EngineConfig = Field(default_factory=EngineConfig)
    """How the calls are sent (`--concurrency`, `--rpm`, `--timeout`, `--budget`, ...)."""

    instructions: str | None = None
    """Instruction source: a hub dataset id or a local file/folder (`--instructions`); None: the published set."""

    selection: Selection = Field(default_factory=Selection)
    """Which items (`--subset`, `--ids`, `--limit`, ...)."""

    @property
    def generator_name(self) -> str:
        return self.generator or self.model.spec

    def absolute(self) -> GenerateSettings:
        """Local paths as absolute paths (hub ids, URLs and built-in names unchanged)."""
        prompt = self.prompt.model_copy(update={"urial": local_path(self.prompt.urial),
                                                "icl_examples": local_path(self.prompt.icl_examples)})
        engine = _absolute_cache(self.engine)
        from justeval.instructions.load import chosen_source

        source = chosen_source(self.instructions)
        return self.model_copy(update={"prompt": prompt, "engine": engine,
                                       "instructions": local_path(str(source)) if source is not None else None})


class JudgeSettings(BaseModel):
    """One LLM judge scoring a run's outputs (`justeval judge`)."""

    model_config = _STRICT

    judge: BackendSpec
    """The judge model and how to reach it (`--judge`, `--base-url`, `--api-key-env`)."""

    template_multi: str | None = None
    """Template for regular items: built-in name, .j2 path, or path/URL of an upstream file (`--template-multi`)."""

    template_safety: str | None = None
    """Template for safety items, same forms (`--template-safety`)."""

    judge_system: str | None = None
    """System message for the judge (`--judge-system`); None: none, or the original's with an upstream template."""

    max_words: int = -1
    """Truncate candidates to their first N words, as the original `max_words_to_eval` (`--max-words`); -1: never."""

    params: GenParams = Field(default_factory=judge_params)
    """Decoding parameters of the judge (`--temperature`/`--judge-temperature`, `--max-tokens`)."""

    engine: EngineConfig = Field(default_factory=judge_engine)
    """How the calls are sent; `parse_retries` repeats unreadable replies (`--parse-retries`)."""

    selection: Selection = Field(default_factory=Selection)
    """Which of the run's generations to judge (`--subset`, `--ids`, `--limit`, ...); default: all."""

    repeats: int = Field(1, ge=1)
    """Score each item this many times, at the judge's temperature (`--repeats`, `run --judge-repeats`);
    each repeat is its own call (never a cache hit of another repeat) and its own record (`repeat`)."""

    def absolute(self) -> JudgeSettings:
        engine = _absolute_cache(self.engine)
        return self.model_copy(update={"template_multi": local_path(self.template_multi),
                                       "template_safety": local_path(self.template_safety), "engine": engine})


class PairwiseSettings(BaseModel):
    """An LLM judge comparing two runs item by item, in both orders (`justeval pairwise`)."""

    model_config = _STRICT

    judge: BackendSpec
    """The judge model and how to reach it (`--judge`, `--base-url`, `--api-key-env`)."""

    template: str | None = None
    """Built-in template name or .j2 path (`--template`); None: `pairwise`."""

    aspects: list[str] = Field(default_factory=list)
    """Also ask for a preference per aspect (`--aspects`)."""

    params: GenParams = Field(default_factory=judge_params)
    """Decoding parameters of the judge (`--temperature`, `--max-tokens`)."""

    engine: EngineConfig = Field(default_factory=judge_engine)
    """How the calls are sent (`--concurrency`, `--parse-retries`, `--budget`, ...)."""

    ids: str | None = None
    """Only these ids (`--ids`)."""

    limit: int | None = Field(None, ge=0)
    """The first N shared items (`--limit`)."""

    @field_validator("aspects", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, (list, tuple)):
            return list(dict.fromkeys(v.strip() for item in value for v in str(item).split(",") if v.strip()))
        return value

    def absolute(self) -> PairwiseSettings:
        return self.model_copy(update={"template": local_path(self.template)})


class BoardSettings(BaseModel):
    """How `justeval run` tabulates its leaderboard (`--bootstrap`, `--na-as`; `--seed` seeds it)."""

    model_config = _STRICT

    bootstrap: int = Field(1000, ge=0)
    """Bootstrap resamples of the 95% CIs (`--bootstrap`); 0: none."""

    na_as: float | None = Field(None, ge=1, le=5)
    """Count a judge's N/A as this score (`--na-as 5` is the original report); None: exclude and count them."""

    seed: int = 0
    """Seed of the bootstrap."""


class RunSettings(BaseModel):
    """The whole pipeline of `justeval run`: generation, judging by each judge, the leaderboard."""

    model_config = _STRICT

    out: str
    """The run directory (`--out`)."""

    generate: GenerateSettings
    """The generation stage."""

    judging: list[JudgeSettings] = Field(min_length=1)
    """One judge stage per judge (`--judge`, repeatable); their boards are not averaged together."""

    leaderboard: BoardSettings = Field(default_factory=BoardSettings)
    """The leaderboard printed at the end."""

    def absolute(self) -> RunSettings:
        from pathlib import Path

        return self.model_copy(update={"out": str(Path(self.out).expanduser().resolve()),
                                       "generate": self.generate.absolute(),
                                       "judging": [j.absolute() for j in self.judging]})
