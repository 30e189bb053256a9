"""run.json, typed: what produced a run directory, one section per command, each holding that
stage's settings model as it ran. Read and written only through `RunDir` (`read_manifest`,
`write_section`); its JSON schema ships in the package (`justeval/schemas/run.schema.json`).

A run.json written by an older justeval is upgraded when read, by the numbered functions in
`MIGRATIONS` (one per format version, each taking the JSON of version N to N+1), so a 0.1 run
directory still resumes, judges and ranks. The file on disk is rewritten in the new format the
next time a command records something in it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from justeval.engine.types import GenParams
from justeval.errors import InputError, describe_invalid
from justeval.settings import GenerateSettings, JudgeSettings, PairwiseSettings, RunSettings

FORMAT_VERSION = 2
SCHEMA_FILE = Path(__file__).with_name("schemas") / "run.schema.json"

_STRICT = ConfigDict(extra="forbid", use_attribute_docstrings=True, populate_by_name=True)


class TemplateInfo(BaseModel):
    """A judge template as it was used: name, content hash, where it was read from."""

    model_config = _STRICT

    name: str
    hash: str
    source: str | None = None
    upstream: bool = False
    """An original just-eval `string.Template` file (exact-reproduction mode)."""


class RunSection(BaseModel):
    """`justeval run`: its command line (its settings are the `pipeline` section)."""

    model_config = _STRICT

    command: str | None = None


class GenerateSection(BaseModel):
    """`justeval generate` (or the generation stage of `justeval run`)."""

    model_config = _STRICT

    command: str | None = None
    """The command line, from the options the user set (never a key)."""

    settings: GenerateSettings
    """The stage's settings as it ran (local paths absolute)."""

    items: int = 0
    """Instructions selected."""

    request_params: GenParams = Field(default_factory=GenParams)
    """The decoding parameters actually sent (the settings' plus the stop sequences of a completion prompt)."""

    prompt: dict[str, Any] = Field(default_factory=dict)
    """What decides the prompts (system message, prompt content hashes, example pool hash): compared on resume."""

    prompt_sources: dict[str, Any] = Field(default_factory=dict)
    """Where the prompt parts came from (URIAL prompt name and source, example pool file and size)."""


class ImportSection(BaseModel):
    """`justeval import`: outputs made elsewhere."""

    model_config = _STRICT

    command: str | None = None
    file: str
    sha256: str
    format: str
    generator: str
    records: int
    instructions: str | None = None
    """The instruction source the records were matched against."""


class JudgeSection(BaseModel):
    """One judge of the run (`justeval judge`, or the judging stage of `justeval run`)."""

    model_config = _STRICT

    command: str | None = None
    settings: JudgeSettings
    templates: dict[str, TemplateInfo] = Field(default_factory=dict)
    """The template used for each category (`regular`, `safety`)."""


class PairwiseSection(BaseModel):
    """One pairwise comparison file written from this run (`justeval pairwise`)."""

    model_config = _STRICT

    command: str | None = None
    settings: PairwiseSettings
    run_b: str
    template: TemplateInfo


class RunManifest(BaseModel):
    """The whole run.json."""

    model_config = _STRICT

    format_version: int = FORMAT_VERSION
    created: str | None = None
    """When the run directory was first recorded (UTC, ISO 8601)."""

    origin: str | None = None
    """A mark that tells this machine's own runs from copied ones (`justeval.pipeline.trust`)."""

    versions: dict[str, str] = Field(default_factory=dict)
    """justeval, Python, the platform and the libraries that can change what a run sends or reads."""

    run: RunSection | None = None
    pipeline: RunSettings | None = None
    """The settings of `justeval run`, when it made this run."""

    generate: GenerateSection | None = None
    import_: ImportSection | None = Field(None, alias="import")
    judging: dict[str, JudgeSection] = Field(default_factory=dict)
    """Per judge spec."""

    pairwise: dict[str, PairwiseSection] = Field(default_factory=dict)
    """Per pairwise file."""

    def dump(self) -> dict[str, Any]:
        """JSON-ready, with the public section names (`import`), empty sections left out."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        return {k: v for k, v in data.items() if v != {} or k in ("versions",)}

    def instruction_source(self) -> str | None:
        """The instruction source this run's items came from, where recorded."""
        if self.generate is not None:
            from justeval.instructions.load import DEFAULT_SOURCE

            return self.generate.settings.instructions or DEFAULT_SOURCE
        if self.import_ is not None and self.import_.instructions:
            return self.import_.instructions
        return None

    def repeat_settings(self, where: str | Path) -> RunSettings:
        """The `justeval run` settings that repeat this run: its `pipeline` section, else its
        generation and every judge it was judged by."""
        if self.pipeline is not None:
            return self.pipeline
        if self.generate is None:
            if self.import_ is not None:
                raise InputError(where, "this run was imported (justeval import), so there is no generation to "
                                 "repeat; judge it with `justeval judge RUN_DIR --judge SPEC`")
            raise InputError(where, "run.json records no generation (no `pipeline` or `generate` section)")
        if not self.judging:
            raise InputError(where, "run.json records no judge: judge the run first, or pass --judge")
        out = str(Path(where).resolve().parent) if Path(where).name == "run.json" else "."
        return RunSettings(out=out, generate=self.generate.settings,
                           judging=[j.settings for j in self.judging.values()])


def schema() -> dict[str, Any]:
    """The JSON schema of run.json (the file shipped in the package is this, written out)."""
    data = RunManifest.model_json_schema(by_alias=True)
    data["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    data["$id"] = "https://github.com/justeval/justeval/run.schema.json"
    return data


def write_schema() -> None:
    """Write `schema()` to the shipped file (run `python -m justeval.manifest` after changing a settings model)."""
    SCHEMA_FILE.write_text(json.dumps(schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


@cache
def shipped_schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    return loaded


# -- reading, with migrations ------------------------------------------------------------

Migration = Callable[[dict[str, Any]], dict[str, Any]]


def parse_manifest(data: Any, where: str | Path) -> RunManifest:
    """A run.json's JSON as a RunManifest, upgraded from older formats; bad input is one line."""
    if not isinstance(data, dict):
        raise InputError(where, "run.json must hold a JSON object")
    version = data.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise InputError(where, f"run.json: format_version {version!r} is not a version number")
    if version > FORMAT_VERSION:
        raise InputError(where, f"run.json has format version {version}, newer than this justeval reads "
                         f"({FORMAT_VERSION}): upgrade justeval")
    for step in MIGRATIONS[version - 1:]:
        try:
            data = step(data)
        except InputError as exc:  # a recorded value the settings refuse: name this file
            raise InputError(where, exc.message) from exc
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise InputError(where, f"run.json of format {version} cannot be upgraded: {exc}") from exc
    try:
        return RunManifest.model_validate(data)
    except ValidationError as exc:
        raise InputError(where, describe_invalid(exc).replace("invalid setting", "invalid field")) from exc


def _section(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    return value if isinstance(value, dict) else {}


def _some(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _v1_backend(spec: Any, backend: dict[str, Any], *, completion: bool = False,
                timeout: Any = None) -> dict[str, Any]:
    return _some({"spec": spec, "base_urls": [backend["base_url"]] if backend.get("base_url") else None,
                  "api_key_env": backend.get("api_key_env"), "endpoint": "completions" if completion else None,
                  "timeout_s": timeout})


def _v1_engine(engine: dict[str, Any]) -> dict[str, Any]:
    return _some({k: engine.get(k) for k in ("concurrency", "rpm", "tpm", "max_retries", "timeout_s", "cache",
                                             "parse_retries", "budget_usd")})


_V1_SELECTION = ("subset", "datasets", "tasks", "topics", "difficulties", "ids", "limit", "sample", "seed")


def _v1_generate(gen: dict[str, Any]) -> dict[str, Any]:
    settings = _section(gen, "settings")
    params = _section(settings, "params")
    prompt = _section(settings, "prompt")
    sources = _section(gen, "prompt_sources")
    origin = _section(gen, "instructions")
    urial = _section(sources, "urial")
    urial_ref = None
    if urial:
        source = str(urial.get("source") or "")
        urial_ref = urial.get("name") if source.startswith("builtin:") or not source else source
    icl = _section(prompt, "icl")
    stops = set(params.get("stop") or [])
    if urial or icl:  # the stops a completion prompt adds were recorded with the params; settings hold the user's
        stops -= {"# Query:"}
    user_params = {**{k: v for k, v in params.items() if k != "stop"}, **({"stop": sorted(stops)} if stops else {})}
    new_settings = _some({
        "model": _v1_backend(settings.get("model"), _section(gen, "backend"),
                             completion=bool(settings.get("completion"))),
        "generator": settings.get("generator") if settings.get("generator") != settings.get("model") else None,
        "params": user_params,
        "prompt": _some({"system": prompt.get("system"), "urial": urial_ref,
                         "icl_examples": _section(sources, "icl_examples").get("file") if icl else None,
                         "shots": icl.get("shots"), "select": icl.get("select"), "seed": icl.get("seed")}),
        "engine": _v1_engine(_section(gen, "engine")),
        "instructions": origin.get("source"),
        "selection": _some({k: _section(origin, "selection").get(k) for k in _V1_SELECTION}),
    })
    return _some({"command": gen.get("command"), "settings": new_settings, "items": origin.get("items"),
                  "request_params": params, "prompt": prompt, "prompt_sources": sources})


_BUILTIN_TEMPLATES = {"regular": "score_multi", "safety": "score_safety"}


def _v1_judge(spec: str, old: dict[str, Any]) -> dict[str, Any]:
    templates = _section(old, "templates")
    refs: dict[str, Any] = {}
    for category, option in (("regular", "template_multi"), ("safety", "template_safety")):
        tpl = _section(templates, category)
        if tpl.get("upstream") or tpl.get("name") not in (None, _BUILTIN_TEMPLATES[category]):
            refs[option] = tpl.get("source")
    settings = _some({"judge": _v1_backend(spec, _section(old, "backend")), **refs,
                      "judge_system": old.get("judge_system"), "max_words": old.get("max_words"),
                      "params": _section(old, "params") or None, "engine": _v1_engine(_section(old, "engine"))})
    return _some({"command": old.get("command"), "settings": settings,
                  "templates": {c: _some({k: t.get(k) for k in ("name", "hash", "source", "upstream")})
                                for c, t in templates.items() if isinstance(t, dict)}})


def _v1_pairwise(old: dict[str, Any]) -> dict[str, Any]:
    template = _section(old, "template")
    settings = _some({"judge": _v1_backend(old.get("judge"), _section(old, "backend")),
                      "template": template.get("name") if template.get("name") != "pairwise" else None,
                      "aspects": old.get("aspects"), "params": _section(old, "params") or None,
                      "engine": _v1_engine(_section(old, "engine"))})
    return {"settings": settings, "run_b": old.get("run_b"), "template": template}


def _v1_pipeline(flat: dict[str, Any]) -> dict[str, Any]:
    """0.1 recorded `justeval run`'s resolved flags; today's RunSettings are built from the same flags."""
    from justeval.pipeline.flags import run_settings_from_flags

    return run_settings_from_flags(None, flat).model_dump(mode="json")


def migrate_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """0.1: flat sections with the settings spread over `settings`, `backend`, `engine` keys."""
    out: dict[str, Any] = {"format_version": 2, "created": data.get("created"),
                           "versions": _section(data, "versions")}
    if _section(data, "run"):
        out["run"] = {"command": _section(data, "run").get("command")}
    if _section(data, "pipeline"):
        out["pipeline"] = _v1_pipeline(_section(data, "pipeline"))
    if _section(data, "generate"):
        out["generate"] = _v1_generate(_section(data, "generate"))
    imported = _section(data, "import")
    if imported:
        out["import"] = _some({**{k: imported.get(k) for k in ("command", "file", "sha256", "format", "generator",
                                                               "records")},
                               "instructions": _section(imported, "instructions").get("source")})
    out["judging"] = {spec: _v1_judge(spec, old) for spec, old in _section(data, "judging").items()
                      if isinstance(old, dict)}
    out["pairwise"] = {path: _v1_pairwise(old) for path, old in _section(data, "pairwise").items()
                       if isinstance(old, dict)}
    return out


#: MIGRATIONS[n - 1] upgrades format n to n + 1
MIGRATIONS: list[Migration] = [migrate_1_to_2]


if __name__ == "__main__":
    write_schema()
