"""Building the two requests (both orders) for one item, so tests and the stage send the same."""

from __future__ import annotations

import copy
from typing import Any

from justeval.engine.types import GenParams, Message, Request
from justeval.judging.templates import JudgeTemplate
from justeval.records import Generation
from justeval.review.records import Order

ORDERS: tuple[Order, Order] = ("AB", "BA")


def request_key(item_id: object, order: Order) -> str:
    return f"{item_id}|{order}"


def aspect_entries(template: JudgeTemplate, aspects: list[str]) -> list[dict[str, str]]:
    helps = template.meta.get("aspect_help") or {}
    return [{"name": a, "description": str(helps.get(a, a))} for a in aspects]


def response_format(template: JudgeTemplate, aspects: list[str]) -> dict[str, Any] | None:
    """The JSON-schema response_format for this template and these aspects, if it has a schema."""
    base = template.meta.get("json_schema")
    if not isinstance(base, dict):
        return None
    schema = copy.deepcopy(base)
    if aspects:
        entry = template.meta.get("aspect_schema") or {"type": "object"}
        schema["properties"]["aspects"] = {"type": "object", "additionalProperties": False,
                                           "required": list(aspects),
                                           "properties": {a: copy.deepcopy(entry) for a in aspects}}
        schema["required"] = ["aspects", *schema.get("required", [])]
    return {"type": "json_schema", "json_schema": {"name": "pairwise", "strict": True, "schema": schema}}


def build_requests(gen_a: Generation, gen_b: Generation, template: JudgeTemplate, aspects: list[str],
                   params: GenParams, orders: tuple[Order, ...] = ORDERS, structured: bool = False) -> list[Request]:
    system = template.meta.get("system")
    fmt = response_format(template, aspects) if structured else None
    call_params = params.model_copy(update={"response_format": fmt})
    out = []
    for order in orders:
        first, second = (gen_a, gen_b) if order == "AB" else (gen_b, gen_a)
        prompt = template.render(instruction=gen_a.instruction, first=first.output or "", second=second.output or "",
                                 aspects=aspect_entries(template, aspects))
        messages = ([Message(role="system", content=str(system))] if system else []) + [
            Message(role="user", content=prompt)]
        out.append(Request(key=request_key(gen_a.id, order), messages=messages, params=call_params))
    return out
