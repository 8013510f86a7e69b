"""The Elective Recovery Fund (issue 18): ICBs' allocations, over-target payments within the
national and Q4 caps, the downward adjustment below target (floored, enforced or not), and
what reaches providers. Each figure worked by hand.

The economy: two systems, ICB ``a`` (activity contract ``ka`` with trust ``p``: plan 1,000
electives) and ICB ``b`` (api contract ``kb`` with trust ``q``: plan 1,040 electives, target
104% of a 2019/20 base of 1,000), elective price GBP 3,000, 5,000 emergency spells at 2,000.
Both bases are 3.0 (GBP m), both targets 104%: 3.12.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import finsim
from finsim.mechanisms.erf import icb_positions, incidence, q4_capped


def scenario(
    erf: dict, level: float = 1.1, years: int = 1, split: bool = False, **activity
) -> finsim.Scenario:
    """The economy above; ``split``: ICB a's 1,000 electives from two trusts, p and p2 (in
    s1), 500 each, on contracts ka and ka2."""
    doc: dict = {
        "scenario": {"name": "erf", "start": "2022/23", "years": years},
        "organisations": {
            "regions": [{"id": "r"}],
            "systems": [{"id": "s1", "region": "r"}, {"id": "s2", "region": "r"}],
            "commissioners": [{"id": "a", "system": "s1"}, {"id": "b", "system": "s2"}],
            "providers": [{"id": "p", "system": "s1"}, {"id": "q", "system": "s2"}],
        },
        "tariff": {"prices": {"elective": 3000.0, "non_elective": 2000.0}},
        "contracts": [
            {
                "id": "ka",
                "commissioner": "a",
                "provider": "p",
                "plan": {"elective": 1000.0, "non_elective": 5000.0},
            },
            {
                "id": "kb",
                "commissioner": "b",
                "provider": "q",
                "type": "api",
                "plan": {"elective": 1040.0, "non_elective": 5000.0},
                "target_base": {"elective": 1000.0},
                "target_share": 1.04,
            },
        ],
        "activity": {"level": level, **activity},
        "erf": {"target": 1.04, "variable_rate": 0.75, **erf},
    }
    if split:
        doc["organisations"]["providers"].append({"id": "p2", "system": "s1"})
        doc["contracts"][0]["plan"] = {"elective": 500.0, "non_elective": 2500.0}
        doc["contracts"].append({**doc["contracts"][0], "id": "ka2", "provider": "p2"})
    return finsim.Scenario.from_dict(doc)


def many_icbs(n: int = 16) -> finsim.Scenario:
    """``n`` systems, each one ICB ``i<k>`` with one activity contract of 250 x (k + 1)
    electives at GBP 3,000 with trust ``t<k>``, target 104%; shocks spread them."""
    doc = {
        "scenario": {"name": "erf", "start": "2022/23", "years": 1},
        "organisations": {
            "regions": [{"id": "r"}],
            "systems": [{"id": f"s{k}", "region": "r"} for k in range(n)],
            "commissioners": [{"id": f"i{k}", "system": f"s{k}"} for k in range(n)],
            "providers": [{"id": f"t{k}", "system": f"s{k}"} for k in range(n)],
        },
        "tariff": {"prices": {"elective": 3000.0}},
        "contracts": [
            {
                "id": f"k{k}",
                "commissioner": f"i{k}",
                "provider": f"t{k}",
                "plan": {"elective": 250.0 * (k + 1)},
            }
            for k in range(n)
        ],
        "activity": {"level": 1.04, "shock_sd": 0.1},
        "erf": {"fund": 10.0, "target": 1.04, "cap": 1.045},
    }
    return finsim.Scenario.from_dict(doc)


def run(sc: finsim.Scenario, replications: int = 1, **kw) -> finsim.Results:
    return finsim.run(sc, replications=replications, seed=3, keep_tables=True, **kw)


def flow(res, category: str, target: str | None = None, source: str | None = None) -> float:
    f = res.flows[res.flows["category"] == category]
    if target is not None:
        f = f[f["target"] == target]
    if source is not None:
        f = f[f["source"] == source]
    return float(f["amount"].sum()) / res.replications


def row(res, org: str, fy: str = "2022/23"):
    table = res.table("erf")
    return table[(table["org"] == org) & (table["fy"] == fy)].iloc[0]


def test_over_target_activity_is_paid_at_the_variable_rate_to_each_icb():
    """Activity at 110% of plan: ICB a delivers 1,100 x 3,000 = 3.3 against 3.12, over 0.18,
    paid 0.75 x 0.18 = 0.135; ICB b's api trust 1,144 = 3.432, over 0.312, paid 0.234, which
    is exactly the variable element its contract paid the trust (13.354 - 13.12)."""
    res = run(scenario({"fund": 10.0}))
    assert flow(res, "erf_payment", "a") == pytest.approx(0.135)
    assert flow(res, "erf_payment", "b") == pytest.approx(0.234)
    assert flow(res, "contract_payment", "q") - 13.12 == pytest.approx(0.234)
    assert row(res, "a")["over"] == pytest.approx(0.18)
    assert row(res, "s2")["delivered"] == pytest.approx(3.432)
    # the fund: 10 from the treasury, allocated by target shares (equal), 5.0 each
    assert flow(res, "funding", source="treasury") == pytest.approx(10.0)
    assert flow(res, "erf_allocation", "a") == pytest.approx(5.0)


def test_the_downward_adjustment_is_floored_at_a_share_of_the_allocation():
    """Activity at 90%: a delivers 2.7, under 0.42, adjustment 0.315; b's trust 936 units =
    2.808, under 0.312, adjustment 0.234. Fund 0.6 (0.3 each), floor 75%: at most 0.225 is
    recovered from each. b's trust is given back the part of its own 0.234 beyond the floor:
    0.234 - 0.225 = 0.009."""
    res = run(scenario({"fund": 0.6, "downward_floor": 0.75}, level=0.9))
    assert flow(res, "erf_recovery", source="a") == pytest.approx(0.225)
    assert flow(res, "erf_recovery", source="b") == pytest.approx(0.225)
    assert flow(res, "erf_adjustment", "q") == pytest.approx(0.009)
    assert flow(res, "erf_adjustment", "p") == 0.0  # an activity contract has none
    assert row(res, "s1")["below_target"] == 1.0


def test_clawback_not_enforced_leaves_icbs_and_api_trusts_their_money():
    """2022/23 in practice: nothing recovered; b's trust is given back its whole downward
    adjustment, so it is paid its fixed element, 13.12, for 936 electives."""
    res = run(scenario({"fund": 0.6, "downward_floor": 0.75, "clawback": 0.0}, level=0.9))
    assert flow(res, "erf_recovery") == 0.0
    q = flow(res, "contract_payment", "q") + flow(res, "erf_adjustment", "q")
    assert q == pytest.approx(13.12)


def test_the_national_cap_scales_over_target_payments_and_a_payment_limit_passes_it_on():
    """Cap 105% of the national base 6.0 = 6.3; targets 6.24 leave room 0.06 of the 0.492
    over target: each payment scaled by 0.06 / 0.492; paid in all 0.75 x 0.06 = 0.045. With a
    full payment limit, the ICBs pay their trusts nothing for the unfunded rest: a's trust
    (paid at tariff) 0.18 x (1 - 0.06/0.492) = 0.158049, b's (paid 75%) 0.75 x 0.312 x
    (1 - 0.06/0.492) = 0.205463."""
    res = run(scenario({"fund": 10.0, "cap": 1.05, "payment_limit": 1.0}))
    assert flow(res, "erf_payment") == pytest.approx(0.045)
    assert flow(res, "erf_payment", "a") == pytest.approx(0.75 * 0.18 * 0.06 / 0.492)
    assert flow(res, "erf_payment_limit", "a", "p") == pytest.approx(0.158049, abs=1e-6)
    assert flow(res, "erf_payment_limit", "b", "q") == pytest.approx(0.205463, abs=1e-6)


def test_the_q4_cap_funds_activity_up_to_the_november_estimate_only():
    """By hand: over 5 with an estimate 3 above target is funded 3 (2 with 50% of the rest
    funded: 4); a shortfall stands; no cap leaves it."""
    over, est = np.array([5.0, 5.0, -2.0]), np.array([3.0, -1.0, 3.0])
    assert q4_capped(over, est, 0.0).tolist() == [3.0, 0.0, -2.0]
    assert q4_capped(over, est, 0.5).tolist() == [4.0, 2.5, -2.0]
    assert q4_capped(over, est, 1.0) is over


def test_with_the_q4_cap_no_icb_is_paid_beyond_its_november_estimate():
    """Monthly noise makes the outturn differ from November's run rate: with the cap, each
    ICB's payment is 0.75 x min(over, estimate - target) (>= 0), in every replication."""
    sc = scenario({"fund": 10.0, "q4_cap": 0.0}, monthly_sd=0.3)
    res = run(sc, replications=30)
    table = res.table("erf")
    icb = table[table["level"] == "icb"]
    expected = 0.75 * np.clip(np.minimum(icb["over"], icb["estimate"] - icb["target"]), 0.0, None)
    np.testing.assert_allclose(icb["paid"], expected, atol=1e-12)
    assert (icb["estimate"] - icb["target"] < icb["over"]).any()  # the cap bit somewhere


def test_the_fund_runs_from_its_start_year_and_money_is_conserved():
    """Start 2023/24 of a two-year run: nothing in 2022/23; in 2023/24 (rate 100%) a is paid
    1.0 x 0.18. The ledger balances (finsim checks every year end)."""
    res = run(scenario({"fund": 10.0, "start": "2023/24", "variable_rate": 1.0}, years=2))
    flows = res.flows[res.flows["category"].str.startswith("erf")]
    assert set(flows["fy"]) == {"2023/24"}
    assert flow(res, "erf_payment", "a") == pytest.approx(0.18)


def test_results_do_not_depend_on_the_chunk_size():
    """Eight replications in one chunk or chunks of three: the same table, bit for bit."""
    sc = scenario({"fund": 10.0, "q4_cap": 0.0, "cap": 1.06}, shock_sd=0.1, monthly_sd=0.1)
    whole = run(sc, replications=8).table("erf")
    chunked = run(sc, replications=8, chunk_size=3).table("erf")
    cols = ["replication", "fy", "org", "paid", "recovered", "over", "estimate"]
    key = ["replication", "org"]
    a = whole[cols].sort_values(key).reset_index(drop=True)
    b = chunked[cols].sort_values(key).reset_index(drop=True)
    assert (a.to_numpy() == b.to_numpy()).all()


def test_fair_share_allocation_follows_the_streams_need_shares():
    """On two_systems.yaml (core stream by weighted population): the four CCGs' allocations
    sum to the fund and are in the ratio of their need shares, not of their targets."""
    data = finsim.load_scenario("examples/two_systems.yaml").to_data()
    data["erf"] = {"fund": 100.0, "target": 1.0, "allocation": "fair_share", "stream": "core"}
    data.pop("variants", None)
    res = run(finsim.Scenario.from_dict(data))
    icb = res.table("erf").query("level == 'icb' and fy == '2017/18'").set_index("org")
    assert icb["allocation"].sum() == pytest.approx(100.0)
    by_target = 100.0 * icb["target"] / icb["target"].sum()
    assert not np.allclose(icb["allocation"], by_target)


def test_a_bad_section_is_one_clear_message_per_problem():
    """An unknown point of delivery, a start outside the run and a missing stream."""
    with pytest.raises(finsim.ScenarioError) as err:
        scenario(
            {
                "fund": 1.0,
                "pods": ["elective", "electve"],
                "start": "2030/31",
                "allocation": "fair_share",
            }
        )
    text = str(err.value)
    assert "erf.pods[1]" in text and "did you mean 'elective'" in text
    assert "erf.start" in text and "erf.stream" in text


def test_additional_money_with_a_target_cut_is_allocated_once_in_its_month():
    """Fund 12 (0.5 a month to each ICB) and 2.0 more in November (1.0 each, as the 2023/24
    GBP 800m): each ICB's year is 7.0 (not 7.0 plus the extra again in each later month), the
    treasury's funding 14."""
    res = run(scenario({"fund": 12.0, "additional": 2.0, "additional_month": 8}))
    assert flow(res, "erf_allocation", "a") == pytest.approx(7.0)
    assert row(res, "a")["allocation"] == pytest.approx(7.0)
    assert flow(res, "funding", source="treasury") == pytest.approx(14.0)


def test_the_q4_cap_sizes_the_payment_only_not_the_icbs_side_of_target():
    """One ICB, contract A 10 over target with its November estimate at target (capped to 0)
    and contract B 5 under: the ICB is 10 - 5 = +5 over, so it is above target and nothing
    is recovered; the capped values size what is paid above target, 0 - 5 < 0: nothing. A
    second ICB, A 10 over with an estimate 4 over (capped 4) and B 3 under: +7 over, paid on
    4 - 3 = 1. (Netting the capped values, the first ICB was -5 and 5 was recovered.)"""
    over = np.array([[10.0, -5.0, 10.0, -3.0]])
    estimate_over = np.array([[0.0, 0.0, 4.0, 0.0]])
    by_icb = incidence(np.array([0, 0, 1, 1]), 2)
    net, funded = icb_positions(over, q4_capped(over, estimate_over, 0.0), by_icb)
    assert net.tolist() == [[5.0, 7.0]]
    assert funded.tolist() == [[0.0, 1.0]]


def test_with_the_q4_cap_an_icb_over_target_net_is_never_recovered_from():
    """Two contracts of ICB a (trusts p and p2, 500 electives each) with monthly noise: in each
    replication a's recovery is 0.75 x its netted shortfall (uncapped), and its payment 0.75 x
    max(sum of the capped excesses, 0). Before the fix an ICB over target net could be
    recovered from where one contract beyond its November estimate was capped."""
    sc = scenario({"fund": 10.0, "q4_cap": 0.0}, level=1.04, monthly_sd=0.3, split=True)
    res = run(sc, replications=40)
    table = res.table("erf")
    icb = table[(table["level"] == "icb") & (table["org"] == "a")].set_index("replication")
    trusts = table[table["org"].isin(["p", "p2"])]
    capped = np.minimum(trusts["over"], np.maximum(trusts["estimate"] - trusts["target"], 0.0))
    capped = np.where(trusts["over"] > 0, capped, trusts["over"])
    capped_net = pd.Series(capped, index=trusts["replication"]).groupby(level=0).sum()
    np.testing.assert_allclose(icb["recovered"], 0.75 * np.maximum(-icb["over"], 0.0), atol=1e-12)
    np.testing.assert_allclose(icb["paid"], 0.75 * np.maximum(capped_net, 0.0), atol=1e-12)
    assert ((icb["over"] > 0) & (capped_net < 0)).any()  # the case the fix is about, met


def test_a_trust_given_its_adjustment_back_is_paid_exactly_its_fixed_element():
    """b's api trust q codes 2% more case mix (accepted 1.0) and does 90%: 936 electives. Its
    contract deducts 0.75 x (936 x 3,000 x 1.02 - 1,040 x 3,000) = 0.75 x (2.86416 - 3.12) =
    0.19188 from its fixed element 13.12 (1,040 electives + 5,000 emergency spells at price,
    accepted case mix). With the clawback not enforced, exactly that is given back, 0.19188,
    and q is paid 13.12 (before the fix the give-back was valued without the case mix, 0.75
    x (3.12 - 2.808) = 0.234, leaving q 0.04212 above its whole fixed element)."""
    sc = scenario({"fund": 0.6, "clawback": 0.0}, level=0.9, case_mix={"q": 0.02})
    res = run(sc)
    assert flow(res, "erf_adjustment", "q") == pytest.approx(0.19188)
    assert flow(res, "contract_payment", "q") == pytest.approx(13.12 - 0.19188)
    q = flow(res, "contract_payment", "q") + flow(res, "erf_adjustment", "q")
    assert q == pytest.approx(13.12)
    assert flow(res, "erf_recovery") == 0.0


def test_the_national_cap_does_not_depend_on_the_chunk_size():
    """Sixteen ICBs, the cap binding (104.5% of the national base), 32 replications one at a
    time or all in one chunk: each ICB's payment the same bits (the ICBs' sums were numpy
    reductions, pairwise for one row and in sequence for many: 30 paid figures differed)."""
    sc = many_icbs()
    whole = run(sc, replications=32).table("erf")
    single = run(sc, replications=32, chunk_size=1).table("erf")
    cols = ["replication", "org", "paid", "recovered"]
    a = whole[cols].sort_values(cols[:2]).reset_index(drop=True)
    b = single[cols].sort_values(cols[:2]).reset_index(drop=True)
    assert (a["paid"] > 0).any() and (a["recovered"] > 0).any()
    icb = whole[whole["level"] == "icb"].groupby("replication")
    uncapped = icb["over"].apply(lambda o: 0.75 * np.maximum(o, 0.0).sum())
    assert (icb["paid"].sum() < uncapped - 1e-9).any()  # the cap bit
    assert np.array_equal(a["paid"].to_numpy(), b["paid"].to_numpy())
    assert np.array_equal(a["recovered"].to_numpy(), b["recovered"].to_numpy())


def test_an_estimate_month_with_no_activity_planned_is_one_clear_error():
    """Seasonality 0 from April to November: no activity is planned by the estimate month
    (8), so the November run rate would divide by 0; it is an error naming the field."""
    with pytest.raises(finsim.ScenarioError) as err:
        scenario({"fund": 1.0}, seasonality=[0.0] * 8 + [1.0] * 4)
    text = str(err.value)
    assert "erf.estimate_month" in text and "no activity is planned" in text
    scenario({"fund": 1.0, "estimate_month": 9}, seasonality=[0.0] * 8 + [1.0] * 4)  # fine
