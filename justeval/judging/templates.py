"""Judge templates: our own Jinja2 templates (with metadata beside them) and upstream
`string.Template` files, loaded by built-in name, path or URL.

Two kinds, told apart by the file suffix:
- `.j2`: Jinja2 with StrictUndefined (a variable the template uses but nobody passes fails
  loudly, naming the file). Metadata comes from the `.yaml` of the same stem, if present.
  A template may come from a stranger (a URL, a shared folder), so it is rendered in Jinja2's
  immutable sandbox: no attribute starting with `_`, no unsafe methods, no changing the values
  it is given; repetition and powers are bounded, and so is the rendered prompt. Any failure
  while rendering (a division by zero, a method that does not exist) is one InputError naming
  the template and its line.
- anything else (`.txt`): an upstream just-eval prompt in `string.Template` syntax
  (`${instruction}`, `${candidate}`), rendered with `substitute` so the prompt equals what
  the original sent byte for byte. Such a template is `upstream` (exact-reproduction mode).

Either kind must show the judge the answer it grades (`candidate`; `first` and `second` for a
pairwise template): one that never does is refused when loaded, before any call is made.
"""

from __future__ import annotations

import hashlib
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml

from justeval.errors import InputError
from justeval.paths import data_dir

#: a judge template is a prompt, not a data file: anything larger is refused
MAX_TEMPLATE_BYTES = 1024 * 1024
#: the variables a template must use, by kind: each answer the judge grades, under any of its
#: names (ours, and the upstream just-eval prompts' `${candidateA}` / `${candidateB}`)
Answers = Sequence[tuple[str, ...]]
SCORE_ANSWERS: Answers = (("candidate",),)
PAIRWISE_ANSWERS: Answers = (("first", "candidateA"), ("second", "candidateB"))
#: a rendered prompt may add this much to the text it quotes (a loop cannot fill memory)
MAX_RENDERED_EXTRA_CHARS = 4 * 1024 * 1024

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
    from jinja2.exceptions import SecurityError

    values = dict(variables)
    values.setdefault("boundary", boundary_for(variables))
    quoted = sum(len(v) for v in values.values() if isinstance(v, str))
    limit = MAX_RENDERED_EXTRA_CHARS + 4 * quoted
    try:
        out: list[str] = []
        size = 0
        for piece in _compile(tpl.text, tpl.source).generate(**values):
            size += len(piece)
            if size > limit:
                raise SecurityError(f"the rendered prompt grows past {limit:,} characters")
            out.append(piece)
        return "".join(out)
    except jinja2.UndefinedError as exc:
        raise InputError(tpl.source, f"template uses an undefined variable or attribute: {exc.message} "
                         f"(available: {', '.join(sorted(values))})", line=_template_line(exc)) from exc
    except SecurityError as exc:
        raise InputError(tpl.source, f"template refused by the sandbox: {exc}", line=_template_line(exc)) from exc
    except InputError:
        raise
    except Exception as exc:  # whatever the template's own code raises: a fault of the template
        message = str(exc).splitlines()[0][:200] if str(exc).strip() else ""
        raise InputError(tpl.source, f"template failed while rendering: {type(exc).__name__}"
                         f"{': ' + message if message else ''}", line=_template_line(exc)) from exc


def _template_line(exc: BaseException) -> int | None:
    """The template line being rendered when `exc` was raised (Jinja2 maps its frames to
    template lines under the file name `<template>`)."""
    line = None
    tb: TracebackType | None = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_COMPILED: dict[tuple[str, str], Any] = {}


def _environment() -> Any:
    """Jinja2's immutable sandbox, with StrictUndefined, and `*` and `**` bounded (`"x" * 10**9`
    would otherwise fill memory before the size check on the output could see it)."""
    from jinja2 import StrictUndefined
    from jinja2.exceptions import SecurityError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class TemplateSandbox(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset({"*", "**"})

        def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
            if operator == "**" and isinstance(right, (int, float)) and abs(right) > 64:
                raise SecurityError(f"power {right!r} is too large")
            if operator == "*":
                for seq, times in ((left, right), (right, left)):
                    if isinstance(seq, (str, list, tuple)) and isinstance(times, int) \
                            and len(seq) * times > MAX_RENDERED_EXTRA_CHARS:
                        raise SecurityError("repetition is too large")
            return super().call_binop(context, operator, left, right)

    return TemplateSandbox(undefined=StrictUndefined, keep_trailing_newline=True, autoescape=False)


def _compile(text: str, source: str) -> Any:
    import jinja2

    key = (source, text)
    if key not in _COMPILED:
        try:
            _COMPILED[key] = _environment().from_string(text)
        except jinja2.TemplateSyntaxError as exc:
            raise InputError(source, f"Jinja2 syntax error: {exc.message}", line=exc.lineno) from exc
    return _COMPILED[key]


def _jinja_variables(text: str, source: str) -> set[str]:
    """The variables a Jinja2 template reads from what it is given (from its syntax tree)."""
    import jinja2
    from jinja2 import meta

    try:
        tree = _environment().parse(text)
    except jinja2.TemplateSyntaxError as exc:
        raise InputError(source, f"Jinja2 syntax error: {exc.message}", line=exc.lineno) from exc
    return set(meta.find_undeclared_variables(tree))


def _upstream_variables(text: str) -> set[str]:
    found = set()
    for match in string.Template.pattern.finditer(text):
        name = match.group("named") or match.group("braced")
        if name:
            found.add(name)
    return found


def _check_answers(text: str, source: str, jinja: bool, answers: Answers) -> None:
    """Refuse a template that never shows the judge the answer(s) to grade: its scores would
    grade nothing, and look like any other."""
    used = _jinja_variables(text, source) if jinja else _upstream_variables(text)
    missing = [names[0] if jinja else names[-1] for names in answers if not set(names) & used]
    if missing:
        shown = ", ".join(("{{ %s }}" if jinja else "${%s}") % a for a in missing)
        raise InputError(source, f"template never uses {shown}, the answer to grade: a judge that is not "
                         "shown the answer cannot grade it")


def builtin_names() -> list[str]:
    return sorted(p.stem for p in data_dir("judges").glob("*.j2"))


def load_template(ref: str | Path, *, answers: Answers | None = None) -> JudgeTemplate:
    """Load a template by built-in name (`score_multi`), local path, or http(s) URL; `answers`
    are the variables it must use (PAIRWISE_ANSWERS for a pairwise template; by default, those
    of the kind its metadata names, else SCORE_ANSWERS)."""
    text_ref = str(ref)
    if text_ref.startswith(("http://", "https://")):
        return _from_url(text_ref, answers)
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
    return _build(path.stem, text, str(path), path.suffix == ".j2", _sidecar_meta(path), answers)


def _from_url(url: str, answers: Answers | None) -> JudgeTemplate:
    from justeval.fetch import fetch_text

    text = fetch_text(url, what="judge template", hint="download it and pass the file path", timeout=30.0,
                      max_bytes=MAX_TEMPLATE_BYTES)
    stem = Path(url.split("?", 1)[0].rstrip("/")).stem or "template"
    return _build(stem, text, url, url.split("?", 1)[0].endswith(".j2"), {}, answers)


def _sidecar_meta(path: Path) -> dict[str, Any]:
    meta_path = path.with_suffix(".yaml")
    if not meta_path.is_file():
        return {}
    from justeval.yamlfile import parse_yaml

    try:
        text = meta_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(meta_path, f"unreadable template metadata: {exc}") from exc
    meta = parse_yaml(text, meta_path)
    if not isinstance(meta, dict):
        raise InputError(meta_path, "template metadata must be a YAML mapping")
    return meta


def _build(name: str, text: str, source: str, jinja: bool, meta: dict[str, Any],
           answers: Answers | None = None) -> JudgeTemplate:
    meta = dict(meta)
    if jinja:
        _compile(text, source)  # syntax errors surface at load time
    if answers is None:
        answers = PAIRWISE_ANSWERS if meta.get("kind") == "pairwise" else SCORE_ANSWERS
    _check_answers(text, source, jinja, answers)
    if not jinja and not meta.get("aspects"):
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
