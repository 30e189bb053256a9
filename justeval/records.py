"""The record types of the four stages: Instruction -> Generation -> Judgment -> leaderboard row.

Every record written to disk is one of these pydantic models; the field names are public
interface (documented in the README) and stay loadable by the original just-eval readers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.ids import ItemId, id_order, normalize_id  # noqa: F401  (re-exported: readers import them from here)

FORMAT_VERSION = 1

Category = Literal["regular", "safety"]
#: the two kinds of item: regular instructions and safety (red-team) prompts
CATEGORIES: tuple[Category, ...] = ("regular", "safety")
#: the aspects each category is scored on by the built-in (and the original just-eval) templates
ASPECTS_BY_CATEGORY: dict[Category, tuple[str, ...]] = {
    "regular": ("helpfulness", "clarity", "factuality", "depth", "engagement"),
    "safety": ("safety",),
}
#: every built-in aspect, in the order tables show them
ASPECTS: tuple[str, ...] = (*ASPECTS_BY_CATEGORY["regular"], *ASPECTS_BY_CATEGORY["safety"])


class Instruction(BaseModel):
    """One evaluation item."""

    model_config = ConfigDict(extra="ignore")

    id: ItemId
    instruction: str
    dataset: str = "custom"
    source_id: str | None = None
    category: Category = "regular"
    task_types: list[str] = Field(default_factory=list)
    topics: list[str] = Field(default_factory=list)
    difficulty: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)


class Usage(BaseModel):
    model_config = ConfigDict(extra="allow")

    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: of `prompt_tokens`, those the provider served from its prompt cache (priced lower);
    #: 0 in records written before it was recorded
    cached_tokens: int = 0


class Generation(BaseModel):
    """One model output for one instruction (a line of `generations.jsonl`)."""

    model_config = ConfigDict(extra="ignore")

    id: ItemId
    instruction: str
    output: str | None
    generator: str
    dataset: str = "custom"
    category: Category = "regular"
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    latency_s: float | None = None
    finish_reason: str | None = None
    cost_usd: float | None = None
    cached: bool = False
    endpoint: str | None = None  # the server that answered, when several serve the model (a fleet)
    batch_id: str | None = None  # the provider batch that carried the call, in batch mode

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)


def judging_identity(judge: str, template_hashes: Iterable[str]) -> str:
    """The identity of a judging: its judge spec and the hashes of its template set (the
    regular and the safety template), order-free. Two judgings with one identity ask the
    same judge the same prompts; records of different identities never share a file."""
    material = "\n".join([judge, *sorted(set(template_hashes))])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:12]


def output_digest(text: str) -> str:
    """sha256 (hex) of an output, as `Judgment.output_sha256` records it."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class TemplateRef(BaseModel):
    name: str
    hash: str


SCORE_SCALE = (1.0, 5.0)  # every judge template scores on 1-5


def _as_json(value: Any) -> str:
    """A value as the file spelled it (`true`, `"4"`), for error messages."""
    try:
        return json.dumps(value, ensure_ascii=False)[:80]
    except (TypeError, ValueError):
        return repr(value)[:80]


class Judgment(BaseModel):
    """One judge's verdict on one generation (a line of `judgments.jsonl`).

    `scores` maps aspect -> number or None; None means the judge gave no score (N/A) or the
    reply could not be parsed (then `status` says `parse_error` and `raw` keeps the reply).
    """

    model_config = ConfigDict(extra="ignore")

    id: ItemId
    judge: str
    generator: str
    category: Category = "regular"
    template: TemplateRef
    status: Literal["ok", "parse_error", "error"]
    scores: dict[str, float | None] = Field(default_factory=dict)
    rationales: dict[str, str] = Field(default_factory=dict)
    raw: str | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_s: float | None = None
    cost_usd: float | None = None
    attempts: int = 1
    endpoint: str | None = None  # the server that answered, when several serve the judge (a fleet)
    batch_id: str | None = None  # the provider batch that carried the call, in batch mode
    #: sha256 (hex) of the output judged; None in records written before it was recorded. A
    #: judgment whose output has since been replaced (`import --overwrite`) is left out.
    output_sha256: str | None = None
    #: which of `--repeats K` scorings of the item this is (0..K-1); 0 in older records
    repeat: int = Field(0, ge=0)
    #: the judging this record belongs to: `judging_identity(judge, template hashes)`; None in
    #: records written before it was recorded (then the judge and template hash say it)
    identity: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)

    @field_validator("scores", mode="before")
    @classmethod
    def _numbers(cls, scores: Any) -> Any:
        """A score is a JSON number or null: `true` is not 1 and `"4"` is not 4 (justeval never
        writes either, so such a file was edited or made by something else)."""
        if isinstance(scores, dict):
            for aspect, score in scores.items():
                if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
                    raise ValueError(f"score {_as_json(score)} for {aspect!r} is not a number")
        return scores

    @field_validator("scores")
    @classmethod
    def _on_scale(cls, scores: dict[str, float | None]) -> dict[str, float | None]:
        """A score off the 1-5 scale was not written by justeval: refuse it rather than rank on it."""
        low, high = SCORE_SCALE
        for aspect, score in scores.items():
            if score is not None and not low <= score <= high:  # NaN fails this too
                raise ValueError(f"score {score} for {aspect!r} is outside the {low:g}-{high:g} scale")
        return scores
