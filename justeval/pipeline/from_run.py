"""A run directory's run.json as a `justeval run` config, whichever command made the run.

`justeval run` keeps its options under `pipeline`; `justeval generate` and `justeval judge`
record theirs under `generate` and `judging`, which map onto the same options. The run
directory is the folder holding the run.json, wherever it was made from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from justeval.errors import InputError

_SELECTION = {"subset": "subset", "datasets": "dataset", "tasks": "task", "topics": "topic",
              "difficulties": "difficulty", "ids": "ids", "limit": "limit", "sample": "sample", "seed": "seed"}
_ENGINE = {"concurrency": "concurrency", "rpm": "rpm", "tpm": "tpm", "max_retries": "max_retries",
           "timeout_s": "timeout", "cache": "cache"}


def _section(meta: dict[str, Any], name: str) -> dict[str, Any]:
    value = meta.get(name)
    return value if isinstance(value, dict) else {}


def _from_generate(gen: dict[str, Any]) -> dict[str, Any]:
    settings = _section(gen, "settings")
    params = _section(settings, "params")
    prompt = _section(settings, "prompt")
    sources = _section(gen, "prompt_sources")
    origin = _section(gen, "instructions")
    out: dict[str, Any] = {"model": settings.get("model"), "completion": settings.get("completion", False),
                           "temperature": params.get("temperature"), "max_tokens": params.get("max_tokens"),
                           "top_p": params.get("top_p"), "system": prompt.get("system"),
                           "instructions": origin.get("source")}
    if settings.get("generator") not in (None, settings.get("model")):
        out["generator"] = settings["generator"]
    urial = _section(sources, "urial")
    if urial:
        source = str(urial.get("source") or "")
        out["urial"] = urial.get("name") if source.startswith("builtin:") or not source else source
    icl = _section(prompt, "icl")
    if icl:
        out.update(icl_examples=_section(sources, "icl_examples").get("file"), shots=icl.get("shots"),
                   select=icl.get("select"))
    for key, option in _SELECTION.items():
        out[option] = _section(origin, "selection").get(key)
    for key, option in _ENGINE.items():
        out[option] = _section(gen, "engine").get(key)
    backend = _section(gen, "backend")
    out.update(base_url=backend.get("base_url"), api_key_env=backend.get("api_key_env"))
    return out


def _from_judging(judging: dict[str, Any]) -> dict[str, Any]:
    """Every judge of the run; the first judge's settings (judges of one run share them)."""
    judges = [name for name, value in judging.items() if isinstance(value, dict)]
    if not judges:
        return {}
    first = judging[judges[0]]
    templates = _section(first, "templates")
    builtin = {"regular": "score_multi", "safety": "score_safety"}
    out: dict[str, Any] = {"judge": judges}
    for category, option in (("regular", "template_multi"), ("safety", "template_safety")):
        template = _section(templates, category)
        if template.get("upstream") or template.get("name") not in (None, builtin[category]):
            out[option] = template.get("source")
    params = _section(first, "params")
    engine = _section(first, "engine")
    backend = _section(first, "backend")
    out.update(judge_system=first.get("judge_system"), max_words=first.get("max_words"),
               judge_temperature=params.get("temperature"), judge_max_tokens=params.get("max_tokens"),
               parse_retries=engine.get("parse_retries"), budget=engine.get("budget_usd"),
               judge_base_url=backend.get("base_url"), judge_api_key_env=backend.get("api_key_env"))
    return out


def config_from_run_json(meta: dict[str, Any], path: Path) -> dict[str, Any]:
    """The `justeval run` options that repeat the run recorded in `meta` (read from `path`)."""
    pipeline = _section(meta, "pipeline")
    if pipeline:
        values = dict(pipeline)
    elif _section(meta, "generate"):
        values = {**_from_generate(_section(meta, "generate")), **_from_judging(_section(meta, "judging"))}
    elif _section(meta, "import"):
        raise InputError(path, "this run was imported (justeval import), so there is no generation to repeat; "
                         "judge it with `justeval judge RUN_DIR --judge SPEC`")
    else:
        raise InputError(path, "run.json records no generation (no `pipeline` or `generate` section)")
    if path.name == "run.json":
        values["out"] = str(path.resolve().parent)  # the run is where its run.json is, wherever it was made from
    return {k: v for k, v in values.items() if v is not None}
