"""How an instruction becomes a request: plain chat messages (with an optional system
message), or for base models a URIAL / K-shot completion prompt. Kept apart from the stage so
dry runs, sweeps and tests build the very requests that are sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from justeval.engine.types import GenParams, Message, Request
from justeval.errors import UsageError
from justeval.generation import urial as urial_mod
from justeval.generation.icl import ExampleSelector, load_pool, pool_hash
from justeval.records import Instruction


class PromptSettings(BaseModel):
    """How an instruction becomes a prompt (the `prompt` part of GenerateSettings)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    system: str | None = None
    """System message (chat), or the preamble of `icl_examples` prompts (`--system`)."""

    urial: str | None = None
    """URIAL prompting for base models: a built-in name (`default`, our own prompt), a file or a URL (`--urial`)."""

    icl_examples: str | None = None
    """A JSONL/JSON pool of {instruction, output} in-context examples (`--icl-examples`)."""

    shots: int = Field(3, ge=0)
    """Examples per query drawn from the pool (`--shots`)."""

    select: Literal["fixed", "random", "similar"] = "fixed"
    """How examples are chosen: the first K, K at random per item, or the K most similar by BM25 (`--select`)."""

    seed: int = 0
    """Seed of `select: random` (`--seed`)."""

    def uses_pool(self) -> bool:
        return self.icl_examples is not None


@dataclass
class PromptBuilder:
    """Turns an instruction into a Request: chat messages, or a URIAL/ICL completion prompt.

    `identity` is what decides the prompts (compared when a run resumes: a run directory holds
    one way of prompting); `sources` is where the prompt parts came from (for run.json)."""

    params: GenParams
    system: str | None = None
    urial: urial_mod.UrialPrompt | None = None
    selector: ExampleSelector | None = None
    identity: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, prompt: PromptSettings, params: GenParams) -> PromptBuilder:
        """Load what `prompt` names (URIAL prompt, example pool) and build the builder."""
        from justeval.paths import local_path

        if prompt.icl_examples is None and (prompt.shots != 3 or prompt.select != "fixed"):
            raise UsageError("--shots and --select need --icl-examples FILE")
        if prompt.urial is not None and prompt.system:
            raise UsageError("--system and --urial cannot be combined: the URIAL prompt is the preamble")
        builder = cls(params=params, system=prompt.system, identity={"system": prompt.system})
        if prompt.urial is not None:
            builder.urial = urial_mod.load_urial(prompt.urial)
            builder.identity["urial_sha256"] = builder.urial.sha256
            builder.sources["urial"] = {"name": builder.urial.name, "source": builder.urial.source}
        if prompt.icl_examples is not None:
            pool = load_pool(prompt.icl_examples)
            builder.selector = ExampleSelector(pool, prompt.shots, prompt.select, prompt.seed)
            builder.identity["icl"] = {"pool_sha256": pool_hash(pool), "shots": prompt.shots,
                                       "select": prompt.select,
                                       "seed": prompt.seed if prompt.select == "random" else None}
            builder.sources["icl_examples"] = {"file": local_path(prompt.icl_examples), "pool_size": len(pool)}
        return builder

    @property
    def completion_prompt(self) -> bool:
        return self.urial is not None or self.selector is not None

    def request_params(self) -> GenParams:
        if not self.completion_prompt:
            return self.params
        stops = list(self.params.stop or [])
        stops += [s for s in urial_mod.STOP_SEQUENCES if s not in stops]
        return self.params.model_copy(update={"stop": stops})

    def build(self, inst: Instruction, params: GenParams) -> tuple[Request, dict[str, Any]]:
        """The request for `inst` and what to record about its prompt in the record's params."""
        key = str(inst.id)
        if not self.completion_prompt:
            messages = [Message(role="system", content=self.system)] if self.system else []
            messages.append(Message(role="user", content=inst.instruction))
            return Request(key=key, messages=messages, params=params), {}
        extra: dict[str, Any] = {}
        preamble = self.urial.text if self.urial is not None else (self.system or "")
        if self.urial is not None:
            extra["urial"] = self.urial.name
        examples: list[tuple[str, str]] = []
        if self.selector is not None:
            picked = self.selector.indices(inst.instruction, key)
            examples = [(self.selector.pool[i].instruction, self.selector.pool[i].output) for i in picked]
            extra["icl"] = {"select": self.selector.mode, "examples": picked}
        prompt = urial_mod.format_query(preamble, inst.instruction, examples)
        return Request(key=key, prompt=prompt, params=params), extra
