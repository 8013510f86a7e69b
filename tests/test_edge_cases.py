"""Numeric edge cases: each runs, with money conserved, or fails with a clear ScenarioError.

Zero population, zero activity and zero prices, an empty stream, a fund of zero, a 100% top
slice, negative growth, every provider in deficit, a single replication, a single year
(the shortest run: the calendar counts whole financial years), and the regressions the
fuzzing found in the mechanisms.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import finsim

from .strategies_full import full_economies, fuzz_settings
from .test_invariants import (
    check_incentives_only_to_acceptors,
    check_loans_are_repaid,
    check_money_is_conserved,
    check_withheld_money_is_never_lost,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@cache
def _example(name: str) -> dict[str, Any]:
    return finsim.load_scenario(EXAMPLES / name).to_data()


def example(name: str) -> dict[str, Any]:
    """A fresh copy of an example's document, to edit."""
    return copy.deepcopy(_example(name))


def run(doc: dict[str, Any], replications: int = 3) -> finsim.Results:
    """Run the document; check that money is conserved in every replication and year."""
    res = finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=3)
    check_money_is_conserved(res, replications, doc["scenario"]["years"])
    assert np.isfinite(res.positions.select_dtypes("number").fillna(0.0)).all().all()
    return res


def refused(doc: dict[str, Any]) -> finsim.Problem:
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(doc)
    assert len(info.value.problems) == 1, str(info.value)
    return info.value.problems[0]


def test_zero_population_shares_need_equally():
    """Commissioners with no population: need-based shares fall back to equal shares."""
    doc = example("two_systems.yaml")
    for commissioner in doc["organisations"]["commissioners"]:
        commissioner["population"] = 0
    opening = doc["allocations"].pop("opening")
    doc["allocations"] = {
        "streams": {"core": {"amount": sum(opening.values()), "need": "population"}}
    }
    res = run(doc)
    first = res.table("allocations").query("fy == '2017/18'")
    assert np.allclose(first["allocation"], sum(opening.values()) / 4)


@pytest.mark.parametrize("what", ["activity", "prices"])
def test_zero_activity_or_prices_pays_nothing_for_activity(what):
    """Plans of zero units, or prices of zero: activity contracts pay nothing, the rest runs."""
    doc = example("two_systems.yaml")
    if what == "prices":
        doc["tariff"]["prices"] = {pod: 0 for pod in doc["tariff"]["prices"]}
    else:
        for contract in doc["contracts"]:
            if "plan" in contract:
                contract["plan"] = {pod: 0 for pod in contract["plan"]}
    flows = run(doc).flows
    acute = flows[flows["target"].isin(["north_acute", "south_acute"])]
    assert (acute[acute["category"] == "contract_payment"]["amount"] == 0).all()


def test_an_empty_stream_and_a_stream_of_nothing():
    """A stream held by nobody, and a stream of zero, are allowed and move no money."""
    doc = example("two_systems.yaml")
    simple = doc.pop("allocations")
    doc["allocations"] = {
        "streams": {
            "core": {"opening": simple["opening"], "growth": simple["uplift"]},
            "nobody": {"holder": [], "amount": 5.0},
            "nothing": {"amount": 0.0},
        }
    }
    res = run(doc)
    assert set(res.table("allocations")["stream"]) <= {"core", "nothing"}


def test_no_commissioners_and_no_providers():
    """An economy of a region and a system alone runs: nobody holds or spends anything."""
    doc = example("two_systems.yaml")
    doc["organisations"]["commissioners"] = doc["organisations"]["providers"] = []
    for section in ("allocations", "contracts", "costs", "activity", "variants"):
        doc.pop(section)
    res = run(doc)
    assert (res.positions["surplus"] == 0).all()


def test_a_fund_of_zero():
    """An incentive fund of nothing pays nothing; allocations of more than it are refused."""
    doc = example("ics_control_totals_2018.yaml")
    doc["incentives"]["fund"] = 0.0
    p = refused(doc)
    assert p.path == "incentives.allocation" and "the fund is 0.0" in p.message
    doc["incentives"]["allocation"] = dict.fromkeys(doc["incentives"]["allocation"], 0.0)
    doc.pop("variants")
    res = run(doc)
    assert (res.positions["incentive_earned"] == 0).all()


def test_a_top_slice_of_everything():
    """A 100% top slice takes no more than the rest of the year's allocations, and the region
    holds what it took."""
    doc = example("regional_control_total_2019.yaml")
    doc["interventions"].update(order=["top_slice"], top_slice={"share": 1.0})
    doc["control_totals"]["regions"]["midlands"] = 500.0  # a gap nothing short of all will close
    doc.pop("variants")
    res = run(doc)
    flows = res.flows
    taken = flows[flows["category"] == "top_slice"]
    assert len(taken) and (taken["target"] == "midlands").all()
    allocation = (
        flows[flows["category"] == "allocation"].groupby(["replication", "target"])["amount"].sum()
    )
    months = doc["interventions"]["months"][0]
    rest = allocation * (12 - months) / 12
    by_body = taken.groupby(["replication", "source"])["amount"].sum()
    by_body.index.names = rest.index.names
    assert (by_body <= rest.reindex(by_body.index) + 1e-9).all()
    check_incentives_only_to_acceptors(res)


def test_negative_growth():
    """Allocations, activity, prices and costs shrinking each year still run and balance."""
    doc = example("two_systems.yaml")
    doc["allocations"]["uplift"] = -0.5
    doc["activity"]["growth"] = -0.9
    doc["tariff"]["cost_uplift"] = -0.3
    doc["costs"]["inflation"] = -0.2
    res = run(doc)
    alloc = res.table("allocations").groupby("fy")["allocation"].mean()
    assert alloc["2018/19"] == pytest.approx(alloc["2017/18"] / 2)


def test_growth_below_minus_one_hundred_percent_is_a_scenario_error():
    """An uplift below -100% would leave a negative allocation: refused when the scenario is
    read, naming the field, not a crash (or a pace of change that cannot be met) at run time."""
    doc = example("two_systems.yaml")
    doc["allocations"]["uplift"] = -2.0
    problem = refused(doc)
    assert problem.path == "allocations.uplift" and "expected a number >= -1" in problem.message


def test_every_provider_in_deficit_borrows_and_repays():
    """Every provider deep in deficit: the region lends to each, and each loan is repaid in
    the years that follow."""
    doc = example("regional_control_total_2019.yaml")
    doc["scenario"]["years"] = 3
    for costs in doc["costs"]["providers"].values():
        costs["fixed"] += 500.0
    doc["interventions"].update(order=["loans"], months=[6], loans={"repay_years": 2})
    doc.pop("variants")
    res = run(doc)
    providers = [p["id"] for p in doc["organisations"]["providers"]]
    deficits = res.positions[res.positions["org"].isin(providers)]
    assert (deficits["surplus"] < 0).all()
    loans = res.flows[res.flows["category"] == "loan"]
    assert set(loans["target"]) == set(providers)
    check_loans_are_repaid(res, doc)


def test_a_single_replication_of_every_mechanism():
    """One replication (R = 1) through every mechanism, rational acceptance among them."""
    doc = example("ics_control_totals_2018.yaml")
    doc["control_totals"]["acceptance"].update(rule="rational", pilot_replications=10)
    res = run(doc, replications=1)
    assert res.replications == 1 and set(res.positions["replication"]) == {0}


def test_a_single_year_is_the_shortest_run():
    """The calendar counts whole financial years: one year runs; none, or a part of a year,
    is a ScenarioError naming the field."""
    doc = example("two_systems.yaml")
    doc["scenario"]["years"] = 1
    doc.pop("variants")
    assert run(doc, replications=1).years == ["2017/18"]
    doc["scenario"]["years"] = 0
    p = refused(doc)
    assert p.path == "scenario.years" and "expected a number >= 1" in p.message
    doc["scenario"].update(years=1, months=6)
    p = refused(doc)
    assert p.path == "scenario.months" and "unknown key 'months'" in p.message


# -- regressions found by fuzzing -----------------------------------------------------------------


def test_a_transfer_from_more_bodies_than_it_pays_records_each_receipt():
    """A transfer from three bodies to two records, for each recipient, what it received (it
    crashed when the numbers of sources and recipients differed)."""
    doc = example("saffs_2001.yaml")
    swap = next(t for t in doc["transfers"] if t["id"] == "saff_capital_swap")
    swap["from"] = ["eastern_ha", "london_ha", "se_ha"]
    swap["to"] = ["ny_ha", "trent_ha"]
    res = run(doc, replications=1)
    receipts = res.events[
        (res.events["event"] == "transfer") & (res.events["detail"] == swap["id"])
    ]
    assert sorted(receipts["org"]) == ["ny_ha", "trent_ha"]
    assert receipts["amount"].sum() == pytest.approx(swap["amount"])


def test_a_dispute_decided_in_march_is_settled_at_the_year_end():
    """A dispute decided in M12 is settled after that year end's reconciliation fixes the sum
    withheld (it read the sum before it existed)."""
    doc = example("kent_dispute_2017.yaml")
    doc["disputes"].update(
        review_month=11,
        negotiation={"months": 0},
        mediation={"months": 0},
        expert_determination={"months": 1, "provider_wins": 1.0},
    )
    res = run(doc, replications=2)
    settled = res.table("disputes_settled")
    assert len(settled) and (settled["decided_month"] % 12 == 11).all()
    check_withheld_money_is_never_lost(res, doc)


def test_a_dispute_settled_before_the_run_ends_is_paid_though_the_next_stage_is_not_reached():
    """A dispute settled in mediation is paid even when expert determination, which it no
    longer needs, would run past the end of the run (the settlement was lost)."""
    doc = example("kent_dispute_2017.yaml")
    doc["activity"]["case_mix"]["ekhuft"]["2019/20"] = 0.035  # coding drifts again: disputed
    doc["disputes"].update(
        negotiation={"months": 1, "settle_chance": 0.0},
        mediation={"months": 1, "settle_chance": 1.0, "settle_share": 0.5},
        expert_determination={"months": 12, "provider_wins": 1.0},
    )
    res = run(doc, replications=2)
    challenged = res.table("disputes").query("challenged == 1")
    assert set(challenged["fy"]) == {"2017/18", "2019/20"}
    settled = res.table("disputes_settled")
    assert len(settled) == len(challenged) and (settled["provider_share"] == 0.5).all()
    paid = res.flows.query("category == 'dispute_settlement'")
    assert (paid["fy"] == "2019/20").any()
    check_withheld_money_is_never_lost(res, doc)


@pytest.mark.parametrize("what", ["transfer", "dispute review"])
def test_the_first_month_of_the_run_is_reachable(what):
    """A transfer dated M1 of the first year, or disputes reviewed in M1, act in that month."""
    doc = example("kent_dispute_2017.yaml")
    if what == "transfer":
        doc["transfers"] = [
            {"id": "april", "at": {"fy": "2017/18", "month": 1}, "from": "nhse",
             "to": "thanet_ccg", "amount": 1.0}
        ]  # fmt: skip
    else:
        doc["disputes"]["review_month"] = 1
    res = run(doc, replications=1)
    if what == "transfer":
        acted = res.events.query("event == 'transfer' and detail == 'april'")
    else:
        acted = res.table("disputes")
    first = acted.query("fy == '2017/18'")
    assert len(first) and (first["month"] == 1).all()


@fuzz_settings(normal=5, fuzz=50)
@given(doc=full_economies(max_years=2), growth=st.sampled_from([-1.0, -0.5, 0.0, 0.5]))
def test_extreme_settings_with_every_mechanism(doc, growth):
    """Every mechanism on, at the edges at once: growth from -100% to +50%, zero costs,
    every provider's costs doubled, a single replication."""
    doc["allocations"]["uplift"] = growth
    doc["activity"]["growth"] = growth
    doc["costs"]["inflation"] = growth
    for costs in doc["costs"]["providers"].values():
        costs["fixed"] *= 2
    try:
        scenario = finsim.Scenario.from_dict(doc)
        res = finsim.run(scenario, replications=1, seed=1)
    except finsim.ScenarioError as exc:  # (a pace of change that cannot be met)
        assert exc.problems and all(p.path for p in exc.problems)
        return
    check_money_is_conserved(res, 1, doc["scenario"]["years"])
    check_loans_are_repaid(res, doc)
    check_withheld_money_is_never_lost(res, doc)


# -- per-year parameters that start after the scenario (issue 14, item 10) --------------------


@pytest.mark.parametrize("name", ["two_systems.yaml", "kent_dispute_2017.yaml"])
def test_a_start_before_the_first_year_of_a_growth_rate_is_a_scenario_error(name):
    """A scenario starting years before the first year its tariff's cost uplift and efficiency
    give (start: 2010/11 with values from 2017/18) is a problem naming the field, not a
    KeyError from the tariff's check."""
    doc = example(name)
    doc["scenario"]["start"] = "2010/11"
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(doc)
    found = {p.path: p.message for p in info.value.problems}
    assert "no value for 2011/12" in found["tariff.cost_uplift"], str(info.value)
