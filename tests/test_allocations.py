"""Allocations: streams, targets, pace of change in scenarios, recurrence of transfers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import finsim

BASE = {
    "scenario": {"name": "allocations", "start": "2018/19", "years": 3},
    "organisations": {
        "regions": [{"id": "north"}, {"id": "south"}],
        "systems": [{"id": "sn", "region": "north"}, {"id": "ss", "region": "south"}],
        "commissioners": [
            {"id": "a", "system": "sn", "population": 100_000, "weighted_population": 120_000},
            {"id": "b", "system": "sn", "population": 200_000, "weighted_population": 180_000},
            {"id": "c", "system": "ss", "population": 150_000, "weighted_population": 150_000},
        ],
        "providers": [{"id": "p", "system": "ss", "teaching": True}],
    },
    "allocations": {
        "streams": {
            "core": {"opening": {"a": 130.0, "b": 175.0, "c": 160.0}, "growth": 0.03},
        }
    },
}


def scenario(**changes) -> finsim.Scenario:
    doc = copy.deepcopy(BASE)
    for key, value in changes.items():
        doc[key] = value
    return finsim.Scenario.from_dict(doc)


def allocation_table(sc: finsim.Scenario) -> pd.DataFrame:
    return finsim.run(sc, replications=1).table("allocations")


def test_target_is_stream_total_times_share_of_weighted_population():
    """target = total x weighted population / total weighted population."""
    t = allocation_table(scenario())
    first = t[t["fy"] == "2018/19"].set_index("org")
    total = 130 + 175 + 160
    assert first.loc["a", "target"] == pytest.approx(total * 120 / 450)
    assert first.loc["b", "distance_before"] == pytest.approx(
        (175 - total * 180 / 450) / (total * 180 / 450)
    )


def test_need_by_components_mixes_shares_of_each_component():
    """need: {component: share} targets each component's share of the stream separately."""
    doc = copy.deepcopy(BASE)
    doc["allocations"]["streams"]["core"]["need"] = {"population": 0.5, "weighted_population": 0.5}
    t = allocation_table(finsim.Scenario.from_dict(doc))
    a = t[(t["fy"] == "2018/19") & (t["org"] == "a")].iloc[0]
    assert a["target"] == pytest.approx(465 * (0.5 * 100 / 450 + 0.5 * 120 / 450))


def test_stream_given_as_share_of_envelope_and_held_by_the_centre():
    """A share of the envelope sizes a stream; a centre-held stream stays with the centre."""
    alloc = copy.deepcopy(BASE["allocations"])
    alloc["envelope"] = {"2018/19": 1000.0, "2019/20": 1100.0}
    alloc["streams"]["reserve"] = {"holder": "centre", "share": 0.1}
    res = finsim.run(scenario(allocations=alloc), replications=1)
    centre = res.positions[res.positions["org"] == "centre"].set_index("fy")["surplus"]
    assert centre["2018/19"] == pytest.approx(100.0)
    assert centre["2019/20"] == pytest.approx(110.0)


def test_per_head_stream_pays_each_holder_per_head_times_population():
    """A running-cost allowance of GBP 25 a head pays 25 x population / 1e6 GBP m."""
    alloc = copy.deepcopy(BASE["allocations"])
    alloc["streams"]["running_costs"] = {"per_head": 25.0, "need": "population"}
    t = allocation_table(scenario(allocations=alloc))
    rc = t[(t["stream"] == "running_costs") & (t["fy"] == "2019/20")].set_index("org")["allocation"]
    assert rc["b"] == pytest.approx(25 * 200_000 / 1e6)


def test_recurrent_transfer_enters_next_years_baseline_and_non_recurrent_does_not():
    """A recurrent GBP 10m to 'a' is in its 2019/20 baseline; a non-recurrent GBP 7m to 'b' is not."""
    transfers = [
        {
            "id": "r",
            "at": {"fy": "2018/19", "month": 12},
            "from": "centre",
            "to": "a",
            "amount": 10.0,
            "recurrence": "recurrent",
        },
        {
            "id": "n",
            "at": {"fy": "2018/19", "month": 12},
            "from": "centre",
            "to": "b",
            "amount": 7.0,
        },
    ]
    alloc = copy.deepcopy(BASE["allocations"])
    alloc["streams"]["reserve"] = {
        "holder": "centre",
        "amount": 50.0,
        "recurrence": "non_recurrent",
    }
    res = finsim.run(scenario(allocations=alloc, transfers=transfers), replications=1)
    t = res.table("allocations")
    y2 = t[(t["fy"] == "2019/20") & (t["stream"] == "core")].set_index("org")
    assert y2.loc["a", "baseline"] == pytest.approx(140.0)
    assert y2.loc["b", "baseline"] == pytest.approx(175.0)
    assert y2.loc["a", "allocation"] == pytest.approx(140.0 * 1.03)
    y3 = t[(t["fy"] == "2020/21") & (t["stream"] == "core")].set_index("org")
    assert y3.loc["a", "baseline"] == pytest.approx(140.0 * 1.03)


def test_underlying_surplus_excludes_exactly_the_non_recurrent_items():
    """underlying = surplus - non-recurrent income + non-recurrent costs, per body."""
    transfers = [
        {"id": "n", "at": {"fy": "2018/19", "month": 6}, "from": "a", "to": "b", "amount": 4.0},
        {
            "id": "r",
            "at": {"fy": "2018/19", "month": 6},
            "from": "b",
            "to": "c",
            "amount": 3.0,
            "recurrence": "recurrent",
        },
    ]
    pos = finsim.run(scenario(transfers=transfers), replications=1).positions
    first = pos[pos["fy"] == "2018/19"].set_index("org")
    assert first.loc["a", "surplus"] - first.loc["a", "underlying_surplus"] == pytest.approx(-4.0)
    assert first.loc["b", "surplus"] - first.loc["b", "underlying_surplus"] == pytest.approx(4.0)
    assert first.loc["c", "surplus"] == pytest.approx(first.loc["c", "underlying_surplus"])


def test_recurrent_teaching_uplift_to_a_provider_repeats_each_year():
    """A provider has no allocation baseline, so a recurrent uplift is paid again every year."""
    alloc = copy.deepcopy(BASE["allocations"])
    alloc["streams"]["reserve"] = {
        "holder": "centre",
        "amount": 50.0,
        "recurrence": "non_recurrent",
    }
    transfers = [
        {
            "id": "t",
            "at": {"fy": "2018/19", "month": 12},
            "from": "centre",
            "to": "teaching_providers",
            "amount": 5.0,
            "recurrence": "recurrent",
            "category": "teaching_uplift",
        }
    ]
    flows = finsim.run(scenario(allocations=alloc, transfers=transfers), replications=1).flows
    uplift = flows[flows["category"] == "teaching_uplift"].set_index("fy")["amount"]
    assert uplift.to_dict() == {"2018/19": 5.0, "2019/20": 5.0, "2020/21": 5.0}


def test_infeasible_floors_stop_the_run_with_a_scenario_error():
    """Floors that need more than the stream is a ScenarioError naming the stream's pace policy."""
    alloc = copy.deepcopy(BASE["allocations"])
    alloc["streams"]["core"]["pace"] = {"floor": 0.05}
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.run(scenario(allocations=alloc), replications=1)
    problem = info.value.problems[0]
    assert problem.path == "allocations.streams.core.pace"
    assert "2019/20" in problem.message and "floors alone need" in problem.message


@pytest.mark.parametrize(
    "streams, path, text",
    [
        (
            {"core": {"opening": {"a": 1.0}, "growth": 0.0, "amount": 5.0}},
            "allocations.streams.core",
            "not amount and growth",
        ),
        (
            {"core": {"holder": ["a", "zz"], "amount": 5.0}},
            "allocations.streams.core.holder[1]",
            "unknown",
        ),
        (
            {"core": {"amount": 5.0, "need": "mentl_health"}},
            "allocations.streams.core.need",
            "unknown need basis",
        ),
        ({"core": {"share": 0.5}}, "allocations.streams.core.share", "needs allocations.envelope"),
        (
            {"core": {"amount": 5.0, "need": {"population": 0, "weighted_population": 0}}},
            "allocations.streams.core.need",
            "all 0",
        ),
    ],
)
def test_stream_mistakes_are_scenario_errors(streams, path, text):
    """Contradictory or dangling stream settings are reported with their field path."""
    with pytest.raises(finsim.ScenarioError) as info:
        scenario(allocations={"streams": streams})
    assert any(p.path.startswith(path) and text in p.message for p in info.value.problems), (
        info.value
    )


@settings(max_examples=40, deadline=None)
@given(
    distances=st.lists(st.floats(-0.2, 0.3), min_size=2, max_size=8),
    growth=st.floats(0.0, 0.08),
    k=st.floats(0.0, 1.0),
)
def test_converge_only_never_moves_a_body_away_from_target(distances, growth, k):
    """With converge_only, each body's |distance from target| never grows, and the total is met."""
    n = len(distances)
    commissioners = [
        {"id": f"c{i}", "system": "sn", "population": 1000.0, "weighted_population": 1000.0}
        for i in range(n)
    ]
    opening = {f"c{i}": 100.0 * (1 + d) for i, d in enumerate(distances)}
    doc = copy.deepcopy(BASE)
    doc["organisations"]["commissioners"] = commissioners
    doc["allocations"] = {
        "streams": {
            "core": {
                "opening": opening,
                "growth": growth,
                "pace": {"convergence": k, "converge_only": True},
            }
        }
    }
    t = finsim.run(finsim.Scenario.from_dict(doc), replications=1).table("allocations")
    for fy, year in t.groupby("fy"):
        if fy == "2018/19":
            continue
        before, after = year["distance_before"].to_numpy(), year["distance_after"].to_numpy()
        assert (np.abs(after) <= np.abs(before) + 1e-9).all()
        assert year["allocation"].sum() == pytest.approx(
            year["baseline"].sum() * (1 + growth), rel=1e-9
        )


def test_a_stream_given_only_by_opening_allocations_stays_flat():
    """Opening allocations alone: each year's allocation is last year's baseline (no growth)."""
    t = allocation_table(
        scenario(
            allocations={"streams": {"core": {"opening": {"a": 130.0, "b": 175.0, "c": 160.0}}}}
        )
    )
    assert np.allclose(t.groupby("fy")["allocation"].sum(), 465.0)


@pytest.mark.parametrize("stream_cap", [None, 0.05])
def test_a_floor_only_band_without_a_floor_is_refused_when_read(stream_cap):
    """'cap: floor' holds a band's bodies at their floor: with no floor anywhere it once capped
    growth at minus infinity (a crash, or "the caps allow only -inf"). Now a problem at the
    band's cap, when the file is read."""
    alloc = copy.deepcopy(BASE["allocations"])
    pace: dict = {"convergence": 0.5, "bands": [{"above": 0.10, "cap": "floor"}]}
    if stream_cap is not None:
        pace["cap"] = stream_cap
    alloc["streams"]["core"]["pace"] = pace
    with pytest.raises(finsim.ScenarioError) as info:
        scenario(allocations=alloc)
    (problem,) = info.value.problems
    assert problem.path == "allocations.streams.core.pace.bands[0].cap"
    assert "there is none" in problem.message and "give the band a floor" in problem.message


@pytest.mark.parametrize(
    "floor",
    [
        {"floor": 0.01},  # the stream's floor
        {"min_per_capita_growth": 0.0},
        {"converge_only": True},
        {"band_floor": 0.01},  # the band's own
    ],
)
def test_a_floor_only_band_with_a_floor_runs_and_holds_its_bodies_at_it(floor):
    """With a floor in force, a body more than 10% over target grows at the floor, exactly."""
    alloc = copy.deepcopy(BASE["allocations"])
    # a is 30% over target: the band holds it at the floor
    alloc["streams"]["core"]["opening"] = {"a": 200.0, "b": 175.0, "c": 160.0}
    band = {"above": 0.10, "cap": "floor"}
    pace: dict = {"convergence": 0.5, "bands": [band]}
    if "band_floor" in floor:
        band["floor"] = floor["band_floor"]
    else:
        pace.update(floor)
    alloc["streams"]["core"]["pace"] = pace
    t = allocation_table(scenario(allocations=alloc)).set_index(["fy", "org"])
    assert t.loc[("2019/20", "a"), "distance_before"] > 0.10
    growth = t.loc[("2019/20", "a"), "growth"]
    expected = {"floor": 0.01, "band_floor": 0.01, "min_per_capita_growth": 0.0}
    if "converge_only" in floor:  # its floor for a body over target: no lower than target
        assert growth < 0.03
    else:
        assert growth == pytest.approx(expected[next(iter(floor))], abs=1e-12)
