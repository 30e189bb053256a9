"""Win / tie / loss rates with percentile bootstrap intervals, resampling units (pairs or
items) with the leaderboard's seeded bootstrap, so several votes on one unit count once."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from justeval.board.bootstrap import draw_counts, interval, resampled_means, rng_for

RESAMPLES = 1000


@dataclass
class WinRate:
    value: float
    low: float
    high: float

    def as_dict(self) -> dict[str, float | None]:
        def clean(x: float) -> float | None:
            return None if math.isnan(x) else round(float(x), 6)

        return {"value": clean(self.value), "low": clean(self.low), "high": clean(self.high)}


def outcome_rates(units: Sequence[Sequence[str]], outcomes: Sequence[str], *, seed: int = 0, key: str = "",
                  resamples: int = RESAMPLES) -> dict[str, WinRate]:
    """Per outcome, the mean over units of the share of that unit's votes with that outcome,
    with a bootstrap interval over units. Also `score`: share of A plus half of the others
    that are neither A nor B (ties and inconsistent verdicts)."""
    shares = np.zeros((len(units), len(outcomes) + 1))
    for row, votes in enumerate(units):
        if not votes:
            raise ValueError("a unit without votes")
        for j, name in enumerate(outcomes):
            shares[row, j] = sum(v == name for v in votes) / len(votes)
        a = sum(v == "A" for v in votes)
        neither = sum(v not in ("A", "B") for v in votes)
        shares[row, -1] = (a + 0.5 * neither) / len(votes)
    included = np.ones_like(shares, dtype=bool)
    points = shares.mean(axis=0) if len(units) else np.full(shares.shape[1], np.nan)
    counts = draw_counts(len(units), resamples, rng_for(seed, "winrate", key))
    samples = resampled_means(shares, included, counts) if len(units) else np.full((resamples, shares.shape[1]),
                                                                                     np.nan)
    low, high = interval(samples)
    names = [*outcomes, "score"]
    return {name: WinRate(float(points[j]), float(low[j]), float(high[j])) for j, name in enumerate(names)}
