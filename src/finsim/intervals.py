"""Confidence intervals for proportions, shared by the stress comparison's tables."""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(
    successes: np.ndarray, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (vectorised)."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # with no success the lower bound is 0, with no failure the upper 1: exactly, not the
    # 1e-18 left by rounding centre - half
    low = np.where(successes <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(successes >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high
