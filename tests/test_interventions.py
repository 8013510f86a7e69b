"""Regional interventions, savings programmes, risk share, capital and who subsidises whom."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

import finsim

MIDLANDS = Path(__file__).resolve().parents[1] / "examples" / "regional_control_total_2019.yaml"


@pytest.fixture(scope="module")
def midlands_doc() -> dict:
    return finsim.load_scenario(MIDLANDS).to_data()


def run(doc: dict, replications: int = 20, seed: int = 1) -> finsim.Results:
    doc = copy.deepcopy(doc)
    doc.pop("variants", None)
    return finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=seed)


def region_surplus(res: finsim.Results) -> np.ndarray:
    s = res.positions
    return s[s["org"] != "nhsei"].groupby("replication")["surplus"].sum().to_numpy()


def test_midlands_bsol_asked_for_4_6m_moves_to_a_4_6m_surplus(midlands_doc):
    """Seed: Birmingham and Solihull CCG is asked for an extra GBP 4.6m and targets a GBP 4.6m surplus."""
    res = run(midlands_doc, replications=1)
    bsol = res.positions.set_index("org").loc["bsol_ccg"]
    assert bsol["control_total"] == pytest.approx(4.6)
    assert bsol["surplus"] == pytest.approx(4.6)
    asked = res.events[
        (res.events["event"] == "extra_surplus_asked") & (res.events["org"] == "bsol_ccg")
    ]
    assert asked["amount"].tolist() == pytest.approx([4.6])
    assert asked["month"].tolist() == [3]


def test_extra_surplus_with_certain_delivery_closes_the_regional_gap(midlands_doc):
    """The region forecasting -37 against a -15 total asks for 22 and, delivered, meets its total exactly."""
    res = run(midlands_doc, replications=5)
    assert np.allclose(region_surplus(res), -15.0)
    summary = res.summary()
    assert summary[summary["level"] == "region"]["p_met_control_total"].tolist() == [1.0]


def test_top_slice_conserves_money_and_closes_the_gap(midlands_doc):
    """A top slice moves money from commissioners to the region; money balances; the gap closes."""
    doc = copy.deepcopy(midlands_doc)
    doc["interventions"] = {"months": [3], "order": ["top_slice"], "top_slice": {"share": 0.01}}
    res = run(doc, replications=3)
    flows = res.flows
    top = flows[flows["category"] == "top_slice"]
    assert set(top["target"]) == {"midlands"} and (top["recurrence"] == "non_recurrent").all()
    assert top.groupby("replication")["amount"].sum().to_numpy() == pytest.approx(22.0)
    assert np.allclose(region_surplus(res), -15.0)
    outside = flows[
        flows["source"].isin(["treasury", "external"])
        ^ flows["target"].isin(["treasury", "external"])
    ]
    net_in = outside.assign(
        signed=np.where(outside["source"].isin(["treasury", "external"]), 1, -1) * outside["amount"]
    )
    assert np.allclose(
        net_in.groupby("replication")["signed"].sum().to_numpy(),
        res.positions.groupby("replication")["surplus"].sum().to_numpy(),
    )


def test_top_slice_is_capped_by_its_share(midlands_doc):
    """A top slice of at most 0.1% cannot close a GBP 22m gap: it takes only its cap."""
    doc = copy.deepcopy(midlands_doc)
    doc["interventions"] = {"months": [3], "order": ["top_slice"], "top_slice": {"share": 0.001}}
    res = run(doc, replications=1)
    taken = res.flows[res.flows["category"] == "top_slice"]["amount"].sum()
    allocations = sum(doc["allocations"]["opening"].values())
    assert taken == pytest.approx(0.001 * allocations * 9 / 12)
    assert region_surplus(res)[0] < -15.0


def test_rapid_savings_with_uncertain_delivery_may_fall_short(midlands_doc):
    """Rapid savings delivered at 60% on average leave the region short in most replications."""
    doc = copy.deepcopy(midlands_doc)
    doc["interventions"] = {
        "months": [3],
        "order": ["rapid_savings"],
        "rapid_savings": {"delivery": {"mean": 0.6, "sd": 0.2}},
    }
    res = run(doc, replications=200)
    surplus = region_surplus(res)
    assert surplus.std() > 0.5 and (surplus < -15.0).mean() > 0.8


def test_loans_are_repaid_on_schedule(midlands_doc):
    """Loans to providers forecast to miss their totals are repaid in thirds at the ends of the next three years."""
    doc = copy.deepcopy(midlands_doc)
    doc["scenario"]["years"] = 4
    doc["interventions"] = {"months": [3], "order": ["loans"], "loans": {"repay_years": 3}}
    flows = run(doc, replications=1).flows
    years = ["2019/20", "2020/21", "2021/22", "2022/23"]
    lent = (
        flows[flows["category"] == "loan"]
        .pivot_table(index="fy", columns="target", values="amount", aggfunc="sum")
        .reindex(years)
    )
    assert set(lent.columns) == {"worcestershire_acute", "sath"}  # the two forecast to miss
    assert (flows[flows["category"].isin(["loan", "loan_repayment"])]["kind"] == "capital").all()
    repaid = (
        flows[flows["category"] == "loan_repayment"]
        .pivot_table(index="fy", columns="source", values="amount", aggfunc="sum")
        .reindex(years)
        .fillna(0.0)
    )
    for k, fy in enumerate(years):
        due = sum(lent.iloc[y] / 3 for y in range(len(years)) if 0 < k - y <= 3)
        assert np.allclose(repaid.loc[fy, lent.columns], due if k else 0.0)


def test_subsidies_show_deprived_areas_subsidising_less_deprived_ones(midlands_doc):
    """Who pays: the bodies in the most deprived quintile give; the least deprived give nothing."""
    subsidies = run(midlands_doc, replications=2).subsidies()
    by_quintile = subsidies.groupby("deprivation_quintile")["net_received"].sum()
    assert by_quintile[1] < 0 and by_quintile[4] == pytest.approx(0.0)
    assert subsidies.set_index("org").loc["bsol_ccg", "extra_surplus"] == pytest.approx(-4.6)


def _two_providers(**sections) -> dict:
    return {
        "scenario": {"name": "t", "start": "2018/19", "years": 2},
        "organisations": {
            "regions": [{"id": "r", "name": "R"}],
            "systems": [{"id": "s", "region": "r"}],
            "providers": [{"id": "a", "system": "s"}, {"id": "b", "system": "s"}],
        },
        "costs": {
            "providers": {
                "a": {"fixed": 100.0, "other_income": 100.0},
                "b": {"fixed": 50.0, "other_income": 50.0},
            }
        },
        **sections,
    }


def test_recurrent_savings_carry_and_non_recurrent_do_not():
    """A 2% CIP, 60% recurrent, fully delivered: year 1 saves 2% of costs; year 2 keeps the recurrent 1.2%."""
    doc = _two_providers(
        savings={
            "programmes": [
                {
                    "id": "cip",
                    "who": ["a"],
                    "share_of_costs": {"2018/19": 0.02, "2019/20": 0.0},
                    "recurrent_share": 0.6,
                }
            ]
        }
    )
    pos = run(doc, replications=1).positions.set_index(["fy", "org"])
    assert pos.loc[("2018/19", "a"), "surplus"] == pytest.approx(2.0)
    assert pos.loc[("2018/19", "a"), "underlying_surplus"] == pytest.approx(1.2)
    assert pos.loc[("2019/20", "a"), "surplus"] == pytest.approx(1.2)
    assert pos.loc[("2019/20", "a"), "underlying_surplus"] == pytest.approx(1.2)


def test_unmet_savings_show_in_the_position():
    """Delivery at a random rate: the shortfall is the plan less what was delivered, and the surplus shows it."""
    doc = _two_providers(
        savings={
            "programmes": [
                {
                    "id": "cip",
                    "who": "providers",
                    "share_of_costs": 0.04,
                    "delivery": {"mean": 0.7, "sd": 0.1},
                }
            ]
        }
    )
    res = run(doc, replications=100)
    table = res.table("savings")
    first = table[table["fy"] == "2018/19"]
    assert (first["shortfall"] > 0).all()
    assert first["delivered"].mean() / first["planned"].mean() == pytest.approx(0.7, abs=0.03)
    pos = res.positions[
        (res.positions["fy"] == "2018/19") & (res.positions["org"] == "a")
    ].set_index("replication")["surplus"]
    got = first[first["org"] == "a"].set_index("replication")["delivered"]
    assert np.allclose(pos.loc[got.index], got)


def test_risk_share_pools_variances_and_conserves_the_system_total():
    """After the risk share each member holds its share of the pooled variance; the system total is unchanged."""
    doc = _two_providers(
        control_totals={"organisations": {"a": 0.0, "b": 0.0}},
        risk_share=[{"system": "s", "shares": {"a": 0.5, "b": 0.5}}],
    )
    doc["costs"]["providers"]["a"]["other_income"] = 104.0  # a: +4
    before = run(
        {k: v for k, v in doc.items() if k != "risk_share"}, replications=1
    ).positions.set_index(["fy", "org"])
    after = run(doc, replications=1).positions.set_index(["fy", "org"])
    assert after.loc[("2018/19", "a"), "surplus"] == pytest.approx(2.0)
    assert after.loc[("2018/19", "b"), "surplus"] == pytest.approx(2.0)
    total = lambda p: p.loc["2018/19"]["surplus"].sum()  # noqa: E731
    assert total(after) == pytest.approx(total(before))


def test_capital_bids_are_funded_by_score_within_the_envelope():
    """With GBP 10m: bids of 6 (score 9), 5 (score 8) and 4 (score 7): the 6 and the 4 are funded."""
    doc = _two_providers(
        capital={
            "envelope": 10.0,
            "bids": [
                {"id": "x", "provider": "a", "fy": "2018/19", "amount": 6.0, "score": 9},
                {"id": "y", "provider": "b", "fy": "2018/19", "amount": 5.0, "score": 8},
                {"id": "z", "provider": "b", "fy": "2018/19", "amount": 4.0, "score": 7},
            ],
        }
    )
    res = run(doc, replications=1)
    funded = res.table("capital").set_index("bid")["funded"]
    assert funded.to_dict() == {"x": 1.0, "y": 0.0, "z": 1.0}
    capital = res.positions.set_index(["fy", "org"])["capital_income"]
    assert capital[("2018/19", "a")] == 6.0 and capital[("2018/19", "b")] == 4.0


def test_repeated_monitoring_does_not_top_slice_twice(midlands_doc):
    """Monitoring in M3, M6 and M9: the top slice taken in M3 counts in later forecasts."""
    doc = copy.deepcopy(midlands_doc)
    doc["interventions"] = {
        "months": [3, 6, 9],
        "order": ["top_slice"],
        "top_slice": {"share": 0.01},
    }
    res = run(doc, replications=2)
    taken = res.flows[res.flows["category"] == "top_slice"].groupby("replication")["amount"].sum()
    assert np.allclose(taken, 22.0)
    assert np.allclose(region_surplus(res), -15.0)


def test_regions_default_to_the_sum_of_their_systems_totals():
    """A region without a set total takes the sum of its systems' totals (set or summed)."""
    from finsim.economy import Economy
    from finsim.mechanisms.control_totals import ControlTotalsConfig, totals

    doc = _two_providers(
        control_totals={"organisations": {"a": 1.0, "b": 2.0}, "systems": {"s": 5.0}}
    )
    sc = finsim.Scenario.from_dict(doc)
    level = totals(
        ControlTotalsConfig.model_validate(doc["control_totals"]), Economy.from_scenario(sc)
    )
    economy = Economy.from_scenario(sc)
    assert level["system"][0, economy.index("s")] == 5.0
    assert level["region"][0, economy.index("r")] == 5.0


def test_extra_surplus_given_is_received_by_the_region(midlands_doc):
    """Who subsidises whom nets to zero across the region: what bodies give, the region receives."""
    summary = run(midlands_doc, replications=1).summary()
    region = summary.query("level == 'region'")["net_subsidy_received_mean"]
    assert np.allclose(region, 0.0, atol=1e-9)
    bsol = summary.query("level == 'org' and name == 'bsol_ccg'")["net_subsidy_received_mean"]
    assert np.allclose(bsol, -4.6)
