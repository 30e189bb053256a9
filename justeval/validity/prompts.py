"""The requests judge-eval sends and how their replies are read, kept apart from the stage so
dry-run, tests and the run build the very same requests.

Pairwise: the pairwise template (ours, `judges/pairwise.j2`, or a user's / an upstream one)
rendered with the pair in the set's order ("original": response 1 shown first) and swapped.
Our templates take `instruction`, `first`, `second`; an upstream just-eval pairwise prompt
(`string.Template`) takes `${instruction}`, `${candidateA}`, `${candidateB}`: both are given.
The reply is read by `review.verdicts.parse_reply` (1 / 2 / tie in any usual spelling, A / B /
same for upstream prompts) and mapped back to the set's numbering.

Absolute: each response scored alone with the multi-aspect template (ours `score_multi`, or the
upstream just-eval `score_multi.txt`), read by `judging.parse.parse_scores`.
"""

from __future__ import annotations

from typing import Any

from justeval.engine.types import GenParams, Message, Request
from justeval.judging.parse import ParsedScores, parse_scores
from justeval.judging.prompts import system_message
from justeval.judging.templates import JudgeTemplate
from justeval.records import ASPECTS_BY_CATEGORY
from justeval.review.pairwise_prompt import response_format as pairwise_response_format
from justeval.review.verdicts import Position, PositionVerdict, parse_reply
from justeval.validity.records import Call, Label, LabelledPair, Mode

DEFAULT_PARAMS = GenParams(temperature=0.0, max_tokens=1024)


def request_key(pair: LabelledPair, call: Call) -> str:
    return f"{pair.id}|{call}"


def split_key(key: str) -> tuple[str, Call]:
    pair_id, _, call = key.rpartition("|")
    return pair_id, call  # type: ignore[return-value]


def _messages(template: JudgeTemplate, prompt: str) -> list[Message]:
    system = system_message(template, None)
    return ([Message(role="system", content=system)] if system else []) + [Message(role="user", content=prompt)]


def response_format(template: JudgeTemplate, mode: Mode, structured: bool) -> dict[str, Any] | None:
    """The JSON-schema response_format sent with every call of a run (None for upstream
    templates, or a backend without structured output); built once per run."""
    if not structured or template.upstream:
        return None
    return pairwise_response_format(template, []) if mode == "pairwise" else template.response_format()


def pairwise_request(pair: LabelledPair, template: JudgeTemplate, call: Call, params: GenParams) -> Request:
    """`params` carries the run's response_format."""
    first, second = (pair.response_1, pair.response_2) if call == "original" else (pair.response_2, pair.response_1)
    variables: dict[str, Any] = {"instruction": pair.prompt, "first": first, "second": second, "aspects": []}
    if template.upstream:
        variables.update(candidateA=first, candidateB=second)
    return Request(key=request_key(pair, call), messages=_messages(template, template.render(**variables)),
                   params=params)


def absolute_request(pair: LabelledPair, template: JudgeTemplate, call: Call, params: GenParams) -> Request:
    response = pair.response_1 if call == "response_1" else pair.response_2
    prompt = template.render(instruction=pair.prompt, candidate=response)
    return Request(key=request_key(pair, call), messages=_messages(template, prompt), params=params)


def absolute_aspects(template: JudgeTemplate) -> list[str]:
    """The aspects the template scores (its metadata, or the ones found in an upstream prompt)."""
    return template.aspects or list(ASPECTS_BY_CATEGORY["regular"])


def read_pairwise(text: str) -> PositionVerdict:
    return parse_reply(text, [])


def read_absolute(text: str, aspects: list[str]) -> ParsedScores:
    return parse_scores(text, aspects)


def to_label(position: Position, call: Call) -> Label:
    """A position the judge named, in the set's numbering: in the swapped order the answer
    shown first is response 2."""
    if position == "tie":
        return "tie"
    first_is_1 = call == "original"
    return "1" if (position == "first") == first_is_1 else "2"
