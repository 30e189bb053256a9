"""The options of a whole run as one typed, repeatable config.

`justeval run --config FILE` reads YAML or JSON with these keys (the CLI flag names with `_`
for `-`); explicit flags override the file. Each run directory's `run.json` keeps the resolved
config under `pipeline`, so `--config RUN_DIR/run.json` repeats a run exactly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from justeval.errors import InputError


class PipelineConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    judge: list[str]
    out: str
    # instruction selection
    instructions: str | None = None
    subset: str = "all"
    dataset: list[str] | None = None
    task: list[str] | None = None
    topic: list[str] | None = None
    difficulty: list[str] | None = None
    ids: str | None = None
    limit: int | None = None
    sample: int | None = None
    seed: int = 0
    # generation
    base_url: str | None = None
    api_key_env: str | None = None
    completion: bool = False
    generator: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    system: str | None = None
    urial: str | None = None
    icl_examples: str | None = None
    shots: int = 3
    select: Literal["fixed", "random", "similar"] = "fixed"
    # judging
    judge_base_url: str | None = None
    judge_api_key_env: str | None = None
    template_multi: str | None = None
    template_safety: str | None = None
    judge_system: str | None = None
    max_words: int = -1
    judge_temperature: float = 0.0
    judge_max_tokens: int = 1024
    parse_retries: int = 2
    budget: float | None = None
    # engine
    concurrency: int = 8
    rpm: float | None = None
    tpm: float | None = None
    timeout: float = 120.0
    max_retries: int = 6
    cache: bool = True
    cache_dir: str | None = None
    progress: bool = True
    # leaderboard
    bootstrap: int = 1000
    na_as: float | None = None

    @field_validator("judge", "dataset", "task", "topic", "difficulty", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


RUN_SECTIONS = {"pipeline", "generate", "import"}  # a run.json, not a hand-written config


def read_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML/JSON config, or a run directory's run.json (whichever command made it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read config: {exc}") from exc
    from justeval.jsonl import parse_json
    from justeval.yamlfile import parse_yaml

    data = parse_json(text, path) if path.suffix == ".json" else parse_yaml(text, path)
    if not isinstance(data, dict):
        raise InputError(path, "a config must be a mapping of option names to values")
    if RUN_SECTIONS & data.keys():
        from justeval.pipeline.from_run import config_from_run_json

        data = config_from_run_json(data, path)
    return {str(k).replace("-", "_"): v for k, v in data.items()}


def resolve_config(file_values: dict[str, Any], cli_values: dict[str, Any],
                   source: str | Path | None = None) -> PipelineConfig:
    """Merge file values with explicitly given CLI values (None = not given) and validate."""
    merged = dict(file_values)
    merged.update({k: v for k, v in cli_values.items() if v is not None})
    try:
        return PipelineConfig.model_validate(merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ())) or "config"
        msg = err.get("msg", "invalid")
        if err.get("type") == "missing":
            msg = f"missing: pass --{field.replace('_', '-')} or set it in --config"
        raise InputError(source or "<command line>", f"option '{field}': {msg}") from exc
