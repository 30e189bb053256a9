"""Flags onto typed settings: the one place a flag name meets a settings field.

`generate_from_flags`, `judge_from_flags` and `run_settings_from_flags` apply the flags that are
set (not None) onto a base (the settings of a config or a recorded run), or onto the defaults.
They serve the command line (`justeval generate`, `judge`, `run`), the Python API (keyword
arguments with the flag names) and flat YAML/JSON configs written with `justeval run`'s flag
names (`model:`, `judge:`, `subset:`, `timeout:` ...), including 0.1's recorded `pipeline`.

`justeval run` names the judge's server and decoding flags `judge_base_url`,
`judge_api_key_env`, `judge_temperature`, `judge_max_tokens`; its `budget` caps the judging, and
the engine flags apply to generation and to every judge.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from justeval.errors import InputError
from justeval.settings import BackendSpec, BoardSettings, GenerateSettings, JudgeSettings, RunSettings

#: flag -> the Selection field it sets
SELECTION_FLAGS = {"subset": "subset", "dataset": "datasets", "task": "tasks", "topic": "topics",
                   "difficulty": "difficulties", "ids": "ids", "limit": "limit", "sample": "sample"}
#: flag -> EngineConfig field
ENGINE_FLAGS = {"concurrency": "concurrency", "rpm": "rpm", "tpm": "tpm", "timeout": "timeout_s",
                "max_retries": "max_retries", "cache": "cache", "cache_dir": "cache_dir", "progress": "progress",
                "budget": "budget_usd", "parse_retries": "parse_retries", "total_concurrency": "total_concurrency",
                "breaker": "breaker_failures", "max_retry_after": "retry_after_cap_s", "batch": "batch",
                "wait": "batch_wait", "batch_fallback": "batch_fallback"}
#: flag -> GenParams field
PARAM_FLAGS = {"temperature": "temperature", "max_tokens": "max_tokens", "top_p": "top_p", "model_seed": "seed",
               "repetition_penalty": "repetition_penalty", "top_k": "top_k",
               "no_repeat_ngram_size": "no_repeat_ngram_size"}
#: flag -> PromptSettings field
PROMPT_FLAGS = {"system": "system", "urial": "urial", "icl_examples": "icl_examples", "shots": "shots",
                "select": "select", "urial_format": "urial_format", "urial_clean": "urial_clean",
                "icl_position": "icl_position", "icl_format": "icl_format", "context_tokens": "context_tokens",
                "tokenizer": "tokenizer", "leak_threshold": "leak_threshold"}
#: flag -> BackendSpec field (the model's, or the judge's)
BACKEND_FLAGS = {"base_url": "base_urls", "api_key_env": "api_key_env"}
#: flag -> JudgeSettings field
JUDGE_FLAGS = {"template_multi": "template_multi", "template_safety": "template_safety",
               "judge_system": "judge_system", "max_words": "max_words", "repeats": "repeats"}
BOARD_FLAGS = {"bootstrap": "bootstrap", "na_as": "na_as"}

GENERATE_FLAGS = (set(SELECTION_FLAGS) | set(ENGINE_FLAGS) | set(PARAM_FLAGS) | set(PROMPT_FLAGS)
                  | set(BACKEND_FLAGS) | {"model", "completion", "generator", "instructions", "seed", "param"})
JUDGE_OPTION_FLAGS = (set(SELECTION_FLAGS) | set(ENGINE_FLAGS) | set(PARAM_FLAGS) | set(BACKEND_FLAGS)
                      | set(JUDGE_FLAGS) | {"seed"})
#: `justeval run`'s names for the judge's flags
RUN_JUDGE_NAMES = {"judge_base_url": "base_url", "judge_api_key_env": "api_key_env",
                   "judge_temperature": "temperature", "judge_max_tokens": "max_tokens",
                   "judge_repeats": "repeats"}
RUN_FLAGS = ((GENERATE_FLAGS - {"model_seed"}) | set(JUDGE_FLAGS) | set(RUN_JUDGE_NAMES) | set(BOARD_FLAGS)
             | {"judge", "out"})

T = TypeVar("T")


def _given(flags: dict[str, Any], table: dict[str, str]) -> dict[str, Any]:
    return {field: flags[flag] for flag, field in table.items() if flags.get(flag) is not None}


def _flag_of(part: str, loc: list[str], names: dict[str, str]) -> str:
    """The flag the user wrote for the settings field at `loc` (for error messages)."""
    tables = {"engine": ENGINE_FLAGS, "params": {**PARAM_FLAGS, "param": "extra"}, "prompt": PROMPT_FLAGS,
              "selection": SELECTION_FLAGS,
              "model": {"model": "spec", **BACKEND_FLAGS, "completion": "endpoint"},
              "judge": {"judge": "spec", **BACKEND_FLAGS}}
    if len(loc) > 1:
        inner, field = loc[0], loc[1]
    else:  # a BackendSpec built on its own (part "model" or "judge"), or a top-level field
        inner, field = (part if part in tables else ""), (loc[0] if loc else part)
    table = tables.get(inner, JUDGE_FLAGS | BOARD_FLAGS | {"generator": "generator", "instructions": "instructions",
                                                           "out": "out"})
    flag = next((f for f, name in table.items() if name == field), field)
    return names.get(flag, flag)


def _validated(part: str, build: Callable[[], T], source: str | Path | None, names: dict[str, str] | None = None) -> T:
    """`build()`, with a settings error named by the flag the user wrote (`option 'concurrency': ...`)."""
    try:
        return build()
    except ValidationError as exc:
        err = exc.errors()[0]
        flag = _flag_of(part, [str(p) for p in err.get("loc", ())], names or {})
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        raise InputError(source or "<command line>", f"option '{flag}': {message}") from exc


def _unknown(flags: dict[str, Any], known: set[str], source: str | Path | None, command: str) -> None:
    unknown = sorted(k for k, v in flags.items() if v is not None and k not in known)
    if unknown:
        raise InputError(source or "<command line>", f"unknown option {unknown[0]!r} (not a flag of {command})")


def _required(flags: dict[str, Any], names: tuple[str, ...], source: str | Path | None) -> None:
    for name in names:
        if flags.get(name) in (None, "", [], ()):
            raise InputError(source or "<command line>", f"option '{name}': missing: pass --{name.replace('_', '-')} "
                             "or set it in --config")


def _judges(value: Any) -> list[str] | None:
    if value is None:
        return None
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    return list(dict.fromkeys(str(v) for v in values)) or None


def _with_backend(spec: BackendSpec | None, flags: dict[str, Any], model: str | None, part: str,
                  source: str | Path | None, names: dict[str, str]) -> BackendSpec:
    changes = _given(flags, BACKEND_FLAGS)
    if model is not None:
        changes["spec"] = model
    if flags.get("completion") is not None:
        changes["endpoint"] = "completions" if flags["completion"] else "chat"
    if spec is None:
        return _validated(part, lambda: BackendSpec.model_validate(changes), source, names)
    return _validated(part, lambda: spec.with_(**changes), source, names) if changes else spec


def generate_from_flags(base: GenerateSettings | None, flags: dict[str, Any], *, source: str | Path | None = None,
                        command: str = "justeval generate") -> GenerateSettings:
    """GenerateSettings from `generate`'s flags (names as its options); `seed` seeds the
    selection and the example draw, `model_seed` is sent to the model."""
    _unknown(flags, GENERATE_FLAGS, source, command)
    if base is None:
        _required(flags, ("model",), source)
    model = _with_backend(base.model if base else None, flags, flags.get("model"), "model", source, {})
    old = base or GenerateSettings(model=model)
    prompt = _given(flags, PROMPT_FLAGS)
    selection = _given(flags, SELECTION_FLAGS)
    if flags.get("seed") is not None:
        prompt["seed"] = selection["seed"] = flags["seed"]
    params = _given(flags, PARAM_FLAGS)
    if flags.get("param"):
        from justeval.generation.decoding import parse_params

        values = flags["param"]
        params["extra"] = {**old.params.extra, **parse_params([values] if isinstance(values, str) else values)}
    return _validated("gen", lambda: GenerateSettings.model_validate({
        **old.model_dump(), "model": model.model_dump(),
        "generator": flags["generator"] if flags.get("generator") is not None else old.generator,
        "params": {**old.params.model_dump(), **params},
        "prompt": {**old.prompt.model_dump(), **prompt},
        "engine": {**old.engine.model_dump(), "progress": old.engine.progress, **_given(flags, ENGINE_FLAGS)},
        "instructions": flags["instructions"] if flags.get("instructions") is not None else old.instructions,
        "selection": {**old.selection.model_dump(), **selection},
    }), source)


def judge_from_flags(base: JudgeSettings | None, judge: str | None, flags: dict[str, Any], *,
                     source: str | Path | None = None, names: dict[str, str] | None = None,
                     command: str = "justeval judge") -> JudgeSettings:
    """JudgeSettings for `judge` from `judge`'s flags (names as its options: `base_url`,
    `temperature` ... are the judge's); `names` maps them to the names the user wrote."""
    names = names or {}
    _unknown(flags, JUDGE_OPTION_FLAGS, source, command)
    spec = _with_backend(base.judge if base else None, flags, judge, "judge", source, names)
    old = base or JudgeSettings(judge=spec)
    selection = _given(flags, SELECTION_FLAGS)
    if flags.get("seed") is not None:
        selection["seed"] = flags["seed"]
    return _validated("judge", lambda: JudgeSettings.model_validate({
        **old.model_dump(), **_given(flags, JUDGE_FLAGS), "judge": spec.model_dump(),
        "params": {**old.params.model_dump(), **_given(flags, PARAM_FLAGS)},
        "engine": {**old.engine.model_dump(), "progress": old.engine.progress, **_given(flags, ENGINE_FLAGS)},
        "selection": {**old.selection.model_dump(), **selection},
    }), source, names)


def run_settings_from_flags(base: RunSettings | None, flags: dict[str, Any], *,
                            source: str | Path | None = None) -> RunSettings:
    """`base` with `justeval run`'s given flags applied (see the module docstring)."""
    _unknown(flags, RUN_FLAGS, source, "justeval run")
    judges = _judges(flags.get("judge"))
    if base is None:
        _required({**flags, "judge": judges}, ("model", "judge", "out"), source)
    gen_flags = {k: v for k, v in flags.items() if k in GENERATE_FLAGS and k not in ("budget", "parse_retries")}
    generate = generate_from_flags(base.generate if base else None, gen_flags, source=source, command="justeval run")

    renamed = {flag: name for flag, name in RUN_JUDGE_NAMES.items()}
    judge_flags = {renamed.get(k, k): v for k, v in flags.items()
                   if k in RUN_JUDGE_NAMES or k in JUDGE_FLAGS or k in ENGINE_FLAGS}
    shown = {name: flag for flag, name in RUN_JUDGE_NAMES.items()}
    if judges is not None:  # new judges take the settings of the first recorded one
        first = base.judging[0] if base else None
        judging = [judge_from_flags(first, j, judge_flags, source=source, names=shown, command="justeval run")
                   for j in judges]
    else:
        assert base is not None
        judging = [judge_from_flags(j, None, judge_flags, source=source, names=shown, command="justeval run")
                   for j in base.judging]
    old_board = base.leaderboard if base else BoardSettings()
    board = _validated("board", lambda: BoardSettings.model_validate({
        **old_board.model_dump(), **_given(flags, BOARD_FLAGS),
        **({"seed": flags["seed"]} if flags.get("seed") is not None else {})}), source)
    out = str(flags["out"]) if flags.get("out") is not None else (base.out if base else "")
    return RunSettings(out=out, generate=generate, judging=judging, leaderboard=board)


def resolve_run_settings(config: str | Path | None, flags: dict[str, Any]) -> tuple[RunSettings, bool]:
    """The settings of `justeval run --config FILE [flags]`: the file's settings (a run.json,
    or RunSettings' fields) with the given flags applied, or a flat file of flag names merged
    with the given flags (flags win). Without a file, the flags alone. The flag says whether the
    file is foreign (not a run of this machine): its local paths are then confined to its
    folder (`justeval.pipeline.trust`), and the caller shows what it will send where."""
    from justeval.pipeline.trust import confine

    if config is None:
        return run_settings_from_flags(None, flags), False
    loaded, foreign = read_config(config)
    if isinstance(loaded, RunSettings):
        settings = run_settings_from_flags(loaded, flags, source=config)
    else:
        merged = {**loaded, **{k: v for k, v in flags.items() if v is not None}}
        settings = run_settings_from_flags(None, merged, source=config)
    if foreign:
        settings = confine(settings, Path(config), {k for k, v in flags.items() if v is not None})
    return settings, foreign


def read_config(path: str | Path) -> tuple[RunSettings | dict[str, Any], bool]:
    """A `--config` file: a run directory's run.json (whichever command made it, any format
    version) or a YAML/JSON of RunSettings' fields, as RunSettings; or a flat YAML/JSON of
    `justeval run`'s flag names, as that mapping; and whether it is foreign (anything but the
    run.json of a run made on this machine, in its own folder). Bad input is one line naming
    the file."""


    from justeval.errors import describe_invalid
    from justeval.manifest import parse_manifest
    from justeval.pipeline.trust import is_own_run

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read config: {exc}") from exc
    from justeval.jsonl import parse_json
    from justeval.yamlfile import parse_yaml

    # one line for every way the file can be wrong (too deep, a 5,000-digit number, a lone surrogate too)
    data = parse_json(text, path) if path.suffix == ".json" else parse_yaml(text, path)
    if not isinstance(data, dict):
        raise InputError(path, "a config must be a mapping of option names to values")
    nested = isinstance(data.get("judging"), list)  # RunSettings' own fields, not a run.json's sections
    if not nested and {"pipeline", "generate", "import", "format_version"} & data.keys():  # a run.json
        manifest = parse_manifest(data, path)
        settings = manifest.repeat_settings(path)
        if path.name == "run.json":  # the run is where its run.json is, wherever it was made from
            settings = settings.model_copy(update={"out": str(path.resolve().parent)})
        return settings, not (path.name == "run.json" and is_own_run(path, manifest.origin))
    if nested:
        try:
            return RunSettings.model_validate(data), True
        except ValidationError as exc:
            raise InputError(path, describe_invalid(exc)) from exc
    return {str(k).replace("-", "_"): v for k, v in data.items()}, True
