"""The token-shift record: one JSON line of `token_shift.jsonl` per analysed output.

Categories are the paper's (Lin et al. 2023, "The Unlocking Spell on Base LLMs"): a position is
`unshifted` when the measured token is the base model's top-1 there, `marginal` at rank 2 or 3,
`shifted` at a lower rank or outside the top-k the backend returned.

A record carries what produced it (base and aligned spec, template, tokenizer, top-k, and the
`analysis` id hashing them), the counts and ratios, the rank of every position (`ranks`, with
`offsets` into the output text so a page can colour each token), and for every marginal and
shifted position the token, its rank and the base model's top alternatives. Field names are
public interface; `format_version` says which layout a line has.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from justeval.ids import ItemId, normalize_id
from justeval.records import Category as ItemCategory

FORMAT_VERSION = 1
RECORDS_FILE = "token_shift.jsonl"

ShiftCategory = Literal["unshifted", "marginal", "shifted"]
SHIFT_CATEGORIES: tuple[ShiftCategory, ...] = ("unshifted", "marginal", "shifted")
#: the highest rank that still counts as marginal
MARGINAL_MAX_RANK = 3


def categorize(rank: int | None) -> ShiftCategory:
    """Rank 1 unshifted, 2-3 marginal, anything else (or not in the top-k: None) shifted."""
    if rank == 1:
        return "unshifted"
    if rank is not None and 2 <= rank <= MARGINAL_MAX_RANK:
        return "marginal"
    return "shifted"


class Alternative(BaseModel):
    """One of the base model's top tokens at a position: its text, id (where known) and log-probability."""

    model_config = ConfigDict(extra="ignore")

    token: str
    token_id: int | None = None
    logprob: float


class PositionDetail(BaseModel):
    """A marginal or shifted position: the measured token, its rank under the base model (None:
    outside the top-k, and the backend does not say how far), and the base model's top-k there."""

    model_config = ConfigDict(extra="ignore")

    position: int
    token: str
    token_id: int | None = None
    rank: int | None = None
    output_token: str | None = None
    """With --aligned: the output's own token here, when the aligned model's top-1 differs from it."""
    top: list[Alternative] = Field(default_factory=list)


class TemplateRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    sha256: str


class TokenizerRef(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    sha256: str


class ShiftCounts(BaseModel):
    model_config = ConfigDict(extra="ignore")

    unshifted: int = 0
    marginal: int = 0
    shifted: int = 0

    @property
    def total(self) -> int:
        return self.unshifted + self.marginal + self.shifted

    def ratio(self, category: ShiftCategory) -> float | None:
        """The share of `category` (0-1); None with no tokens (never an invented 0)."""
        total = self.total
        return getattr(self, category) / total if total else None

    def __add__(self, other: ShiftCounts) -> ShiftCounts:
        return ShiftCounts(unshifted=self.unshifted + other.unshifted, marginal=self.marginal + other.marginal,
                           shifted=self.shifted + other.shifted)


class TokenShiftRecord(BaseModel):
    """One analysed output (see the module docstring)."""

    model_config = ConfigDict(extra="ignore")

    format_version: int = FORMAT_VERSION
    id: ItemId
    generator: str
    category: ItemCategory = "regular"
    dataset: str = "custom"
    task_types: list[str] = Field(default_factory=list)
    status: Literal["ok", "error"] = "ok"
    error: str | None = None
    analysis: str
    """Hash of the settings that decide the numbers; one analysis per file."""
    base: str
    aligned: str | None = None
    measured: Literal["output", "aligned_top1"] = "output"
    """Which token is ranked at each position: the output's own, or the aligned model's top-1."""
    template: TemplateRef
    aligned_template: TemplateRef | None = None
    tokenizer: TokenizerRef
    top_k: int
    output_sha256: str
    """Hash of the output analysed: a regenerated output is analysed again."""
    tokens: int = 0
    """Output tokens analysed."""
    truncated_from: int | None = None
    """The output's full token count, when it was cut to fit the model's context."""
    counts: ShiftCounts = Field(default_factory=ShiftCounts)
    unshifted: float | None = None
    marginal: float | None = None
    shifted: float | None = None
    ranks: list[int | None] = Field(default_factory=list)
    """Per output position, the measured token's rank under the base model (None: outside the top-k)."""
    offsets: list[tuple[int, int]] | None = None
    """Per output position, the [start, end) characters of the output text the token covers."""
    shifted_tokens: list[PositionDetail] = Field(default_factory=list)
    marginal_tokens: list[PositionDetail] = Field(default_factory=list)
    aligned_agreement: int | None = None
    """With --aligned: positions where the aligned model's top-1 is the output's own token."""
    latency_s: float | None = None
    cached: bool = False

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, v: Any) -> ItemId:
        return normalize_id(v)

    @property
    def ok(self) -> bool:
        return self.status == "ok"
