"""K-shot in-context examples drawn from a pool (jsonl or json list of {instruction, output},
optionally `source_id`).

Selection per query (`--select`):
- `fixed`: the first K examples of the pool;
- `random`: K examples drawn with a generator seeded from (seed, item id), so an item gets
  the same examples whatever the order, the selection or a resume;
- `random-fixed`: one random set of K shared by every query (the random baseline of
  "Is In-Context Learning Sufficient for Instruction Following in LLMs?", arXiv 2405.19874): the
  pool in one seeded random order, of which each query takes the first K it may see; the sets
  for K=3 and K=8 with one seed are nested, so a sweep over K adds examples rather than swapping
  them;
- `similar`: the K examples whose instruction scores highest by BM25 against the query
  (lowercased word tokens; ties keep pool order), shown with the most similar one last, closest
  to the query. Local and deterministic, no network.

Leakage: an example is never shown for a query it duplicates: the same `source_id` (when both
the pool record and the item carry one), the same text after normalisation (case, punctuation,
spacing), or a near-duplicate (a normalised similarity at or above `leak_threshold`; just-eval
id 760 differs from its MT-bench source by one word). The walk goes on to the next candidate;
how many were passed over is reported (`Choice.skipped`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from justeval.errors import InputError, UsageError
from justeval.jsonl import iter_json_lines

SelectMode = Literal["fixed", "random", "random-fixed", "similar"]
SELECT_MODES: tuple[str, ...] = ("fixed", "random", "random-fixed", "similar")
DEFAULT_LEAK_THRESHOLD = 0.9
_TOKEN = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Example:
    instruction: str
    output: str
    source_id: str | None = None


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def load_pool(path: str | Path) -> list[Example]:
    """Read the example pool; every record needs non-empty `instruction` and `output` strings
    (surrounding whitespace is dropped so each sits tightly inside its fence); a string
    `source_id` is kept for the leakage check."""
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
        source = obj.get("source_id")
        if source is not None and not isinstance(source, str):
            raise InputError(path, "field 'source_id' must be a string when given", line=line, record=record)
        pool.append(Example(obj["instruction"].strip(), obj["output"].strip(), source or None))
    if not pool:
        raise InputError(path, "ICL example file holds no examples")
    return pool


def pool_hash(pool: list[Example]) -> str:
    """Short hash of the pool's texts (source ids only when present, so older pools keep theirs)."""
    digest = hashlib.sha256()
    for ex in pool:
        fields = [ex.instruction, ex.output] + ([ex.source_id] if ex.source_id is not None else [])
        digest.update(json.dumps(fields, ensure_ascii=False).encode("utf-8"))
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


@dataclass
class Choice:
    """The examples chosen for one query.

    `ranked`: pool positions in the order they were chosen (most relevant first for `similar`):
    the end of this list is what a context budget drops first. `shown`: the same examples in the
    order they appear in the prompt. `skipped`: candidates passed over as duplicates of the query."""

    ranked: list[int] = field(default_factory=list)
    skipped: int = 0
    mode: str = "fixed"

    def shown(self, keep: int | None = None) -> list[int]:
        kept = self.ranked if keep is None else self.ranked[:keep]
        return list(reversed(kept)) if self.mode == "similar" else list(kept)


class LeakGuard:
    """Whether a pool example duplicates a query (see the module docstring). Similarity is
    difflib's ratio over the normalised word sequences: one word changed in a 24-word question
    (just-eval id 760) is 0.96, while two short questions about different things that share all
    but one word ("Tell me about beta." / "... delta.") stay at 0.75."""

    def __init__(self, pool: list[Example], threshold: float = DEFAULT_LEAK_THRESHOLD) -> None:
        if not 0 < threshold <= 1:
            raise UsageError("--leak-threshold must be in (0, 1]")
        self.threshold = threshold
        self._words = [tokenize(ex.instruction) for ex in pool]
        self._sets = [set(words) for words in self._words]
        self._sources = [ex.source_id for ex in pool]

    def leaks(self, i: int, query_words: list[str], query_set: set[str], source_id: str | None) -> bool:
        if source_id is not None and self._sources[i] == source_id:
            return True
        words = self._words[i]
        if words == query_words:
            return True
        a, b = len(words), len(query_words)
        if not a or not b or 2 * min(a, b) / (a + b) < self.threshold:
            return False  # the lengths alone rule a ratio that high out
        common = self._sets[i] & query_set
        if 2 * len(common) / (len(self._sets[i]) + len(query_set)) < self.threshold - 0.2:
            return False  # too few words in common to be a few edits apart
        return difflib.SequenceMatcher(None, words, query_words, autojunk=False).ratio() >= self.threshold


class ExampleSelector:
    """Chooses the K examples for each query according to `mode`."""

    def __init__(self, pool: list[Example], shots: int, mode: str, seed: int = 0, *,
                 leak_threshold: float = DEFAULT_LEAK_THRESHOLD) -> None:
        if mode not in SELECT_MODES:
            raise UsageError(f"unknown --select {mode!r} (choose from {', '.join(SELECT_MODES)})")
        if shots < 0:
            raise UsageError("--shots must be >= 0")
        self.pool, self.shots, self.mode, self.seed = pool, shots, mode, seed
        self.guard = LeakGuard(pool, leak_threshold)
        self._bm25 = BM25([ex.instruction for ex in pool]) if mode == "similar" else None
        self._shared_order: list[int] | None = None
        if mode == "random-fixed":
            self._shared_order = random.Random(f"{seed}:random-fixed").sample(range(len(pool)), len(pool))

    def choose(self, query: str, item_key: str, source_id: str | None = None) -> Choice:
        """The examples for this query (see `Choice`)."""
        query_words = tokenize(query)
        query_set = set(query_words)
        choice = Choice(mode=self.mode)

        def allowed(i: int) -> bool:
            if self.guard.leaks(i, query_words, query_set, source_id):
                choice.skipped += 1
                return False
            return True

        if self.mode == "random":
            # drawn from every allowed example, as before leakage was counted: the same seed
            # gives an item the same examples it always got
            candidates = [i for i in range(len(self.pool)) if allowed(i)]
            draw = random.Random(f"{self.seed}:{item_key}")
            choice.ranked = draw.sample(candidates, min(self.shots, len(candidates)))
            return choice
        if self.mode == "similar":
            assert self._bm25 is not None
            scores = self._bm25.scores(query)
            order: list[int] = sorted(range(len(self.pool)), key=lambda i: (-scores[i], i))
        elif self._shared_order is not None:
            order = self._shared_order
        else:
            order = list(range(len(self.pool)))
        for i in order:
            if len(choice.ranked) >= self.shots:
                break
            if allowed(i):
                choice.ranked.append(i)
        return choice

    def indices(self, query: str, item_key: str, source_id: str | None = None) -> list[int]:
        """Pool positions of the examples for this query, in the order they are shown."""
        return self.choose(query, item_key, source_id).shown()

    def select(self, query: str, item_key: str, source_id: str | None = None) -> list[Example]:
        return [self.pool[i] for i in self.indices(query, item_key, source_id)]
