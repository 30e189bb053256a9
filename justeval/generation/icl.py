"""K-shot in-context examples drawn from a pool (jsonl or json list of {instruction, output}).

Selection per query:
- `fixed`: the first K examples of the pool;
- `random`: K examples drawn with a generator seeded from (seed, item id), so an item gets
  the same examples whatever the order, the selection or a resume;
- `similar`: the K examples whose instruction scores highest by BM25 against the query
  (lowercased word tokens; ties keep pool order). Local and deterministic, no network.

In every mode an example whose instruction equals the query is skipped, so a pool that
overlaps the evaluation set never shows the model its own answer.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from justeval.errors import InputError, UsageError
from justeval.jsonl import iter_json_lines

SelectMode = Literal["fixed", "random", "similar"]
SELECT_MODES: tuple[str, ...] = ("fixed", "random", "similar")
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Example:
    instruction: str
    output: str


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def load_pool(path: str | Path) -> list[Example]:
    """Read the example pool; every record needs non-empty `instruction` and `output` strings
    (surrounding whitespace is dropped so each sits tightly inside its fence)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "ICL example file not found")
    rows: list[tuple[int | None, Any]]
    if path.suffix.lower() == ".json":
        from justeval.jsonl import read_json_file

        data = read_json_file(path)
        if not isinstance(data, list):
            raise InputError(path, "expected a JSON list of {instruction, output} objects")
        rows = [(None, obj) for obj in data]
    else:
        rows = list(iter_json_lines(path))
    pool: list[Example] = []
    for n, (line, obj) in enumerate(rows):
        record = n if line is None else None
        if not isinstance(obj, dict):
            raise InputError(path, "expected an object with instruction and output", line=line, record=record)
        for key in ("instruction", "output"):
            value = obj.get(key)
            if not isinstance(value, str) or not value.strip():
                raise InputError(path, f"field '{key}' must be a non-empty string", line=line, record=record)
        pool.append(Example(obj["instruction"].strip(), obj["output"].strip()))
    if not pool:
        raise InputError(path, "ICL example file holds no examples")
    return pool


def pool_hash(pool: list[Example]) -> str:
    digest = hashlib.sha256()
    for ex in pool:
        digest.update(json.dumps([ex.instruction, ex.output], ensure_ascii=False).encode("utf-8"))
    return digest.hexdigest()[:16]


class BM25:
    """Okapi BM25 over the pool's instructions (k1=1.5, b=0.75)."""

    def __init__(self, documents: list[str], k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.docs = [Counter(tokenize(d)) for d in documents]
        self.lengths = [sum(c.values()) for c in self.docs]
        self.avg_len = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df: Counter[str] = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: str) -> list[float]:
        terms = tokenize(query)
        out = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / self.avg_len) if self.avg_len else self.k1
            s = 0.0
            for t in terms:
                f = doc.get(t, 0)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (f + norm)
            out.append(s)
        return out


class ExampleSelector:
    """Chooses the K examples for each query according to `mode`."""

    def __init__(self, pool: list[Example], shots: int, mode: str, seed: int = 0) -> None:
        if mode not in SELECT_MODES:
            raise UsageError(f"unknown --select {mode!r} (choose from {', '.join(SELECT_MODES)})")
        if shots < 0:
            raise UsageError("--shots must be >= 0")
        self.pool, self.shots, self.mode, self.seed = pool, shots, mode, seed
        self._bm25 = BM25([ex.instruction for ex in pool]) if mode == "similar" else None

    def indices(self, query: str, item_key: str) -> list[int]:
        """Pool positions of the examples for this query, in the order they are shown."""
        allowed = [i for i, ex in enumerate(self.pool) if ex.instruction.strip() != query.strip()]
        k = min(self.shots, len(allowed))
        if self.mode == "fixed":
            return allowed[:k]
        if self.mode == "random":
            return random.Random(f"{self.seed}:{item_key}").sample(allowed, k)
        assert self._bm25 is not None
        scores = self._bm25.scores(query)
        ranked = sorted(allowed, key=lambda i: (-scores[i], i))
        return ranked[:k]

    def select(self, query: str, item_key: str) -> list[Example]:
        return [self.pool[i] for i in self.indices(query, item_key)]
