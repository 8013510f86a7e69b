"""Random shares between 0 and 1 (delivery rates, achievement rates) by inverse CDF.

A share with a given mean and standard deviation is drawn as a *logit-normal*
variable, ``1 / (1 + exp(-(mu + sigma z)))``, with ``mu`` and ``sigma`` solved
once so the mean and sd are exactly those asked for. Like a beta distribution
it lives on (0, 1) and can take any feasible mean and sd (sd^2 < mean (1 -
mean)); unlike the beta, its inverse CDF is closed-form, so each draw costs one
normal quantile. That matters: finsim draws these for every body or contract in
every replication, and draws only by inverse CDF so that a replication's
numbers do not depend on its chunk (see :mod:`finsim.random`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import optimize, special

_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(64)
_WEIGHTS = _WEIGHTS / _WEIGHTS.sum()


def _moments(mu: float, sigma: float) -> tuple[float, float]:
    x = special.expit(mu + sigma * _NODES)
    mean = float(_WEIGHTS @ x)
    return mean, float(np.sqrt(max(_WEIGHTS @ (x - mean) ** 2, 0.0)))


@lru_cache(maxsize=256)
def logit_normal_parameters(mean: float, sd: float) -> tuple[float, float]:
    """(mu, sigma) of the logit-normal share with this mean and sd."""
    if not 0.0 < mean < 1.0 or sd <= 0.0 or sd**2 >= mean * (1.0 - mean):
        raise ValueError(f"no share between 0 and 1 has mean {mean} and sd {sd}")

    def gap(params: np.ndarray) -> np.ndarray:
        m, s = _moments(params[0], np.exp(params[1]))
        return np.array([m - mean, s - sd])

    start = np.array([special.logit(mean), np.log(sd / (mean * (1.0 - mean)))])
    solution = optimize.least_squares(gap, start, xtol=1e-14, ftol=1e-14, gtol=1e-14)
    return float(solution.x[0]), float(np.exp(solution.x[1]))


def share(u: np.ndarray, mean: float, sd: float) -> np.ndarray:
    """Shares for uniforms ``u``: exactly ``mean`` when sd is 0 (or the mean is 0 or 1)."""
    u = np.asarray(u, dtype=np.float64)
    if sd == 0.0 or mean in (0.0, 1.0):
        return np.full(u.shape, float(mean))
    mu, sigma = logit_normal_parameters(float(mean), float(sd))
    return special.expit(mu + sigma * special.ndtri(u))
