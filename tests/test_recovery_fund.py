"""The Financial Recovery Fund (2019/20, planned 2020/21), its extra efficiency, and money
moved into prices (the tariff's into_prices)."""

from __future__ import annotations

import numpy as np
import pytest

import finsim


def economy(cost_b: float = 102.5, ct_b: float = -3.0, **fund) -> dict:
    """One system: a CCG paying GBP 100m blocks to trust a (cost 98: +2.0) and trust b (cost
    ``cost_b``: 100 - cost_b), control totals a +1.0, b ``ct_b``, CCG 0 (system -2.0)."""
    return {
        "scenario": {"name": "frf", "start": "2019/20", "years": 1},
        "organisations": {
            "regions": [{"id": "r"}],
            "systems": [{"id": "s", "region": "r"}],
            "commissioners": [{"id": "c", "system": "s"}],
            "providers": [{"id": "a", "system": "s"}, {"id": "b", "system": "s"}],
        },
        "allocations": {"opening": {"c": 200.0}},
        "tariff": {"prices": {"elective": 1000.0}},
        "contracts": [
            {"id": "ka", "commissioner": "c", "provider": "a", "type": "block", "value": 100.0},
            {"id": "kb", "commissioner": "c", "provider": "b", "type": "block", "value": 100.0},
        ],
        "costs": {"providers": {"a": {"fixed": 98.0}, "b": {"fixed": cost_b}}},
        "control_totals": {"organisations": {"a": 1.0, "b": ct_b, "c": 0.0}},
        "recovery_fund": {"fund": 10.0, **fund},
    }


def run(doc: dict, replications: int = 1, **options):
    return finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=1, **options)


def surplus(res, org: str) -> float:
    return float(res.positions.set_index("org").loc[org, "surplus"])


def test_a_deficit_trust_meeting_its_total_earns_its_deficit_and_keeps_its_efficiency():
    """Trust b (total -3.0) is allocated its deficit, 3.0 of the fund's 10 (the rest stays
    central); its 0.5% extra efficiency on a 102.5 cost base saves 0.5125, so before the
    fund it runs -2.5 + 0.5125 = -1.9875, meets -3.0 every quarter and earns all 3.0:
    surplus 1.0125. Trust a, in surplus, gets nothing."""
    res = run(economy(extra_efficiency=0.005))
    year = res.table("recovery_fund").set_index("org")
    assert list(year.index) == ["b"]
    assert year.loc["b", "allocation"] == pytest.approx(3.0)
    assert year.loc["b", "earned"] == pytest.approx(3.0)
    assert year.loc["b", "surplus_before_incentives"] == pytest.approx(-1.9875)
    quarters = res.table("recovery_fund_quarters")["paid"].to_numpy()
    np.testing.assert_allclose(quarters, [0.45, 0.60, 0.90, 1.05])  # 15/20/30/35% of 3.0
    assert surplus(res, "b") == pytest.approx(1.0125)
    assert surplus(res, "a") == pytest.approx(2.0)
    assert surplus(res, "centre") == pytest.approx(7.0)
    saving = res.table("recovery_efficiency").set_index("org")
    assert saving.loc["b", "delivered"] == pytest.approx(0.5125)


def test_the_fund_is_shared_pro_rata_to_deficits_when_it_is_smaller():
    """Deficits of 3.0 (b) and 1.0 (the CCG's, ignored: the FRF is for trusts) against a fund
    of 2.0: b alone is eligible, allocated min(3.0, 2.0 x 3/3) = 2.0; with a second deficit
    trust of 1.0 the fund splits 1.5 / 0.5."""
    doc = economy(fund=2.0)
    doc["control_totals"]["organisations"]["c"] = -1.0
    year = run(doc).table("recovery_fund").set_index("org")
    assert year.loc["b", "allocation"] == pytest.approx(2.0)
    doc["control_totals"]["organisations"]["a"] = -1.0
    year = run(doc).table("recovery_fund").set_index("org")
    assert year.loc["b", "allocation"] == pytest.approx(1.5)
    assert year.loc["a", "allocation"] == pytest.approx(0.5)


def test_a_trust_missing_its_total_earns_nothing_and_the_money_stays_central():
    """Trust b at -4.0 against -3.0 fails every quarter: nothing paid, the centre keeps 10."""
    res = run(economy(cost_b=104.0))
    assert res.table("recovery_fund")["earned"].sum() == 0.0
    assert surplus(res, "b") == pytest.approx(-4.0)
    assert surplus(res, "centre") == pytest.approx(10.0)


def test_the_2020_21_plan_ties_half_to_the_system_and_pays_early_in_the_quarter():
    """Trust b runs -3.5 against -3.0 (misses its own); the system runs 0 + 2.0 - 3.5 = -1.5
    against -2.0 (meets). Half on each: Q1 is paid in April on acceptance alone (0.75 of
    3.0 phased equally); Q2-Q4 in July, October, January on the last quarter end's tests,
    half earned: 0.375 each. 1.875 in all."""
    doc = economy(
        cost_b=103.5,
        fund=3.0,
        system_share={"2020/21": 0.5},
        phasing={"2020/21": [0.25, 0.25, 0.25, 0.25]},
        timing={"2020/21": "advance"},
    )
    doc["scenario"]["start"] = "2020/21"
    res = run(doc, keep_journal=True)
    j = res.journal
    paid = j[j["category"] == "frf_payment"].groupby("posted_month")["amount"].sum()
    assert list(paid.index) == [1, 4, 7, 10]
    np.testing.assert_allclose(paid.to_numpy(), [0.75, 0.375, 0.375, 0.375])
    assert surplus(res, "b") == pytest.approx(-3.5 + 1.875)


def test_each_fund_tests_control_totals_before_the_other_funds_money():
    """With a PSF of 10 for b (70% finance, performance always met) b's quarterly PSF would
    lift it above its -3.0 total; tested before all incentive money (-3.2) it fails both
    funds' finance tests: PSF 3.0 (performance only), FRF nothing."""
    doc = economy(cost_b=103.2)
    doc["incentives"] = {
        "fund": 10.0,
        "allocation": {"b": 10.0},
        "finance_share": 0.7,
        "performance_chance": 1.0,
    }
    res = run(doc)
    assert res.table("recovery_fund")["earned"].sum() == 0.0
    assert res.table("incentives").set_index("org").loc["b", "earned"] == pytest.approx(3.0)
    pos = res.positions.set_index("org")
    assert pos.loc["b", "surplus_before_incentives"] == pytest.approx(-3.2)
    assert pos.loc["b", "incentive_earned"] == pytest.approx(3.0)


def test_the_efficiency_draws_do_not_depend_on_chunking():
    """Uncertain delivery of the extra efficiency: the same replications whatever the chunks."""
    doc = economy(extra_efficiency=0.005, efficiency_delivery={"mean": 0.7, "sd": 0.2})
    whole = run(doc, replications=6).table("recovery_efficiency")
    split = run(doc, replications=6, chunk_size=2).table("recovery_efficiency")
    np.testing.assert_array_equal(whole["delivered"].to_numpy(), split["delivered"].to_numpy())
    assert whole["delivered"].std() > 0


def test_a_commissioner_in_the_frf_allocation_is_one_clear_error():
    """The FRF is for trusts: a CCG in its allocation is named by its field path."""
    doc = economy(allocation={"c": 1.0})
    with pytest.raises(finsim.ScenarioError, match=r"recovery_fund\.allocation\.c"):
        finsim.Scenario.from_dict(doc)


def test_money_moved_into_prices_raises_them_by_the_share_it_adds_at_plan():
    """1,000 planned non-elective units at GBP 1,000 and a market forces factor of 1.1 are
    worth 1.1m at tariff (the block contract is not priced); moving 0.11m into the price
    raises it 10%, to 1,100: the activity contract pays 1.21m."""
    doc = economy()
    doc["organisations"]["providers"][0]["market_forces_factor"] = 1.1
    doc["tariff"] = {
        "prices": {"elective": 1000.0, "non_elective": 1000.0},
        "into_prices": [{"pods": ["non_elective"], "amount": {"2019/20": 0.11}}],
    }
    doc["contracts"].append(
        {"id": "kn", "commissioner": "c", "provider": "a", "plan": {"non_elective": 1000}}
    )
    del doc["recovery_fund"]
    flows = run(doc).flows
    paid = flows[(flows["category"] == "contract_payment") & (flows["target"] == "a")]
    assert paid["amount"].sum() == pytest.approx(100.0 + 1.21)


def test_money_moved_into_prices_in_a_year_outside_the_run_is_one_clear_error():
    """A move dated 2020/21 in a 2019/20 run would move nothing: refused, by its path."""
    doc = economy()
    doc["tariff"]["into_prices"] = [{"pods": ["elective"], "amount": {"2020/21": 5.0}}]
    with pytest.raises(finsim.ScenarioError, match=r"tariff\.into_prices\[0\]\.amount"):
        finsim.Scenario.from_dict(doc)


def test_under_the_policy_the_frf_is_2019_20s_and_none_in_2020_21():
    """provider_funds.frf.size: GBP 1,050m in 2019/20 (T9, F18; S), suspended with the Covid
    regime in 2020/21 (S): at scale 0.01 an empty recovery_fund section takes 10.5, then 0
    (not the pre-Covid plan's GBP 2bn, which never ran)."""
    doc = economy()
    doc["scenario"]["years"] = 2
    doc["recovery_fund"] = {}
    doc["tariff"].update(cost_uplift=0.0, efficiency=0.0)  # (2020/21's are not known: U)
    doc["policy"] = {"name": "england", "unconfirmed": "use", "scale": 0.01}
    sc = finsim.Scenario.from_dict(doc)
    assert sc.model.recovery_fund.fund.to_data() == {"2019/20": 10.5, "2020/21": 0.0}
    assert sc.model.recovery_fund.extra_efficiency.to_data() == {"2019/20": 0.005, "2020/21": 0.0}
