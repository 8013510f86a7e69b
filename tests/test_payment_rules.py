"""Money as the NHS books it (issue 16): income accrued every month at each contract's rules,
payment rules by year (marginal rate on a fixed base-year baseline, blended 2019/20, API),
CQUIN on actual value, and the Q4 incentive test on the outturn. Each figure by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import finsim

from .test_contracts import economy

ROOT = Path(__file__).resolve().parents[1]
PLAN = {"elective": 1000.0, "non_elective": 5000.0}
PLAN_VALUE = (1000 * 3000 + 5000 * 2000) / 1e6  # 13.0


def scenario(contract, activity=None, tariff=None, start="2018/19", years=1, **sections):
    """One CCG, one trust, one contract (tests/test_contracts.py's economy)."""
    return economy(contract, activity, tariff, years=years, start=start, **sections)


def received(res, category="contract_payment", fy=None, target="p") -> float:
    """Mean over replications of what ``target`` received in ``category`` (in ``fy``)."""
    flows = res.flows
    sel = flows[(flows["category"] == category) & (flows["target"] == target)]
    if fy is not None:
        sel = sel[sel["fy"] == fy]
    return float(sel["amount"].sum()) / res.replications


def test_a_trust_at_110_percent_of_plan_accrues_its_income_month_by_month():
    """Plan 13.0 at tariff, activity 110% of plan, no seasonality: outturn income 14.3, so the
    trust's year-to-date surplus is 14.3 x m / 12 at every month end (7.15 at M6), and its
    CCG's mirrors it (-7.15 at M6): no jump at M12."""
    res = finsim.run(scenario({"plan": PLAN}, {"level": 1.1}), replications=2, keep_monthly=True)
    monthly = res.monthly.pivot_table(index="month", columns="org", values="surplus_ytd")
    months = np.arange(1, 13)
    np.testing.assert_allclose(monthly["p"], 14.3 * months / 12, rtol=1e-12)
    np.testing.assert_allclose(monthly["c"], -14.3 * months / 12, rtol=1e-12)
    assert monthly.loc[6, "p"] == pytest.approx(7.15)


def test_accruals_follow_the_plans_seasonal_profile():
    """With seasonality [2, 1 x 10, 0] (average 1 already: April twice a month's share, March
    none) and activity on plan, each month accrues exactly the activity done: the year to date
    at M1 is 13.0 x 2 / 12 = 2.1667, and at M11 the full 13.0 (11 + 1 twelfths)."""
    season = [2.0] + [1.0] * 10 + [0.0]
    res = finsim.run(
        scenario({"plan": PLAN}, {"seasonality": season}), replications=1, keep_monthly=True
    )
    p = res.monthly[res.monthly["org"] == "p"].set_index("month")["surplus_ytd"]
    assert p[1] == pytest.approx(13.0 * 2 / 12) and p[11] == pytest.approx(13.0)
    assert p[12] == pytest.approx(13.0)


def test_the_marginal_rate_baseline_is_fixed_in_the_base_year_and_grows_with_tariff_only():
    """Baseline 1,000 spells in 2018/19 at GBP 2,000; tariff +1% a year for two years; activity
    grows to 1,300 spells in 2020/21; marginal rate 70%. 2020/21 price 2,000 x 1.01^2 =
    2,040.2; paid (1,000 + 0.7 x 300) x 2,040.2 = GBP 2.468642m; the commissioner keeps
    0.3 x 300 x 2,040.2 = 0.183618. With the baseline grown with the plan (the old rule) all
    1,300 are at or below it: 2.65226."""
    growth = 1.3**0.5 - 1
    tariff = {"cost_uplift": 0.01, "emergency_marginal_rate": {"rate": 0.7}}
    contract = {"plan": {"non_elective": 1000.0}}
    fixed = finsim.run(
        scenario(contract, {"growth": growth}, tariff, years=3), replications=1, keep_tables=True
    )
    assert received(fixed, fy="2020/21") == pytest.approx(2.468642, abs=1e-9)
    table = fixed.table("contracts").set_index("fy")
    assert table.loc["2020/21", "retained"] == pytest.approx(0.183618, abs=1e-9)
    grown = {**tariff, "emergency_marginal_rate": {"rate": 0.7, "baseline": "plan"}}
    old = finsim.run(scenario(contract, {"growth": growth}, grown, years=3), replications=1)
    assert received(old, fy="2020/21") == pytest.approx(2.65226, abs=1e-9)


def test_the_retained_marginal_price_is_reinvested_when_the_tariff_says():
    """Reinvesting all of the retained 0.183618 with the provider: the trust gets it back as
    mret_reinvestment and the CCG's cost is the full 2.65226."""
    tariff = {
        "cost_uplift": 0.01,
        "emergency_marginal_rate": {"rate": 0.7, "reinvested": 1.0},
    }
    res = finsim.run(
        scenario({"plan": {"non_elective": 1000.0}}, {"growth": 1.3**0.5 - 1}, tariff, years=3),
        replications=1,
    )
    assert received(res, "mret_reinvestment", "2020/21") == pytest.approx(0.183618, abs=1e-9)
    ccg = res.positions.query("org == 'c' and fy == '2020/21'")["expenditure"].iloc[0]
    assert ccg == pytest.approx(2.65226, abs=1e-9)


def test_the_2019_20_blended_payment_varies_emergency_care_only():
    """Blended, 20% variable, activity 110% of plan: elective at tariff 1,100 x 3,000 = 3.3;
    emergency fixed 5,000 x 2,000 = 10.0 plus 20% of the 1.0 above plan = 10.2; total 13.5."""
    res = finsim.run(
        scenario({"type": "blended", "plan": PLAN}, {"level": 1.1}, start="2019/20"),
        replications=1,
    )
    assert received(res) == pytest.approx(13.5)


def test_api_2022_23_pays_75_percent_of_price_off_the_elective_target():
    """API 2022/23: fixed element = plan 1,040 elective x 3,000 + 5,000 emergency x 2,000 =
    13.12; target 104% of the 1,000 base-year electives = 1,040, valued at 3.12; activity 110%
    of it = 1,144 electives, 3.432: variable 75% x (3.432 - 3.12) = 0.234. Paid 13.354
    (emergency at 110% changes nothing: it is in the fixed element)."""
    contract = {
        "type": "api",
        "plan": {"elective": 1040.0, "non_elective": 5000.0},
        "target_base": {"elective": 1000.0},
        "target_share": 1.04,
        "variable_rate": 0.75,
    }
    res = finsim.run(scenario(contract, {"level": 1.1}, start="2022/23"), replications=1)
    assert received(res) == pytest.approx(13.354)
    # 2023/24: elective at 100% of price (ERF): 13.12 + 1.0 x 0.312 = 13.432
    contract["variable_rate"] = {"2022/23": 0.75, "2023/24": 1.0}
    res = finsim.run(scenario(contract, {"level": 1.1}, start="2022/23", years=2), replications=1)
    # 2023/24: the same plan and target (no growth or uplift given)
    assert received(res, fy="2023/24") == pytest.approx(13.432)


def test_cquin_is_a_share_of_the_actual_contract_value_not_the_plan():
    """CQUIN 2.5% at 80% achievement, activity 110% of a 13.0 plan: on actual value
    0.025 x 0.8 x 14.3 = 0.286; on the plan (base: plan) 0.025 x 0.8 x 13.0 = 0.26."""
    actual = scenario({"plan": PLAN}, {"level": 1.1}, cquin={"share": 0.025, "achievement": 0.8})
    assert received(finsim.run(actual, replications=1), "cquin") == pytest.approx(0.286)
    plan = scenario(
        {"plan": PLAN}, {"level": 1.1}, cquin={"share": 0.025, "achievement": 0.8, "base": "plan"}
    )
    assert received(finsim.run(plan, replications=1), "cquin") == pytest.approx(0.26)


def test_the_q4_verdict_equals_the_full_year_verdict_in_every_replication():
    """All of the fund in Q4, on finance alone: an acceptor is paid in Q4 if and only if its
    full-year surplus before incentives meets its control total (200 replications)."""
    base = finsim.load_scenario(ROOT / "examples" / "ics_control_totals_2018.yaml")
    data = base.to_data()
    data["incentives"].update(
        phasing=[0.0, 0.0, 0.0, 1.0], finance_share=1.0, system_share=0.0, unearned=[]
    )
    data["control_totals"]["acceptance"] = {"rule": "always"}
    res = finsim.run(finsim.Scenario.from_dict(data), replications=200, seed=11)
    pos = res.positions
    funded = [org for org, amount in data["incentives"]["allocation"].items() if amount > 0]
    acceptors = pos[pos["accepted_control_total"].fillna(False).astype(bool)]
    acceptors = acceptors[acceptors["org"].isin(funded)]
    paid = acceptors["incentive_earned"] > 1e-9
    met = acceptors["met_control_total"].astype(bool)
    assert len(acceptors) == 200 * len(funded) and 0 < met.mean() < 1  # both verdicts occur
    pd.testing.assert_series_equal(paid, met, check_names=False)


def test_contract_settings_of_another_type_or_unknown_pods_are_clear_errors():
    """A variable rate on an activity contract, a target on a blended one and an unknown
    point of delivery in variable_pods are each an error naming the field."""
    with pytest.raises(finsim.ScenarioError) as caught:
        scenario({"plan": PLAN, "variable_rate": 0.2})
    assert "contracts[0].variable_rate" in str(caught.value)
    with pytest.raises(finsim.ScenarioError) as caught:
        scenario({"type": "blended", "plan": PLAN, "target_share": 1.04})
    assert "contracts[0].target_share" in str(caught.value)
    with pytest.raises(finsim.ScenarioError) as caught:
        scenario({"type": "api", "plan": PLAN, "variable_pods": ["electiv"]})
    assert "contracts[0].variable_pods[0]" in str(caught.value) and "elective" in str(caught.value)


def test_cash_is_paid_on_account_and_settled_at_year_end_beside_the_accruals():
    """Plan 13.0, activity 110%: the commissioner pays 13.0 / 12 a month on account, so at M6
    the trust has 6.5 in cash against 7.15 accrued (0.65 owed to it, which its CCG owes); the
    year-end settlement of 14.3 - 13.0 = 1.3 brings cash level with the accruals."""
    res = finsim.run(
        scenario({"plan": PLAN}, {"level": 1.1}),
        replications=2,
        keep_monthly=True,
        keep_tables=True,
    )
    monthly = res.monthly.pivot_table(index="month", columns="org", values="cash")
    assert monthly.loc[6, "p"] == pytest.approx(6.5) and monthly.loc[6, "c"] == pytest.approx(-6.5)
    assert monthly.loc[12, "p"] == pytest.approx(14.3)
    balances = res.table("balances").set_index(["replication", "month"])
    assert set(balances.index.get_level_values("month")) == {6, 9, 12}  # agreement months
    assert balances.loc[(0, 6), "receivable"] == pytest.approx(0.65)
    assert balances.loc[(0, 6), "payable"] == pytest.approx(0.65)
    assert balances.loc[(0, 12), "receivable"] == pytest.approx(0.0, abs=1e-12)
    assert (balances["mismatch"].abs() < 1e-12).all()  # no dispute: the two sides agree
    contracts = res.table("contracts")
    assert contracts["reconciliation"].to_numpy() == pytest.approx(1.3)


DISPUTE = {
    "review_month": 10,
    "threshold": 0.01,
    "negotiation": {"months": 1, "settle_chance": 0.0, "settle_share": 0.4},
    "mediation": {"months": 1, "settle_chance": 0.0, "settle_share": 0.6},
    "expert_determination": {"months": 2, "provider_wins": 1.0},
}


def test_a_disputed_sum_is_a_mismatch_in_the_balances_until_it_is_decided():
    """Coding drift of 5% on a 13.0 plan at plan activity: the trust bills 13.65, its CCG
    challenges in M10 (after the month's accrual) and accepts 13.0. From M11 the two sides
    differ by the coding billed to date (0.65 x 11/12 at M11); at year end the 0.65 is
    withheld and stays a mismatch (the trust's receivable, not the CCG's payable) until the
    expert decides, in 2019/20: then the sides agree again."""
    res = finsim.run(
        scenario(
            {"plan": PLAN},
            {"case_mix": {"p": {"2018/19": 0.05, "2019/20": 0.0}}},
            years=2,
            disputes=DISPUTE,
        ),
        replications=1,
        keep_tables=True,
    )
    b = res.table("balances").set_index(["fy", "month"])["mismatch"]
    # every contract at months 6, 9 and 12 (the agreement of balances); in other months only
    # the contracts whose two sides disagree: none before the challenge
    assert b[("2018/19", 9)] == pytest.approx(0.0, abs=1e-12)
    assert ("2018/19", 10) not in b.index
    assert b[("2018/19", 11)] == pytest.approx(0.65 * 11 / 12)
    assert b[("2018/19", 12)] == pytest.approx(0.65)
    assert b[("2019/20", 1)] == pytest.approx(0.65)
    decided = int(res.table("disputes_settled")["decided_month"].iloc[0])  # months from the start
    assert 12 <= decided < 24
    month = decided - 12 + 1  # decided in this month's settlement, after its balances
    later = b.loc["2019/20"]
    assert (later[later.index > month].abs() < 1e-12).all()
    assert (later[later.index <= month].abs() > 0.6).all()
    assert set(later.index) == {*range(1, month + 1), 6, 9, 12}
