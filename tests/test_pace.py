"""Pace of change: the stream total met exactly, to the last bit, every floor and cap respected."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import finsim
from finsim.mechanisms.pace import (
    Bounds,
    InfeasiblePolicy,
    distance_from_target,
    meet_exactly,
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


# -- the stream total, to the last bit ------------------------------------------------------------


@st.composite
def near_totals(draw):
    """Allocations as a solver leaves them, and a total they miss by a few ulps (or more)."""
    R = draw(st.integers(1, 4))
    n = draw(st.integers(1, 60))
    allocation = draw(hnp.arrays(float, (R, n), elements=st.floats(0.0, 1e5)))
    total = allocation.sum(axis=1) * (1.0 + draw(st.floats(-1e-12, 1e-12)))
    total = np.where(total > 0, total, draw(st.floats(1.0, 1e4)))
    return allocation, total


def sums(row: np.ndarray) -> dict[str, float]:
    """A row added up in the ways a reader might: left to right, pairwise, exactly, backwards,
    smallest first, and by pandas."""
    return {
        "left to right": sum(row.tolist()),
        "numpy": float(np.sum(row)),
        "fsum": math.fsum(row),
        "backwards": sum(row[::-1].tolist()),
        "smallest first": sum(np.sort(row).tolist()),
        "pandas": float(pd.Series(row).sum()),
    }


@settings(max_examples=300, deadline=None)
@given(near_totals())
def test_meet_exactly_adds_up_to_the_total_in_any_order(problem):
    """After meet_exactly every row sums to its total exactly (==), however it is added up; no
    allocation but the largest moves by more than half the total's last binary digit."""
    allocation, total = problem
    met = meet_exactly(allocation, total)
    q = np.spacing(total)
    for r in range(allocation.shape[0]):
        for how, value in sums(met[r]).items():
            assert value == total[r], (how, value, total[r])
        moved = np.abs(met[r] - allocation[r])
        assert (moved > q[r] / 2).sum() <= 1  # the largest, which takes the remainder
        assert (met[r] >= 0).all()


def test_meet_exactly_leaves_an_exact_row_alone_and_a_lone_body_gets_the_total():
    """Allocations already on the total's grid are kept bit for bit; one body gets the total."""
    exact = np.array([[100.0, 300.0, 50.0]])
    assert np.array_equal(meet_exactly(exact, np.array([450.0])), exact)
    assert meet_exactly(np.array([[1029.9999999999998]]), np.array([1030.0]))[0, 0] == 1030.0


@st.composite
def streams(draw):
    """A scenario with random populations, stream sizes and pace-of-change policies."""
    n = draw(st.integers(2, 9))
    commissioners = [
        {
            "id": f"c{i}",
            "system": f"s{i % 2}",
            "population": draw(st.floats(1e4, 1e6)),
            "weighted_population": draw(st.floats(1e4, 1e6)),
        }
        for i in range(n)
    ]
    first = round(draw(st.floats(100.0, 100_000.0)), 1)
    growth = [draw(st.floats(0.0, 0.06)) for _ in range(2)]
    amounts = {"2018/19": first}
    for year, g in zip(("2019/20", "2020/21"), growth, strict=True):
        amounts[year] = round(amounts[list(amounts)[-1]] * (1 + g), 1)
    pace: dict = {"convergence": draw(st.floats(0.0, 1.0))}
    if draw(st.booleans()):
        pace["floor"] = draw(st.floats(-0.02, 0.0))
        if draw(st.booleans()):
            pace["bands"] = [{"above": draw(st.floats(0.0, 0.3)), "cap": "floor"}]
    if draw(st.booleans()):
        pace["cap"] = draw(st.floats(0.2, 0.5))
    if draw(st.booleans()):
        pace["converge_only"] = True
    doc = {
        "scenario": {"name": "exact", "start": "2018/19", "years": 3},
        "organisations": {
            "regions": [{"id": "r"}],
            "systems": [{"id": "s0", "region": "r"}, {"id": "s1", "region": "r"}],
            "commissioners": commissioners,
        },
        "allocations": {
            "streams": {
                "core": {"amount": amounts, "pace": pace},
                "reserve": {
                    "holder": "systems",
                    "amount": round(draw(st.floats(1.0, 1000.0)), 2),
                    "recurrence": "non_recurrent",
                },
            }
        },
    }
    return doc, draw(st.integers(1, 4))


@settings(max_examples=40, deadline=None)
@given(streams())
def test_a_streams_allocations_add_up_to_the_stream_exactly(case):
    """In every replication and year, a stream's allocations, as reported, add up to the stream
    exactly (==, in any order): shared by need in the first year and pace of change after."""
    doc, replications = case
    try:
        res = finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=1)
    except finsim.ScenarioError as exc:  # floors and caps that cannot meet this stream
        assume("cannot be met" not in str(exc))
        raise
    table = res.table("allocations")
    streams_ = doc["allocations"]["streams"]
    for (_, fy, stream), rows in table.groupby(["replication", "fy", "stream"]):
        amount = streams_[stream]["amount"]
        total = amount[fy] if isinstance(amount, dict) else amount
        for how, value in sums(rows["allocation"].to_numpy()).items():
            assert value == total, (stream, fy, how, value, total)
    by_group = table.groupby(["replication", "fy", "stream"])["allocation"].sum()
    assert len(by_group) == replications * 3 * 2
