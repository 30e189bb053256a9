"""The settings of one judge-eval: one typed model from the command line to `DIR/settings.json`
(the key's variable name only, never a key), so a measurement records how it was made."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.config import EngineConfig
from justeval.engine.types import GenParams
from justeval.errors import UsageError
from justeval.validity.metrics import DEFAULT_RESAMPLES
from justeval.validity.prompts import DEFAULT_PARAMS
from justeval.validity.records import Mode

SETTINGS_FILE = "settings.json"


class JudgeEvalSettings(BaseModel):
    """What to measure, with which judge(s), and how the calls are sent."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    set: list[str]
    """The labelled set (`--set`): a name (`pandalm`, `llmbar-natural`, ...), a file or a folder;
    with `key`, the label file(s) of a review export."""

    key: str | None = None
    """`key.json` of a review export (`--key`): the set is then that export's labelled pairs."""

    judges: list[BackendSpec] = Field(default_factory=list)
    """The judge(s) (`--judge`, repeatable); each is measured, and together as a panel with `panel`."""

    panel: Literal["majority", "mean"] | None = None
    """How several judges' verdicts become one (`--panel`): by vote, or by the mean (of the
    verdicts in pairwise mode, of the scores in absolute mode). None: each judge alone."""

    verdicts: list[str] = Field(default_factory=list)
    """Recorded verdict files or URLs to report on instead of calling a judge (`--verdicts`)."""

    mode: Mode = "pairwise"
    """`pairwise` (both orders, 1 / 2 / tie) or `absolute` (each response scored alone)."""

    template: str | None = None
    """Judge template (`--template`): built-in name, .j2 path, upstream .txt path or URL; None:
    `pairwise` or `score_multi` by mode."""

    aspect: str | None = None
    """Absolute mode: prefer by this aspect's score (`--aspect`); None: the mean of all aspects."""

    tie_margin: float = Field(0.0, ge=0)
    """Absolute mode (and `--panel mean`): a tie when the two scores differ by at most this much."""

    limit: int | None = Field(None, ge=1)
    """Only the first N pairs (after `sample`)."""

    sample: int | None = Field(None, ge=1)
    """A random N pairs, seeded by `seed`, kept in set order."""

    seed: int = 0
    """Seed of `sample` and of the bootstrap intervals."""

    resamples: int = Field(DEFAULT_RESAMPLES, ge=0)
    """Bootstrap resamples for the 95 % intervals (0: no intervals)."""

    params: GenParams = Field(default_factory=lambda: DEFAULT_PARAMS.model_copy())
    """Decoding parameters of the judge calls (temperature 0, max_tokens 1024 by default)."""

    engine: EngineConfig = Field(default_factory=lambda: EngineConfig(parse_retries=2))
    """Concurrency, pacing, retries, cache and budget of the calls (the budget covers all judges)."""

    retry_parse_errors: bool = False
    """Ask again for calls recorded as parse_error (otherwise they stay unreadable)."""

    @model_validator(mode="after")
    def _coherent(self) -> JudgeEvalSettings:
        """Options that cannot work together are a usage error (one line, exit 2), raised as
        such: pydantic passes on what is not a ValueError."""
        if not self.set:
            raise UsageError("give the labelled set with --set")
        if self.key is None and len(self.set) > 1:
            raise UsageError("one --set at a time (several only as label files with --key)")
        if self.verdicts and self.judges:
            raise UsageError("--verdicts reports on recorded verdicts: give it without --judge")
        if not self.verdicts and not self.judges:
            raise UsageError("give a judge with --judge (or recorded verdicts with --verdicts)")
        if self.aspect is not None and self.mode != "absolute":
            raise UsageError("--aspect applies to --mode absolute")
        if self.panel is not None and len(self.judges) < 2:
            raise UsageError("--panel needs two or more --judge")
        return self
