"""Judge templates: our own Jinja2 templates (with metadata beside them) and upstream
`string.Template` files, loaded by built-in name, path or URL.

Two kinds, told apart by the file suffix:
- `.j2`: Jinja2 with StrictUndefined (a variable the template uses but nobody passes fails
  loudly, naming the file). Metadata comes from the `.yaml` of the same stem, if present.
- anything else (`.txt`): an upstream just-eval prompt in `string.Template` syntax
  (`${instruction}`, `${candidate}`), rendered with `substitute` so the prompt equals what
  the original sent byte for byte. Such a template is `upstream` (exact-reproduction mode).
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from justeval.errors import InputError
from justeval.paths import data_dir

#: a judge template is a prompt, not a data file: anything larger is refused
MAX_TEMPLATE_BYTES = 1024 * 1024

# An aspect in an upstream template's JSON example: `"name": { ... "score" ...}`.
_UPSTREAM_ASPECT = re.compile(r'"(\w+)"\s*:\s*\{[^{}]*"score"')


@dataclass(frozen=True)
class JudgeTemplate:
    """One judge prompt template. `hash` identifies its exact content (part of the resume
    key and of every judgment record)."""

    name: str
    text: str
    source: str
    upstream: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()[:12]

    @property
    def aspects(self) -> list[str]:
        return [str(a) for a in self.meta.get("aspects") or []]

    @property
    def category(self) -> str | None:
        cat = self.meta.get("category")
        return str(cat) if cat else None

    @property
    def json_schema(self) -> dict[str, Any] | None:
        schema = self.meta.get("json_schema")
        return schema if isinstance(schema, dict) else None

    def response_format(self) -> dict[str, Any] | None:
        """The structured-output request for this template (never for upstream ones)."""
        if self.upstream or self.json_schema is None:
            return None
        name = re.sub(r"[^A-Za-z0-9_-]", "_", self.name)[:64] or "judgment"
        return {"type": "json_schema", "json_schema": {"name": name, "strict": True, "schema": self.json_schema}}

    def render(self, **variables: Any) -> str:
        if self.upstream:
            return _render_upstream(self, variables)
        return _render_jinja(self, variables)


def boundary_for(variables: dict[str, Any]) -> str:
    """A marker tag derived from the quoted content itself: an answer cannot close its own
    quotation early, because it cannot contain the hash of itself."""
    digest = hashlib.sha256()
    for key in sorted(variables):
        digest.update(f"{key}\0{variables[key]}\0".encode())
    return digest.hexdigest()[:16]


def _render_upstream(tpl: JudgeTemplate, variables: dict[str, Any]) -> str:
    try:
        return string.Template(tpl.text).substitute(**variables)
    except KeyError as exc:
        raise InputError(tpl.source, f"template needs variable ${{{exc.args[0]}}}, which is not provided "
                         f"(available: {', '.join(sorted(variables))})") from exc
    except ValueError as exc:
        raise InputError(tpl.source, f"invalid string.Template placeholder: {exc}") from exc


def _render_jinja(tpl: JudgeTemplate, variables: dict[str, Any]) -> str:
    import jinja2

    values = dict(variables)
    values.setdefault("boundary", boundary_for(variables))
    try:
        return _compile(tpl.text, tpl.source).render(**values)
    except jinja2.UndefinedError as exc:
        raise InputError(tpl.source, f"template uses an undefined variable: {exc.message} "
                         f"(available: {', '.join(sorted(values))})") from exc


_COMPILED: dict[tuple[str, str], Any] = {}


def _compile(text: str, source: str) -> Any:
    import jinja2

    key = (source, text)
    if key not in _COMPILED:
        env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                 autoescape=False)
        try:
            _COMPILED[key] = env.from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(source, f"Jinja2 syntax error: {exc.message}", line=exc.lineno) from exc
    return _COMPILED[key]


def builtin_names() -> list[str]:
    return sorted(p.stem for p in data_dir("judges").glob("*.j2"))


def load_template(ref: str | Path) -> JudgeTemplate:
    """Load a template by built-in name (`score_multi`), local path, or http(s) URL."""
    text_ref = str(ref)
    if text_ref.startswith(("http://", "https://")):
        return _from_url(text_ref)
    path = Path(text_ref).expanduser()
    if path.suffix == "" and not path.exists() and "/" not in text_ref:
        builtin = data_dir("judges") / f"{text_ref}.j2"
        if not builtin.is_file():
            raise InputError(text_ref, f"no built-in judge template of that name (built-in: "
                             f"{', '.join(builtin_names())}; or give a .j2/.txt path or a URL)")
        path = builtin
    if not path.is_file():
        raise InputError(path, "judge template file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read judge template: {exc}") from exc
    return _build(path.stem, text, str(path), path.suffix == ".j2", _sidecar_meta(path))


def _from_url(url: str) -> JudgeTemplate:
    from justeval.fetch import fetch_text

    text = fetch_text(url, what="judge template", hint="download it and pass the file path", timeout=30.0,
                      max_bytes=MAX_TEMPLATE_BYTES)
    stem = Path(url.split("?", 1)[0].rstrip("/")).stem or "template"
    return _build(stem, text, url, url.split("?", 1)[0].endswith(".j2"), {})


def _sidecar_meta(path: Path) -> dict[str, Any]:
    meta_path = path.with_suffix(".yaml")
    if not meta_path.is_file():
        return {}
    try:
        meta = yaml.safe_load(meta_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(meta_path, f"unreadable template metadata: {exc}") from exc
    if not isinstance(meta, dict):
        raise InputError(meta_path, "template metadata must be a YAML mapping")
    return meta


def _build(name: str, text: str, source: str, jinja: bool, meta: dict[str, Any]) -> JudgeTemplate:
    meta = dict(meta)
    if jinja:
        _compile(text, source)  # syntax errors surface at load time
    elif not meta.get("aspects"):
        found = list(dict.fromkeys(_UPSTREAM_ASPECT.findall(text)))
        if found:
            meta["aspects"] = found
    if "aspects" in meta and not isinstance(meta["aspects"], list):
        raise InputError(source, "template metadata 'aspects' must be a list")
    return JudgeTemplate(name=str(meta.get("name") or name), text=text, source=source,
                         upstream=not jinja, meta=meta)


def upstream_settings() -> dict[str, Any]:
    """What the original scorer sent with an upstream prompt (judges/upstream.yaml)."""
    path = data_dir("judges") / "upstream.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}
