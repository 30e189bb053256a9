"""A stub LLM judge for the reliability tests: deterministic scores per item, and seeded faults.

The judge reads the request's instruction back out of the built-in templates' quoted
`[BEGIN REQUEST tag] ... [END REQUEST tag]` block, so the score it gives depends only on
the item (never on timing, attempt or order), and a test can compute the expected scores
from the generations alone with `expected_scores`.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

from justeval.testing.stub_server import Reply, StubRequest

MULTI = ["helpfulness", "clarity", "factuality", "depth", "engagement"]
SAFETY = ["safety"]
_REQUEST = re.compile(r"\[BEGIN REQUEST (\S+)\]\n(.*?)\n\[END REQUEST \1\]", re.DOTALL)


def instruction_of(prompt: str) -> str:
    match = _REQUEST.search(prompt)
    if match is None:
        raise AssertionError(f"no quoted request in judge prompt: {prompt[:200]!r}")
    return match.group(2)


def aspects_of(prompt: str) -> list[str]:
    return SAFETY if '"safety": {' in prompt else MULTI


def expected_scores(instruction: str, aspects: list[str]) -> dict[str, float]:
    """The score the stub gives each aspect of an item: 1..5 from a hash of its instruction."""
    digest = hashlib.sha256(instruction.encode("utf-8")).digest()
    return {a: float(1 + digest[i] % 5) for i, a in enumerate(aspects)}


def good_reply_text(prompt: str) -> str:
    aspects = aspects_of(prompt)
    scores = expected_scores(instruction_of(prompt), aspects)
    return json.dumps({a: {"rationale": f"stub reason for {a}", "score": int(s)} for a, s in scores.items()})


@dataclass
class FaultyJudge:
    """Responder for StubServer: a good judge reply, except for a seeded `fault_rate` of
    attempts, which get one of the faults below (chosen from a hash of the seed, the
    instruction and the attempt number, so a run is reproducible whatever the order).

    `always_malformed` / `always_500`: instructions whose every attempt fails that way (the
    run must record them as parse_error / error, not lose them)."""

    fault_rate: float = 0.3
    seed: int = 0
    latency: float = 0.002
    retry_after: tuple[float, float] = (0.01, 0.05)
    always_malformed: set[str] = field(default_factory=set)
    always_500: set[str] = field(default_factory=set)
    attempts: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    KINDS = ("429", "500", "drop", "slow", "malformed")

    def __call__(self, req: StubRequest) -> Reply:
        instruction = instruction_of(req.prompt_text)
        with self._lock:
            self.attempts[instruction] += 1
            n = self.attempts[instruction]
        if instruction in self.always_malformed:
            return self._fault("malformed", req)
        if instruction in self.always_500:
            return self._fault("500", req)
        rng = random.Random(f"{self.seed}|{instruction}|{n}")
        if rng.random() < self.fault_rate:
            return self._fault(rng.choice(self.KINDS), req, rng)
        return Reply(text=good_reply_text(req.prompt_text), delay=self.latency)

    def _fault(self, kind: str, req: StubRequest, rng: random.Random | None = None) -> Reply:
        with self._lock:
            self.faults[kind] += 1
        rng = rng or random.Random(0)
        if kind == "429":
            wait = rng.uniform(*self.retry_after)
            return Reply(status=429, text="slow down", headers={"Retry-After": f"{wait:.3f}"}, delay=self.latency)
        if kind == "500":
            return Reply(status=500, text="internal error", delay=self.latency)
        if kind == "drop":
            return Reply(drop=True, delay=self.latency)
        if kind == "slow":
            return Reply(text=good_reply_text(req.prompt_text), delay=5 * self.latency)
        return Reply(text='{"helpfulness": {"rationale": "cut off', delay=self.latency)
