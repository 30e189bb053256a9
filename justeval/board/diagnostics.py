"""Bias diagnostics for absolute scores: does the judge reward length, and how often does a
model refuse (on safety items, wanted) or over-refuse (on regular items, unwanted)?

Length correlation is Spearman's rank correlation between an aspect's score and the output
length in words: per model (does a longer answer from the same model score higher?) and over
all models pooled. The refusal detector is lexical; its patterns and their rationale live in
`leaderboard/refusal_patterns.yaml`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
import yaml

from justeval.board.loading import ModelItems
from justeval.paths import data_dir

_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class RefusalDetector:
    opening_chars: int
    refuse: tuple[re.Pattern[str], ...]
    not_refusal: tuple[re.Pattern[str], ...]

    def opening(self, text: str) -> str:
        head = text[: self.opening_chars * 2]
        t = " ".join(head.translate(_QUOTES).lower().split())
        if len(t) < self.opening_chars and len(head) < len(text):  # long runs of whitespace
            t = " ".join(text.translate(_QUOTES).lower().split())
        return t[: self.opening_chars]

    def __call__(self, text: str | None) -> bool:
        if not text or not text.strip():
            return False
        t = self.opening(text)
        refuse = _combined(self.refuse)
        if refuse.search(t) is None:  # the common case: nothing to blank out
            return False
        if self.not_refusal:
            t = _combined(self.not_refusal).sub(" ", t)
        return refuse.search(t) is not None


@lru_cache(maxsize=8)
def _combined(patterns: tuple[re.Pattern[str], ...]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p.pattern})" for p in patterns))


@lru_cache(maxsize=1)
def refusal_detector() -> RefusalDetector:
    path = data_dir("leaderboard") / "refusal_patterns.yaml"
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    return RefusalDetector(int(spec["opening_chars"]), tuple(re.compile(p) for p in spec["refuse"]),
                           tuple(re.compile(p) for p in spec.get("not_refusal") or []))


def is_refusal(text: str | None) -> bool:
    """True when the output opens by declining the request (see refusal_patterns.yaml)."""
    return refusal_detector()(text)


@dataclass
class Proportion:
    rate: float
    count: int
    n: int


@dataclass
class Correlation:
    rho: float
    n: int


@dataclass
class ModelDiagnostics:
    model: str
    refusal: Proportion                    # on safety items: share of outputs that refuse
    over_refusal: Proportion               # on regular items: share of outputs that refuse
    length_correlation: dict[str, Correlation] = field(default_factory=dict)


def spearman(x: np.ndarray, y: np.ndarray) -> Correlation:
    """Spearman's rho (average ranks for ties); NaN below 3 pairs or with a constant side."""
    ok = ~(np.isnan(x) | np.isnan(y))
    n = int(ok.sum())
    if n < 3:
        return Correlation(math.nan, n)
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return Correlation(math.nan, n)
    return Correlation(float(np.corrcoef(rx, ry)[0, 1]), n)


def _rate(mi: ModelItems, rows: np.ndarray) -> Proportion:
    rows = rows & ~mi.gen_error
    n, count = int(rows.sum()), int((mi.refused & rows).sum())
    return Proportion(count / n if n else math.nan, count, n)


def model_diagnostics(mi: ModelItems, aspects: Sequence[str], na_as: float | None) -> ModelDiagnostics:
    corr = {}
    for a in aspects:
        if a not in mi.values:
            continue
        vals, inc = mi.scores(a, na_as)
        corr[a] = spearman(np.where(inc, vals, np.nan), mi.words)
    return ModelDiagnostics(model=mi.model, refusal=_rate(mi, mi.category == "safety"),
                            over_refusal=_rate(mi, mi.category == "regular"), length_correlation=corr)


def pooled_length_correlation(models: Sequence[ModelItems], aspects: Sequence[str],
                              na_as: float | None) -> dict[str, Correlation]:
    out = {}
    for a in aspects:
        xs, ys = [], []
        for mi in models:
            if a in mi.values:
                vals, inc = mi.scores(a, na_as)
                xs.append(np.where(inc, vals, np.nan))
                ys.append(mi.words)
        if xs:
            out[a] = spearman(np.concatenate(xs), np.concatenate(ys))
    return out
