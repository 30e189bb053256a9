"""Turning one generation into the judge request: template choice, truncation, messages and
structured-output settings. Kept apart from the stage so dry-run and tests build the very same
requests that are sent."""

from __future__ import annotations

from dataclasses import dataclass

from justeval.engine.types import GenParams, Message, Request
from justeval.judging.templates import JudgeTemplate, load_template, upstream_settings
from justeval.records import ASPECTS_BY_CATEGORY, Generation

TRUNCATION_MARK = "... (truncated)"


def truncate_words(text: str, max_words: int) -> str:
    """The original `max_words_to_eval` rule: split on single spaces, keep the first N words,
    join them with spaces and mark the cut. N <= 0 keeps the text whole."""
    words = text.split(" ")
    if max_words > 0 and len(words) > max_words:
        return " ".join(words[:max_words]) + TRUNCATION_MARK
    return text


@dataclass(frozen=True)
class JudgeTemplates:
    """The template for each category of item."""

    regular: JudgeTemplate
    safety: JudgeTemplate

    @classmethod
    def load(cls, multi: str | None = None, safety: str | None = None) -> JudgeTemplates:
        return cls(regular=load_template(multi or "score_multi"), safety=load_template(safety or "score_safety"))

    def for_category(self, category: str) -> JudgeTemplate:
        return self.safety if category == "safety" else self.regular

    def aspects(self, category: str) -> list[str]:
        tpl = self.for_category(category)
        return tpl.aspects or list(ASPECTS_BY_CATEGORY["safety" if category == "safety" else "regular"])


@dataclass
class JudgeItem:
    generation: Generation
    template: JudgeTemplate
    aspects: list[str]
    request: Request
    output_sha256: str | None = None  # of the output judged (the record keeps it)
    repeat: int = 0                   # which of the item's `repeats` scorings this is

    def again(self, repeat: int) -> JudgeItem:
        """The same call as repeat `repeat` (its own request key and cache entry)."""
        if repeat == 0:
            return self
        request = self.request.model_copy(update={"key": repeat_key(self.request.key, repeat), "repeat": repeat})
        return JudgeItem(generation=self.generation, template=self.template, aspects=self.aspects,
                         request=request, output_sha256=self.output_sha256, repeat=repeat)


def repeat_key(key: str, repeat: int) -> str:
    """The request key of repeat `repeat` of the call keyed `key` (repeat 0 keeps the item's key)."""
    return key if repeat == 0 else f"{key}#repeat{repeat}"


def system_message(template: JudgeTemplate, judge_system: str | None) -> str | None:
    """`--judge-system` if given; else, in exact-reproduction mode, what the original sent;
    else the template's own `system` metadata (none for the built-in templates)."""
    if judge_system is not None:
        return judge_system
    if template.upstream:
        return str(upstream_settings()["system"])
    system = template.meta.get("system")
    return str(system) if system else None


def build_item(gen: Generation, templates: JudgeTemplates, *, params: GenParams, judge_system: str | None,
               max_words: int, structured: bool) -> JudgeItem:
    template = templates.for_category(gen.category)
    candidate = truncate_words(gen.output or "", max_words)
    prompt = template.render(instruction=gen.instruction, candidate=candidate)
    messages = []
    system = system_message(template, judge_system)
    if system is not None:
        messages.append(Message(role="system", content=system))
    messages.append(Message(role="user", content=prompt))
    fmt = template.response_format() if structured else None
    call_params = params.model_copy(update={"response_format": fmt})
    return JudgeItem(generation=gen, template=template, aspects=templates.aspects(gen.category),
                     request=Request(key=str(gen.id), messages=messages, params=call_params))
