"""Typed records of the review package: pairwise judgments, the blinded-review key, and
human labels. Field names are public (documented in the README and the issue)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.records import Category, ItemId, TemplateRef, Usage, normalize_id

Preference = Literal["A", "B", "tie"]
Combined = Literal["A", "B", "tie", "inconsistent"]
Order = Literal["AB", "BA"]
Side = Literal["left", "right", "tie"]


class OrderVerdict(BaseModel):
    """The judge's answer for one presentation order. `AB`: run A's output shown first.
    `preference` and `aspects` are in model terms (A = run A's model), already mapped back
    from positions; `raw` keeps the reply as sent."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["ok", "parse_error", "error"]
    preference: Preference | None = None
    aspects: dict[str, Preference] = Field(default_factory=dict)
    rationale: str = ""
    raw: str | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_s: float | None = None
    cost_usd: float | None = None
    attempts: int = 1
    cached: bool = False
    endpoint: str | None = None  # the server that answered, when several serve the judge
    batch_id: str | None = None  # the provider batch that carried the call, in batch mode


class PairwiseJudgment(BaseModel):
    """One item judged in both orders (a line of a pairwise JSONL file).

    A line is written whenever one order finishes, so a line may hold one order only
    (`status` "pending"); readers take the last line per (id, judge, generators, template
    hash, aspects). `result` is set once both orders are `ok`: the shared verdict when both
    agree, else "inconsistent" (position bias)."""

    model_config = ConfigDict(extra="ignore")

    id: ItemId
    judge: str
    generator_a: str
    generator_b: str
    category: Category = "regular"
    template: TemplateRef
    aspects: list[str] = Field(default_factory=list)
    status: Literal["ok", "pending", "parse_error", "error"]
    orders: dict[Order, OrderVerdict] = Field(default_factory=dict)
    result: Combined | None = None
    aspect_results: dict[str, Combined] = Field(default_factory=dict)

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)

    def resume_key(self) -> tuple[Any, ...]:
        return (self.id, self.judge, self.generator_a, self.generator_b, self.template.hash, tuple(self.aspects))


class KeyPair(BaseModel):
    """What a blinded pair hides: which model was shown on which side. `shown_digest`: a
    digest of the instruction and the two outputs as shown (see `review.identity`)."""

    model_config = ConfigDict(extra="ignore")

    pair_id: str
    id: ItemId
    category: Category = "regular"
    dataset: str = "custom"
    stratum: str | None = None
    model_a: str
    model_b: str
    left: str
    right: str
    shown_digest: str | None = None

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)


class ReviewKey(BaseModel):
    """The key file of an export (`key.json`): never give it to annotators. `export_id`
    identifies the export (None in keys written before it existed)."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["justeval-review-key"] = "justeval-review-key"
    version: int = 1
    export_id: str | None = None
    seed: int
    n: int
    stratify: str | None = None
    label_format: str = "csv"
    aspects: list[str] = Field(default_factory=list)
    runs: dict[str, str] = Field(default_factory=dict)
    pairs: list[KeyPair] = Field(default_factory=list)


class HumanLabel(BaseModel):
    """One annotator's choice on one pair, as shown (left / right / tie). `export_id` and
    `shown_digest` come from the row where it carries them (checked against the key)."""

    pair_id: str
    annotator: str
    label: Side
    aspects: dict[str, Side] = Field(default_factory=dict)
    source: str = ""
    export_id: str | None = None
    shown_digest: str | None = None
