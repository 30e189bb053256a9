"""How an instruction becomes a request: plain chat messages (with an optional system
message), or for base models a URIAL / K-shot completion prompt. Kept apart from the stage so
dry runs, sweeps and tests build the very requests that are sent."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from justeval.engine.types import GenParams, Message, Request
from justeval.generation import urial as urial_mod
from justeval.generation.icl import ExampleSelector
from justeval.records import Instruction


@dataclass
class PromptBuilder:
    """Turns an instruction into a Request: chat messages, or a URIAL/ICL completion prompt."""

    params: GenParams
    system: str | None = None
    urial: urial_mod.UrialPrompt | None = None
    selector: ExampleSelector | None = None

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
