"""Seeded, vectorised percentile bootstrap over items.

A resample is drawn as a count matrix W (resamples x items, how often each item was drawn), so
the resampled mean of every aspect is one matrix product: (W @ values) / (W @ included). All
aspects of one item category share the draws, which keeps the average over aspects coherent,
and missing cells simply drop out of both sums. 50 models x 1,000 items x 1,000 resamples
takes well under a second.

Seeds are derived from (seed, model name, category), so adding a model to a board leaves the
other models' intervals unchanged.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95


def rng_for(seed: int, *keys: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(k.encode("utf-8")) for k in keys)])


def draw_counts(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """W[b, i] = how many times item i is in resample b (each row sums to n)."""
    if n == 0 or resamples == 0:
        return np.zeros((resamples, n))
    idx = rng.integers(0, n, size=(resamples, n))
    flat = idx + (np.arange(resamples) * n)[:, None]
    return np.bincount(flat.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def resampled_means(values: np.ndarray, included: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Means of the included values under each resample: (resamples x columns), NaN if none.

    values, included: items x columns. counts: resamples x items.
    """
    v = np.where(included, values, 0.0)
    num = counts @ v
    den = counts @ included.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def interval(samples: np.ndarray, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column of a (resamples x columns) array; NaN where undefined."""
    if samples.shape[0] == 0:
        nan = np.full(samples.shape[1:], np.nan)
        return nan, nan.copy()
    alpha = (1.0 - confidence) / 2.0
    out = np.full((2, *samples.shape[1:]), np.nan)
    some = ~np.isnan(samples).all(axis=0)
    if some.any():
        # A resample with no included item for a column (tiny groups) has no mean; skip it.
        out[:, some] = np.nanquantile(samples[:, some], [alpha, 1.0 - alpha], axis=0)
    return out[0], out[1]


def point_means(values: np.ndarray, included: np.ndarray) -> np.ndarray:
    n = included.sum(axis=0)
    s = np.where(included, values, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, s / np.where(n > 0, n, 1), np.nan)


def bootstrap_groups(groups: Sequence[tuple[str, np.ndarray, np.ndarray]], resamples: int, seed: int,
                     name: str) -> tuple[np.ndarray, np.ndarray]:
    """Point means and resampled means for column groups that are resampled independently.

    groups: (key, values, included) with items x columns arrays (one group per item category).
    Returns (points: columns, samples: resamples x columns) with columns concatenated in order.
    """
    points, samples = [], []
    for key, values, included in groups:
        points.append(point_means(values, included))
        counts = draw_counts(values.shape[0], resamples, rng_for(seed, name, key))
        samples.append(resampled_means(values, included, counts))
    if not points:
        return np.zeros(0), np.zeros((resamples, 0))
    return np.concatenate(points), np.concatenate(samples, axis=1)
