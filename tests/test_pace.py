"""Pace of change: the stream total met exactly, every floor and cap respected."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from finsim.mechanisms.pace import (
    Bounds,
    InfeasiblePolicy,
    distance_from_target,
    solve_common_growth,
)

positive = st.floats(1.0, 1_000.0, allow_nan=False)


@st.composite
def problems(draw):
    R = draw(st.integers(1, 3))
    n = draw(st.integers(1, 12))
    baseline = draw(hnp.arrays(float, (R, n), elements=positive))
    target = draw(hnp.arrays(float, (n,), elements=positive))
    growth = draw(st.floats(-0.05, 0.12))
    total = baseline.sum(axis=1) * (1.0 + growth)
    floor = draw(hnp.arrays(float, (n,), elements=st.floats(-0.1, 0.05)))
    cap = floor + draw(hnp.arrays(float, (n,), elements=st.floats(0.0, 0.2)))
    k = draw(st.floats(0.0, 2.0))
    return baseline, target, total, k, Bounds(floor, cap)


@settings(max_examples=300, deadline=None)
@given(problems())
def test_total_is_met_exactly_within_floors_and_caps(problem):
    """Allocations sum to the stream total (1e-9 relative) and each growth lies in [floor, cap]."""
    baseline, target, total, k, bounds = problem
    at_floor = (baseline * (1 + bounds.floor)).sum(axis=1)
    at_cap = (baseline * (1 + bounds.cap)).sum(axis=1)
    feasible = (at_floor <= total * (1 + 1e-12)) & (at_cap >= total * (1 - 1e-12))
    if not feasible.all():
        with pytest.raises(InfeasiblePolicy):
            solve_common_growth(baseline, target, total, k, bounds)
        return
    growth, g = solve_common_growth(baseline, target, total, k, bounds)
    allocation = baseline * (1 + growth)
    assert np.allclose(allocation.sum(axis=1), total, rtol=1e-9, atol=0)
    assert (growth >= bounds.floor - 1e-12).all() and (growth <= bounds.cap + 1e-12).all()


@settings(max_examples=200, deadline=None)
@given(problems())
def test_convergence_favours_bodies_further_below_target(problem):
    """Among bodies not at a floor or cap, growth rises with the gap below target."""
    baseline, target, total, k, _ = problem
    assume(k > 0)
    free = Bounds(np.full(target.shape, -np.inf), np.full(target.shape, np.inf))
    growth, _ = solve_common_growth(baseline, target, total, k, free)
    gap = -distance_from_target(baseline, np.broadcast_to(target, baseline.shape))
    for r in range(baseline.shape[0]):
        order = np.argsort(gap[r])
        assert np.all(np.diff(growth[r][order]) >= -1e-12)


def test_equal_growth_without_convergence():
    """With k = 0 and no limits, every body grows at the stream's growth."""
    baseline = np.array([[100.0, 300.0, 50.0]])
    growth, g = solve_common_growth(
        baseline,
        np.array([1.0, 1.0, 1.0]),
        np.array([468.0]),
        0.0,
        Bounds(np.full(3, -np.inf), np.full(3, np.inf)),
    )
    assert np.allclose(growth, 0.04) and np.allclose(g, 0.04)


def test_floors_that_exceed_the_stream_are_infeasible():
    """Floors summing to more than the stream raise, naming the shortfall."""
    baseline = np.array([[100.0, 100.0]])
    with pytest.raises(InfeasiblePolicy, match="floors alone need 206.000"):
        solve_common_growth(
            baseline,
            np.array([1.0, 1.0]),
            np.array([204.0]),
            0.0,
            Bounds(np.full(2, 0.03), np.full(2, 0.1)),
        )
