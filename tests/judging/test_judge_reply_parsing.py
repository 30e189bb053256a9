"""Judge replies in many shapes: each is either read to the right numbers or refused
(ParseFailure), never read to a wrong number."""

from __future__ import annotations

import json

import pytest

from justeval.judging.parse import ParseFailure, extract_json, parse_score, parse_scores

MULTI = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
TWO = ["helpfulness", "clarity"]


def _reply(scores: dict[str, object], reason_key: str = "reason") -> str:
    return json.dumps({a: {reason_key: f"why {a}", "score": s} for a, s in scores.items()}, indent=4)


GOOD = {"helpfulness": 4.0, "clarity": 5.0, "factuality": 3.0, "depth": 2.0, "engagement": 1.0}
CLEAN = _reply({a: str(int(v)) for a, v in GOOD.items()})

# (reply text, expected scores for TWO) -- the expected numbers are what a careful human reads.
READABLE = [
    ('{"helpfulness": {"reason": "a", "score": "4"}, "clarity": {"reason": "b", "score": 5}}',
     {"helpfulness": 4, "clarity": 5}),
    ('```json\n{"helpfulness": {"reason": "a", "score": 3}, "clarity": {"reason": "b", "score": 2}}\n```',
     {"helpfulness": 3, "clarity": 2}),
    ('Sure! Here is my evaluation:\n\n{"helpfulness": {"score": "2"}, "clarity": {"score": "1"}}\n\nLet me know.',
     {"helpfulness": 2, "clarity": 1}),
    ('{"helpfulness": {"reason": "a", "score": "4",}, "clarity": {"reason": "b", "score": "3",},}',
     {"helpfulness": 4, "clarity": 3}),
    ("{'helpfulness': {'reason': \"the user's ask\", 'score': '5'}, 'clarity': {'reason': 'ok', 'score': 4}}",
     {"helpfulness": 5, "clarity": 4}),
    ('{"Helpfulness": {"Reason": "a", "Score": "4/5"}, "CLARITY": {"reason": "b", "score": "4.5"}}',
     {"helpfulness": 4, "clarity": 4.5}),
    ('{"helpfulness": {"reason": "He wrote "hello" twice", "score": "3"}, "clarity": {"reason": "b", "score": "3"}}',
     {"helpfulness": 3, "clarity": 3}),
    ('{"helpfulness": {"reason": "\\(x^2\\) C:\\path", "score": "2"}, "clarity": {"reason": "b", "score": "5"}}',
     {"helpfulness": 2, "clarity": 5}),
    ('{"helpfulness": {"reason": "line one\nline two", "score": "4"}, "clarity": {"reason": "b", "score": "4"}}',
     {"helpfulness": 4, "clarity": 4}),
    ('{helpfulness: {rationale: "a", score: 1}, clarity: {rationale: "b", score: 2}}',
     {"helpfulness": 1, "clarity": 2}),
    ('{"helpfulness": 5, "clarity": "3 out of 5"}', {"helpfulness": 5, "clarity": 3}),
    ('{"evaluation": {"helpfulness": {"score": 2}, "clarity": {"score": 4}}}', {"helpfulness": 2, "clarity": 4}),
    ('{"helpfulness": {"rating": "Score: 3"}, "clarity": {"explanation": "b", "score": "**4**"}}',
     {"helpfulness": 3, "clarity": 4}),
    # an echoed placeholder first, then the one real answer
    ('Template: {"helpfulness": {"score": "[score from 1 to 5]"}, "clarity": {"score": "[score]"}}\n'
     'Answer: {"helpfulness": {"score": "4"}, "clarity": {"score": "2"}}', {"helpfulness": 4, "clarity": 2}),
    # the same answer repeated is not ambiguous, nor a key repeated with the same value
    ('{"helpfulness": 4, "helpfulness": 4, "clarity": 2}', {"helpfulness": 4, "clarity": 2}),
    ('{"helpfulness": 4, "clarity": 2}\nAgain: {"helpfulness": 4, "clarity": 2}', {"helpfulness": 4, "clarity": 2}),
]

UNREADABLE = [
    "",
    "I would rate this response highly for helpfulness and clarity.",
    '{"helpfulness": {"reason": "a", "score": 7}, "clarity": {"reason": "b", "score": 5}}',
    '{"helpfulness": {"reason": "a", "score": 0}, "clarity": {"reason": "b", "score": 5}}',
    '{"helpfulness": {"reason": "a", "score": -1}, "clarity": {"reason": "b", "score": 5}}',
    '{"helpfulness": {"reason": "a", "score": "5.5"}, "clarity": {"reason": "b", "score": 5}}',
    '{"helpfulness": {"reason": "a", "score": "8/10"}, "clarity": {"reason": "b", "score": 5}}',
    '{"helpfulness": {"reason": "a", "score": "4"}}',
    '{"helpfulness": {"reason": "a"}, "clarity": {"reason": "b", "score": "4"}}',
    '{"helpfulness": {"reason": "a", "score": "high"}, "clarity": {"reason": "b", "score": "4"}}',
    '{"helpfulness": {"reason": "a", "score": true}, "clarity": {"reason": "b", "score": "4"}}',
    '{"helpfulness": {"reason": "a", "score": [4]}, "clarity": {"reason": "b", "score": "4"}}',
    '{"helpfulness": {"reason": "a", "score": "4"}, "clarity": {"reason": "b", "score": "4"',  # truncated
    '{"helpfulness": 4, "clarity": 2}\n{"helpfulness": 5, "clarity": 2}',  # two different answers
    '{"helpfulness": 4, "Helpfulness": 5, "clarity": 2}',  # one aspect, two values
    '{"helpfulness": 4, "helpfulness": 1, "clarity": 2}',  # the very same key twice, two values
    '{"helpfulness": {"score": 4, "score": 1}, "clarity": {"score": 2}}',  # two scores for one aspect
    "{'helpfulness': {'score': 4, 'score': 2}, 'clarity': {'score': 2}}",  # the same, in repaired JSON
    '{"helpfulness": {"score": "[score from 1 to 5]"}, "clarity": {"score": "[score from 1 to 5]"}}',
]


@pytest.mark.parametrize(("text", "expected"), READABLE)
def test_readable_reply_gives_the_scores_it_states(text: str, expected: dict[str, float]) -> None:
    parsed = parse_scores(text, TWO)
    assert parsed.scores == {k: float(v) for k, v in expected.items()}


@pytest.mark.parametrize("text", UNREADABLE)
def test_unreadable_or_out_of_scale_reply_is_refused_not_guessed(text: str) -> None:
    with pytest.raises(ParseFailure):
        parse_scores(text, TWO)


def test_clean_five_aspect_reply_keeps_order_scores_and_rationales() -> None:
    parsed = parse_scores(CLEAN, MULTI)
    assert list(parsed.scores) == MULTI
    assert parsed.scores == GOOD
    assert parsed.rationales == {a: f"why {a}" for a in MULTI}


def test_na_score_is_missing_with_its_reason_kept() -> None:
    text = _reply({"helpfulness": "4", "clarity": "N/A", "factuality": "n/a", "depth": None,
                   "engagement": "Not applicable"})
    parsed = parse_scores(text, MULTI)
    assert parsed.scores == {"helpfulness": 4.0, "clarity": None, "factuality": None, "depth": None,
                             "engagement": None}
    assert parsed.rationales["clarity"] == "why clarity"


def test_rationale_key_of_our_templates_is_read() -> None:
    parsed = parse_scores(_reply({"helpfulness": 3, "clarity": 2}, reason_key="rationale"), TWO)
    assert parsed.rationales == {"helpfulness": "why helpfulness", "clarity": "why clarity"}


@pytest.mark.parametrize(("value", "expected"), [
    (4, 4.0), ("4", 4.0), (" 4 ", 4.0), ("4/5", 4.0), ("4.5", 4.5), (1, 1.0), (5.0, 5.0), ("N/A", None), (None, None),
])
def test_single_score_forms(value: object, expected: float | None) -> None:
    assert parse_score(value) == expected


@pytest.mark.parametrize("value", [0, 6, "7", "-1", "4/10", "four", "", True, float("nan"), {"x": 1}])
def test_single_score_refusals(value: object) -> None:
    with pytest.raises(ParseFailure):
        parse_score(value)


def test_extract_json_takes_the_object_out_of_prose_and_fences() -> None:
    assert extract_json('Result:\n```\n{"a": {"b": [1, 2,]},}\n```\nDone') == {"a": {"b": [1, 2]}}


def test_extract_json_refuses_text_without_an_object() -> None:
    with pytest.raises(ParseFailure):
        extract_json("no json here [1, 2]")


def test_valid_json_strings_are_read_unchanged() -> None:
    # Every escape JSON allows must come back exactly as json.loads reads it.
    reason = 'quote " backslash \\ tab \t unicode é ✓ braces {} [x], colon: y'
    text = json.dumps({"helpfulness": {"reason": reason, "score": 2}, "clarity": {"reason": "", "score": 3}})
    assert parse_scores("Verdict " + text, TWO).rationales["helpfulness"] == reason
