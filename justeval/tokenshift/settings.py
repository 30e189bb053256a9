"""The settings of a token-shift analysis: one typed model from the command line to the records.

Which base model (and optionally which aligned model) scores the outputs, how the instruction
is wrapped before the output, how many alternatives are kept, which items are analysed, and how
calls to a server are sent. The fields that decide the numbers (see `analysis_identity`) are
stamped on every record, so a resumed analysis never mixes settings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from justeval.engine.backend_spec import BackendSpec
from justeval.engine.config import EngineConfig
from justeval.instructions.select import Selection

SCORER_KINDS = ("hf", "openai")


class TokenShiftSettings(BaseModel):
    """One token-shift analysis of one or more runs."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    base: BackendSpec
    """The base (untuned) model whose next-token distribution ranks each output token (`--base`):
    `hf:PATH_OR_REPO` (local transformers) or `openai:MODEL` on an OpenAI-compatible completions
    server that returns prompt logprobs (`--base-url`; vLLM does)."""

    aligned: BackendSpec | None = None
    """The aligned model (`--aligned`); when given, the token measured at each position is this
    model's own top-1 there (as AlignTDS does) rather than the output's token. Same kind of
    backend as `base`, same tokenizer."""

    template: str = "urial"
    """How the base model sees the instruction before the output (`--template`): `urial` (the
    `# Query:` / `# Answer:` layout, no examples), `plain` (the bare instruction), or a FILE
    holding `{instruction}` where the instruction goes."""

    aligned_template: str = "chat"
    """How the aligned model sees the instruction (`--aligned-template`): `chat` (its tokenizer's
    chat template, the way it answered), `urial`, `plain` or a FILE."""

    top_k: int = Field(10, ge=3, le=100)
    """Alternatives asked for at each position (`--top-k`); a token outside them is shifted. At
    least 3, or marginal (rank 2-3) could not be told from shifted."""

    tokenizer: str | None = None
    """The tokenizer (HF name or path) that splits prompt and output into the tokens that are
    scored (`--tokenizer`); default: the base model's own. With a server, the tokens are sent as
    ids, so this must be the served model's tokenizer."""

    aligned_tokenizer: str | None = None
    """The aligned model's tokenizer (`--aligned-tokenizer`), for its chat template and to check that
    it shares the base's vocabulary; default: the aligned model's own (hf), or its model name (server)."""

    prompt_logprobs: bool = False
    """Server only: also ask for vLLM's `prompt_logprobs` (`--prompt-logprobs`), which gives each
    token's exact rank and token ids; without it the ranks come from `echo` + `logprobs` (top-k
    by token text, as AlignTDS compares)."""

    device: str | None = None
    """hf only: torch device (`--device`); default cuda when available, else cpu."""

    dtype: str | None = None
    """hf only: torch dtype of the weights (`--dtype`, e.g. bfloat16); default the library's
    (float32). Lower precision makes near-ties in the logits more likely."""

    batch_tokens: int = Field(8192, ge=1)
    """hf only: padded tokens per forward pass at most (`--batch-tokens`); one output per pass
    when a single one is longer."""

    instructions: str | None = None
    """Where the instructions' tags (task types, topics) are read (`--instructions`); default the
    source recorded in the run's run.json. Without one, the records' own category and dataset."""

    selection: Selection = Field(default_factory=Selection)
    """Which of the run's ok outputs (`--subset`, `--ids`, `--limit`, `--sample`, ...); default: all."""

    out: Path | None = None
    """Where `token_shift.jsonl` goes (`--out`); default each run's own directory. With several
    runs, each gets `OUT/<run directory name>/token_shift.jsonl`."""

    engine: EngineConfig = Field(default_factory=lambda: EngineConfig(description="token-shift"))
    """How calls to a server are sent (cache, retries, limits, progress); the hf path uses only `progress`."""

    @field_validator("base")
    @classmethod
    def _base_kind(cls, value: BackendSpec) -> BackendSpec:
        scorer_kind(value)  # a backend that cannot score a given text is refused here
        return value

    @field_validator("aligned")
    @classmethod
    def _aligned_kind(cls, value: BackendSpec | None, info: ValidationInfo) -> BackendSpec | None:
        base = info.data.get("base")
        if value is not None and base is not None and scorer_kind(value) != scorer_kind(base):
            raise ValueError(f"--aligned {value.spec} and --base {base.spec} must both be hf: or both "
                             "OpenAI-compatible servers (their positions are compared by token id or by text)")
        return value

    @property
    def kind(self) -> Literal["hf", "openai"]:
        return scorer_kind(self.base)


def scorer_kind(spec: BackendSpec) -> Literal["hf", "openai"]:
    """`hf` (local forward pass) or `openai` (a completions server with prompt logprobs)."""
    if spec.kind == "hf":
        return "hf"
    if spec.kind == "openai":
        return "openai"
    raise ValueError(f"{spec.spec}: token-shift needs hf:PATH (local transformers) or openai:MODEL on a completions "
                     f"server that returns prompt logprobs (vLLM), not a {spec.kind}: backend")
