"""`justeval run`'s flags onto its typed settings: the one place a flag name meets a settings
field, for the command line, for a flat YAML/JSON config written with the flag names
(`model:`, `judge:`, `subset:`, `timeout:` ...) and for 0.1's recorded `pipeline` section.

`run_settings_from_flags(base, flags)` applies the flags that are set (not None) onto `base` (the
settings of a config or a recorded run), or onto the defaults when there is no base, in which
case `model`, `judge` and `out` are required. Flags that concern both stages (the engine ones)
apply to generation and to every judge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from justeval.errors import InputError
from justeval.settings import (
    BackendSpec,
    BoardSettings,
    GenerateSettings,
    JudgeSettings,
    RunSettings,
)

#: flag -> the field of GenerateSettings.selection it sets
SELECTION_FLAGS = {"subset": "subset", "dataset": "datasets", "task": "tasks", "topic": "topics",
                   "difficulty": "difficulties", "ids": "ids", "limit": "limit", "sample": "sample"}
#: flag -> EngineConfig field, for generation and every judge
ENGINE_FLAGS = {"concurrency": "concurrency", "rpm": "rpm", "tpm": "tpm", "timeout": "timeout_s",
                "max_retries": "max_retries", "cache": "cache", "cache_dir": "cache_dir", "progress": "progress"}
#: flag -> EngineConfig field, for the judges only
JUDGE_ENGINE_FLAGS = {"parse_retries": "parse_retries", "budget": "budget_usd"}
#: flag -> GenParams field of generation / of the judges
GEN_PARAM_FLAGS = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p"}
JUDGE_PARAM_FLAGS = {"judge_temperature": "temperature", "judge_max_tokens": "max_tokens"}
PROMPT_FLAGS = {"system": "system", "urial": "urial", "icl_examples": "icl_examples", "shots": "shots",
                "select": "select"}
JUDGE_FLAGS = {"template_multi": "template_multi", "template_safety": "template_safety",
               "judge_system": "judge_system", "max_words": "max_words"}
BOARD_FLAGS = {"bootstrap": "bootstrap", "na_as": "na_as"}
OTHER_FLAGS = {"model", "judge", "out", "instructions", "seed", "base_url", "api_key_env", "completion", "generator",
               "judge_base_url", "judge_api_key_env"}
KNOWN_FLAGS = (set(SELECTION_FLAGS) | set(ENGINE_FLAGS) | set(JUDGE_ENGINE_FLAGS) | set(GEN_PARAM_FLAGS)
               | set(JUDGE_PARAM_FLAGS) | set(PROMPT_FLAGS) | set(JUDGE_FLAGS) | set(BOARD_FLAGS) | OTHER_FLAGS)


def _reverse(*tables: dict[str, str]) -> dict[str, str]:
    return {field: flag for table in tables for flag, field in table.items()}


#: the flag behind a settings field, by the part of the settings it sits in (for error messages)
_FLAG_OF: dict[str, dict[str, str]] = {
    "gen.engine": _reverse(ENGINE_FLAGS), "gen.params": _reverse(GEN_PARAM_FLAGS),
    "gen.prompt": {**_reverse(PROMPT_FLAGS), "seed": "seed"}, "gen.selection": {**_reverse(SELECTION_FLAGS),
                                                                                "seed": "seed"},
    "gen.model": {"spec": "model", "base_urls": "base_url", "api_key_env": "api_key_env", "endpoint": "completion"},
    "gen": {"generator": "generator", "instructions": "instructions"},
    "judge.engine": _reverse(ENGINE_FLAGS, JUDGE_ENGINE_FLAGS), "judge.params": _reverse(JUDGE_PARAM_FLAGS),
    "judge.judge": {"spec": "judge", "base_urls": "judge_base_url", "api_key_env": "judge_api_key_env"},
    "judge": _reverse(JUDGE_FLAGS), "board": {**_reverse(BOARD_FLAGS), "seed": "seed"}, "run": {"out": "out"},
}

T = TypeVar("T")


def _validated(part: str, build: Callable[[], T], source: str | Path | None) -> T:
    """`build()`, with a settings error named by the flag the user wrote (`option 'concurrency': ...`)."""
    try:
        return build()
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err.get("loc", ())]
        table = _FLAG_OF.get(f"{part}.{loc[0]}", {}) if len(loc) > 1 else {}
        field = loc[1] if len(loc) > 1 else (loc[0] if loc else "")
        flag = table.get(field) or _FLAG_OF.get(part, {}).get(field) or ".".join(loc) or part
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise InputError(source or "<command line>", f"option '{flag}': {message}") from exc


def _given(flags: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    return {field: flags[flag] for flag, field in table.items() if flags.get(flag) is not None}


def _judges(flags: dict[str, Any]) -> list[str] | None:
    value = flags.get("judge")
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return list(dict.fromkeys(str(v) for v in values)) or None


def run_settings_from_flags(base: RunSettings | None, flags: dict[str, Any], *,
                            source: str | Path | None = None) -> RunSettings:
    """`base` with every given flag applied (see the module docstring)."""
    unknown = sorted(set(k for k, v in flags.items() if v is not None) - KNOWN_FLAGS)
    if unknown:
        raise InputError(source or "<command line>", f"unknown option {unknown[0]!r} (not a flag of justeval run)")
    judges = _judges(flags)
    if base is None:
        missing = [name for name, value in (("model", flags.get("model")), ("judge", judges), ("out", flags.get("out")))
                   if not value]
        if missing:
            raise InputError(source or "<command line>", f"option '{missing[0]}': missing: pass "
                             f"--{missing[0]} or set it in --config")
        model = _validated("gen.model", lambda: BackendSpec(spec=flags["model"]), source)
        specs = [_validated("judge.judge", lambda j=j: BackendSpec(spec=j), source) for j in judges or []]  # type: ignore[misc]
        base = RunSettings(out=str(flags["out"]), generate=GenerateSettings(model=model),
                           judging=[JudgeSettings(judge=s) for s in specs])
    gen = base.generate
    seed = flags.get("seed")

    model = gen.model
    model_changes = {k: v for k, v in (("spec", flags.get("model")), ("base_urls", flags.get("base_url")),
                                       ("api_key_env", flags.get("api_key_env"))) if v is not None}
    if flags.get("completion") is not None:
        model_changes["endpoint"] = "completions" if flags["completion"] else "chat"
    if model_changes:
        model = _validated("gen.model", lambda: gen.model.with_(**model_changes), source)
    engine_changes = _given(flags, ENGINE_FLAGS)
    prompt_changes = _given(flags, PROMPT_FLAGS)
    selection_changes = _given(flags, SELECTION_FLAGS)
    if seed is not None:
        prompt_changes["seed"] = selection_changes["seed"] = seed
    gen = _validated("gen", lambda: GenerateSettings.model_validate({
        **gen.model_dump(), "model": model.model_dump(),
        "generator": flags["generator"] if flags.get("generator") is not None else gen.generator,
        "params": {**gen.params.model_dump(), **_given(flags, GEN_PARAM_FLAGS)},
        "prompt": {**gen.prompt.model_dump(), **prompt_changes},
        "engine": {**gen.engine.model_dump(), "progress": gen.engine.progress, **engine_changes},
        "instructions": flags["instructions"] if flags.get("instructions") is not None else gen.instructions,
        "selection": {**gen.selection.model_dump(), **selection_changes},
    }), source)

    template = base.judging[0]
    # new judges take the settings of the first recorded one
    specs = ([_validated("judge.judge", lambda j=j: template.judge.with_(spec=j), source)  # type: ignore[misc]
              for j in judges] if judges is not None else [j.judge for j in base.judging])
    judge_changes = {k: v for k, v in (("base_urls", flags.get("judge_base_url")),
                                       ("api_key_env", flags.get("judge_api_key_env"))) if v is not None}
    judging = []
    for n, spec in enumerate(specs):
        old = base.judging[n] if judges is None else template
        engine = {**old.engine.model_dump(), "progress": old.engine.progress,
                  **engine_changes, **_given(flags, JUDGE_ENGINE_FLAGS)}
        judged = spec.model_dump() | judge_changes
        judging.append(_validated("judge", lambda old=old, judged=judged, engine=engine: JudgeSettings.model_validate({  # type: ignore[misc]
            **old.model_dump(), **_given(flags, JUDGE_FLAGS), "judge": judged,
            "params": {**old.params.model_dump(), **_given(flags, JUDGE_PARAM_FLAGS)},
            "engine": engine,
        }), source))
    board = _validated("board", lambda: BoardSettings.model_validate({
        **base.leaderboard.model_dump(), **_given(flags, BOARD_FLAGS), **({"seed": seed} if seed is not None else {})}),
        source)
    return RunSettings(out=str(flags["out"]) if flags.get("out") is not None else base.out, generate=gen,
                       judging=judging, leaderboard=board)


def resolve_run_settings(config: str | Path | None, flags: dict[str, Any]) -> RunSettings:
    """The settings of `justeval run --config FILE [flags]`: the file's settings (a run.json,
    or RunSettings' fields) with the given flags applied, or a flat file of flag names merged
    with the given flags (flags win). Without a file, the flags alone."""
    loaded = read_config(config) if config is not None else None
    if isinstance(loaded, RunSettings):
        return run_settings_from_flags(loaded, flags, source=config)
    merged = {**(loaded or {}), **{k: v for k, v in flags.items() if v is not None}}
    return run_settings_from_flags(None, merged, source=config if loaded is not None else None)


def read_config(path: str | Path) -> RunSettings | dict[str, Any]:
    """A `--config` file: a run directory's run.json (whichever command made it, any format
    version) or a YAML/JSON of RunSettings' fields, as RunSettings; or a flat YAML/JSON of
    `justeval run`'s flag names, as that mapping. Bad input is one line naming the file."""
    import json

    import yaml

    from justeval.errors import describe_invalid
    from justeval.manifest import parse_manifest

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read config: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InputError(path, f"malformed config: {first}") from exc
    if not isinstance(data, dict):
        raise InputError(path, "a config must be a mapping of option names to values")
    nested = isinstance(data.get("judging"), list)  # RunSettings' own fields, not a run.json's sections
    if not nested and {"pipeline", "generate", "import", "format_version"} & data.keys():  # a run.json
        settings = parse_manifest(data, path).repeat_settings(path)
        if path.name == "run.json":  # the run is where its run.json is, wherever it was made from
            settings = settings.model_copy(update={"out": str(path.resolve().parent)})
        return settings
    if nested:
        try:
            return RunSettings.model_validate(data)
        except ValidationError as exc:
            raise InputError(path, describe_invalid(exc)) from exc
    return {str(k).replace("-", "_"): v for k, v in data.items()}
