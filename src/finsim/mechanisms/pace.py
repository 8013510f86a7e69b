"""Pace of change: moving allocations toward target while meeting the stream total exactly.

NHS allocations are not set at target in one step: a body far from target would
gain or lose too much at once. Each year every body's growth is

    growth_i = clip(g + k * gap_i, floor_i, cap_i),   gap_i = (target_i - baseline_i) / target_i

where ``baseline_i`` is its recurrent allocation carried from last year,
``k`` the convergence rate and ``g`` the *common growth*, solved so that the
allocations sum exactly to the stream total. Floors and caps are per body:
a cash floor and cap, distance bands ("more than 10% over target: floor
only"), a minimum growth per head, and "no body more than m under target
after allocation". When a floor and a cap conflict the floor wins.

Everything is vectorised over replications: ``baseline`` is ``(R, n)``.
The common growth is found by bisection (the total is monotone in g), then
made exact by solving the linear equation over the bodies not at a floor or cap.

**The total is met exactly**, to the last bit, not within a rounding error:
:func:`meet_exactly` rounds each body's allocation to a whole multiple of the
last binary digit of the stream total (2^-42 GBP m, about 2e-13, for a stream
of 1,030), and the largest body takes the remainder. Any sum of such
multiples up to the total is exact in floating point, so the allocations add
up to the stream whatever the order of addition (left to right, numpy's
pairwise sum, pandas' compensated sum, ``math.fsum``). No body moves by more
than half that digit, bar the largest, which also absorbs the solver's last
few ulps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finsim.numeric import row_sum

_BISECTIONS = 200


class InfeasiblePolicy(ValueError):
    """Floors and caps cannot meet the stream total (floors too high or caps too low)."""

    def __init__(self, message: str, replications: np.ndarray) -> None:
        super().__init__(message)
        self.replications = replications


@dataclass(frozen=True)
class Bounds:
    """Per-body growth floor and cap, ``(R, n)`` or broadcastable; -inf / inf for none."""

    floor: np.ndarray
    cap: np.ndarray


def distance_from_target(allocation: np.ndarray, target: np.ndarray) -> np.ndarray:
    """(allocation - target) / target; 0 where the target is 0."""
    with np.errstate(all="ignore"):  # a vanishing target gives an infinite distance, honestly
        return np.where(target > 0, (allocation - target) / np.where(target > 0, target, 1.0), 0.0)


def growth_at(g: np.ndarray, k: float, gap: np.ndarray, bounds: Bounds) -> np.ndarray:
    """Each body's growth for common growth ``g`` (R,)."""
    return np.clip(g[:, None] + k * gap, bounds.floor, bounds.cap)


def solve_common_growth(
    baseline: np.ndarray, target: np.ndarray, total: np.ndarray, k: float, bounds: Bounds
) -> tuple[np.ndarray, np.ndarray]:
    """Return (growth (R, n), common growth g (R,)) such that sum(baseline * (1 + growth)) = total.

    Raises InfeasiblePolicy when floors alone exceed the total or caps alone fall short.
    """
    R, n = baseline.shape
    total = np.broadcast_to(np.asarray(total, dtype=np.float64), (R,))
    # gap <= 1 always; a vanishing target would make it -inf, so bound it (k * gap stays finite)
    gap = np.clip(
        -distance_from_target(baseline, np.broadcast_to(target, baseline.shape)), -1e9, 1.0
    )
    floor = np.broadcast_to(bounds.floor, (R, n))
    cap = np.maximum(np.broadcast_to(bounds.cap, (R, n)), floor)  # the floor wins
    bounds = Bounds(floor, cap)
    tol = 1e-12 * np.maximum(np.abs(total), 1.0)
    # bodies with no baseline receive nothing whatever their floor or cap
    with np.errstate(invalid="ignore"):
        at_floors = row_sum(np.where(baseline > 0, baseline * (1.0 + floor), 0.0))
        at_caps = row_sum(np.where(baseline > 0, baseline * (1.0 + cap), 0.0))
    too_high = at_floors > total + tol
    if too_high.any():
        r = np.flatnonzero(too_high)
        raise InfeasiblePolicy(
            f"the floors alone need {at_floors[r[0]]:,.3f} but the stream holds {total[r[0]]:,.3f}",
            r,
        )
    too_low = at_caps < total - tol
    if too_low.any():
        r = np.flatnonzero(too_low)
        raise InfeasiblePolicy(
            f"the caps allow only {at_caps[r[0]]:,.3f} of the stream's {total[r[0]]:,.3f}", r
        )

    def excess(g: np.ndarray) -> np.ndarray:
        return row_sum(baseline * (1.0 + growth_at(g, k, gap, bounds))) - total

    lo = np.full(R, -1.0)
    hi = np.full(R, 1.0)
    for _ in range(64):  # widen the bracket where needed
        low_bad = excess(lo) > 0
        high_bad = excess(hi) < 0
        if not (low_bad.any() or high_bad.any()):
            break
        lo = np.where(low_bad, lo * 2.0, lo)
        hi = np.where(high_bad, hi * 2.0, hi)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        above = excess(mid) > 0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
        if np.all(hi - lo <= 1e-15 * np.maximum(1.0, np.abs(hi))):
            break
    g = 0.5 * (lo + hi)
    # Exact step: among bodies strictly between floor and cap, growth is linear in g.
    raw = g[:, None] + k * gap
    free = (raw > floor) & (raw < cap) & (baseline > 0)
    clipped_sum = row_sum(np.where(free, 0.0, baseline * (1.0 + np.clip(raw, floor, cap))))
    free_base = row_sum(np.where(free, baseline, 0.0))
    free_rest = row_sum(np.where(free, baseline * (1.0 + k * gap), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        exact = (total - clipped_sum - free_rest) / free_base
    g = np.where(free_base > 0, exact, g)
    growth = growth_at(g, k, gap, bounds)
    return growth, g


def meet_exactly(allocation: np.ndarray, total: np.ndarray) -> np.ndarray:
    """``allocation`` ``(R, n)`` adjusted so that each replication's row adds up to its
    ``total`` ``(R,)`` exactly, in any order of addition.

    Each allocation is rounded to the nearest whole multiple of ``q``, the spacing of
    floats at the row's total (the total's last binary digit), and the largest allocation
    is then set to the remainder, the total less the others. Every sum of multiples of
    ``q`` no larger than the total is a float exactly (below 2^53 q), so the remainder is
    exact and so is any sum of the row. Rows whose total is not positive and finite, or
    that hold a negative or non-finite allocation, are returned unchanged.
    """
    allocation = np.asarray(allocation, dtype=np.float64)
    R, n = allocation.shape
    total = np.broadcast_to(np.asarray(total, dtype=np.float64), (R,))
    if n == 0 or R == 0:
        return allocation
    with np.errstate(invalid="ignore"):
        ok = (
            (total > 0)
            & np.isfinite(total)
            & np.isfinite(allocation).all(axis=1)
            & (allocation >= 0).all(axis=1)
        )
    q = np.spacing(np.where(ok, total, 1.0))[:, None]
    on_grid = np.rint(np.where(ok[:, None], allocation, 0.0) / q) * q
    rows = np.arange(R)
    largest = np.argmax(on_grid, axis=1)
    on_grid[rows, largest] = 0.0
    remainder = total - row_sum(on_grid)
    on_grid[rows, largest] = remainder
    ok &= remainder >= 0.0
    return np.where(ok[:, None], on_grid, allocation)
