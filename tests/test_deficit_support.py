"""Deficit support funding: paid by instalments, withheld off plan, withdrawn, repayable.

The economy is examples/two_systems.yaml without shocks (activity exactly as planned), so
every position is deterministic and one replication is the whole answer.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import finsim

TWO_SYSTEMS = Path(__file__).resolve().parents[1] / "examples" / "two_systems.yaml"


@pytest.fixture(scope="module")
def base_doc() -> dict:
    doc = finsim.load_scenario(TWO_SYSTEMS).to_data()
    doc.pop("variants", None)
    doc["activity"]["shock_sd"] = 0.0
    doc["activity"]["monthly_sd"] = 0.0
    return doc


def run(doc: dict, support: dict, replications: int = 1, **options) -> finsim.Results:
    doc = copy.deepcopy(doc)
    doc["deficit_support"] = support
    scenario = finsim.Scenario.from_dict(doc)
    return finsim.run(scenario, replications=replications, seed=1, **options)


def table(res: finsim.Results, org: str) -> pd.DataFrame:
    t = res.table("deficit_support")
    return t[(t["org"] == org) & (t["replication"] == 0)].set_index("fy")


def paid(res: finsim.Results, category: str = "deficit_support", kind: str = "revenue") -> dict:
    f = res.flows[(res.flows["category"] == category) & (res.flows["kind"] == kind)]
    return (f.groupby("fy")["amount"].sum() / res.replications).round(9).to_dict()


def test_support_is_paid_quarterly_and_withdrawn_by_the_accumulated_share(base_doc):
    """40 a year, a quarter withdrawn from 2018/19: 40, then 40 x 0.75 = 30, then
    40 x (1 - 0.5) = 20, from the centre to the system's account, in four instalments of
    10, 7.5 and 5 at M3, M6, M9 and M12, non-recurrent revenue."""
    res = run(
        base_doc,
        {"support": {"north_shire": 40.0}, "withdrawal": {"2017/18": 0.0, "2018/19": 0.25}},
    )
    assert paid(res) == {"2017/18": 40.0, "2018/19": 30.0, "2019/20": 20.0}
    j = res.journal[res.journal["category"] == "deficit_support"]
    assert set(j["source"]) == {"nhse"} and set(j["target"]) == {"north_shire"}
    assert (j["recurrence"] == "non_recurrent").all()
    assert j["posted_month"].tolist() == [3, 6, 9, 12] * 3
    assert j["amount"].tolist() == pytest.approx([10.0] * 4 + [7.5] * 4 + [5.0] * 4)
    t = table(res, "north_shire")
    assert t["withdrawn"].tolist() == pytest.approx([0.0, 10.0, 20.0])
    assert t["withheld"].tolist() == [0.0, 0.0, 0.0]
    assert t["off_plan"].isna().all()  # no condition


def test_monthly_support_is_twelve_equal_instalments(base_doc):
    """36 a year paid monthly: twelve instalments of 3."""
    res = run(base_doc, {"support": {"north_shire": 36.0}, "payment": "monthly"})
    j = res.journal[res.journal["category"] == "deficit_support"]
    assert j["posted_month"].tolist() == list(range(1, 13)) * 3
    assert j["amount"].tolist() == pytest.approx([3.0] * 36)


def test_a_recipient_off_plan_at_m9_loses_its_q4_instalment(base_doc):
    """Support 30 a year (7.5 a quarter), condition from 2018/19: with a plan of +1000 the
    system is far below 1000 x 9/12 at M9, so Q4's 7.5 is withheld (22.5 paid) and an event
    says so; in 2017/18, before the condition starts, all 30 is paid whatever the plan."""
    res = run(
        base_doc,
        {
            "support": {"north_shire": 30.0},
            "plans": {"north_shire": 1000.0},
            "condition": {"months": [9], "start": "2018/19"},
        },
    )
    assert paid(res) == {"2017/18": 30.0, "2018/19": 22.5, "2019/20": 22.5}
    t = table(res, "north_shire")
    assert t["withheld"].tolist() == [0.0, 7.5, 7.5]
    assert np.isnan(t.loc["2017/18", "off_plan"])
    assert t.loc["2018/19", "off_plan"] == 1.0
    events = res.events[res.events["event"] == "deficit_support_withheld"]
    assert events["amount"].tolist() == [7.5, 7.5]
    assert set(events["detail"]) == {"off plan at M9"} and set(events["month"]) == {9}


def test_a_recipient_on_plan_keeps_its_support(base_doc):
    """With a plan of -1000 (a deficit of 1000 allowed) the system is on plan: all 30 paid."""
    res = run(
        base_doc,
        {
            "support": {"north_shire": 30.0},
            "plans": {"north_shire": -1000.0},
            "condition": {"months": [9]},
        },
    )
    assert paid(res) == {"2017/18": 30.0, "2018/19": 30.0, "2019/20": 30.0}
    assert (table(res, "north_shire")["off_plan"] == 0.0).all()


def test_the_decision_compares_the_year_to_date_with_the_phased_plan_and_tolerance(base_doc):
    """First run with plan 0 reads the year to date at M9, v. A plan p = (v + 5) x 12 / 9
    puts the system exactly 5 below its phased plan: off plan with a tolerance of 4.9, on
    plan with 5.1."""
    condition = {"months": [9]}
    first = run(base_doc, {"support": {"north_shire": 30.0}, "condition": condition})
    v = table(first, "north_shire").loc["2017/18", "variance_at_decision"]
    plan = (v + 5.0) * 12.0 / 9.0
    for tolerance, off in ((4.9, 1.0), (5.1, 0.0)):
        res = run(
            base_doc,
            {
                "support": {"north_shire": 30.0},
                "plans": {"north_shire": plan},
                "condition": {"months": [9], "tolerance": tolerance},
            },
        )
        t = table(res, "north_shire").loc["2017/18"]
        assert t["variance_at_decision"] == pytest.approx(-5.0)
        assert t["off_plan"] == off
        assert t["paid"] == pytest.approx(30.0 - 7.5 * off)


def test_each_decision_withholds_the_instalments_until_the_next(base_doc):
    """Monthly support of 12 (1 a month), decisions at M3 and M9, plan +1000: off plan at
    both, the M3 decision withholds M4-M9 (6) and the M9 decision M10-M12 (3); 3 is paid."""
    res = run(
        base_doc,
        {
            "support": {"north_shire": 12.0},
            "payment": "monthly",
            "plans": {"north_shire": 1000.0},
            "condition": {"months": [3, 9]},
        },
    )
    t = table(res, "north_shire")
    assert t["paid"].tolist() == pytest.approx([3.0, 3.0, 3.0])
    assert t["withheld"].tolist() == pytest.approx([9.0, 9.0, 9.0])
    events = res.events[res.events["event"] == "deficit_support_withheld"]
    # at M3 the months until the next decision (M4-M9: 6), at M9 the rest (M10-M12: 3)
    assert events.groupby("month")["amount"].first().to_dict() == {3: 6.0, 9: 3.0}


def test_positions_before_and_after_and_the_breach(base_doc):
    """The outturn less the support received is the position before it; the system's
    outturn is the sum of its members' and its own surpluses in res.positions; a breach is
    an outturn below plan (or, with breach: deficit, below zero)."""
    support = {"support": {"north_shire": 40.0, "south_acute": 20.0}}
    res = run(base_doc, support)
    t = res.table("deficit_support")
    assert (t["position_after"] - t["position_before"]).tolist() == pytest.approx(
        t["paid"].tolist()
    )
    p = res.positions
    system = p[p["system"].eq("north_shire") | p["org"].eq("north_shire")]
    outturn = system.groupby("fy")["surplus"].sum()
    north = table(res, "north_shire")
    assert north["position_after"].to_numpy() == pytest.approx(outturn.to_numpy())
    south = table(res, "south_acute")
    acute = p[p["org"] == "south_acute"].set_index("fy")["surplus"]
    assert south["position_after"].to_numpy() == pytest.approx(acute.to_numpy())
    assert (t["missed_plan"] == (t["position_after"] < t["plan"])).all()
    assert (t["in_deficit"] == (t["position_after"] < 0)).all()
    assert (t["breach"] == t["missed_plan"]).all()
    # south_acute is in deficit before support (a hand check of the fixture) and 20 covers it
    assert (south["position_before"] < 0).all() and (south["position_after"] > 0).all()
    plans = {"north_shire": 100.0, "south_acute": 100.0}
    by_deficit = run(base_doc, {**support, "plans": plans, "breach": "deficit"})
    t = by_deficit.table("deficit_support")
    assert (t["missed_plan"] == 1.0).all() and (t["breach"] == t["in_deficit"]).all()
    assert (t["breach"] == 0.0).all()


def test_without_plans_a_recipient_is_held_to_its_control_total(base_doc):
    """A system with a control total of 7 and no plan given is judged against 7."""
    doc = copy.deepcopy(base_doc)
    doc["control_totals"] = {"systems": {"north_shire": 7.0}}
    res = run(doc, {"support": {"north_shire": 40.0, "south_shire": 10.0}})
    assert table(res, "north_shire")["plan"].tolist() == [7.0, 7.0, 7.0]
    # south_shire's total is the sum of its members' (none set: no total), so breakeven
    assert table(res, "south_shire")["plan"].tolist() == [0.0, 0.0, 0.0]


def test_repayable_support_is_a_loan_with_interest_repaid_from_the_next_year(base_doc):
    """40 lent in 2017/18 in four instalments of 10 (at M3, M6, M9, M12) at 3.5% over two
    years, straight line: interest 0.035 x 10 x (9 + 6 + 3 + 0) / 12 = 0.525 in 2017/18,
    0.035 x 40 = 1.4 in 2018/19 and 0.035 x 20 = 0.7 in 2019/20; principal 20 repaid at the
    end of each of 2018/19 and 2019/20. A loan is cash, not income: the position is the one
    before support less the interest."""
    res = run(
        base_doc,
        {
            "support": {"north_shire": {"2017/18": 40.0, "2018/19": 0.0}},
            "repayable": {"rate": 0.035, "term": 2},
        },
    )
    assert paid(res) == {}
    assert paid(res, "loan", "capital") == {"2017/18": 40.0}
    assert paid(res, "loan_interest") == pytest.approx(
        {"2017/18": 0.525, "2018/19": 1.4, "2019/20": 0.7}
    )
    assert paid(res, "loan_repayment", "capital") == pytest.approx(
        {"2018/19": 20.0, "2019/20": 20.0}
    )
    t = table(res, "north_shire")
    assert (t["position_before"] - t["position_after"]).tolist() == pytest.approx([0.525, 1.4, 0.7])
    assert t["repaid"].tolist() == pytest.approx([0.0, 20.0, 20.0])


def test_a_recipient_in_deficit_rolls_its_repayment_over(base_doc):
    """South Acute is in deficit every year: with rollover when_in_deficit it repays none of
    a 12 loan over 2 years (6 due at the end of 2018/19 is rolled over, then 6 again)."""
    res = run(
        base_doc,
        {
            "support": {"south_acute": {"2017/18": 12.0, "2018/19": 0.0}},
            "repayable": {"rate": 0.0, "term": 2, "rollover": "when_in_deficit"},
        },
    )
    t = table(res, "south_acute")
    assert (t["position_after"] < 0).all()
    assert t["repaid"].tolist() == [0.0, 0.0, 0.0]
    assert t["rolled_over"].tolist() == pytest.approx([0.0, 6.0, 6.0])
    assert paid(res, "loan_repayment", "capital") == {}


def test_tables_do_not_depend_on_chunking_and_money_is_conserved(base_doc):
    """With shocks (the example's own), four replications in chunks of 1 and of 4 give the
    same table, bit for bit; the engine's year-end conservation check passes."""
    doc = copy.deepcopy(base_doc)
    doc["activity"]["shock_sd"] = 0.03
    doc["activity"]["monthly_sd"] = 0.02
    support = {
        "support": {"north_shire": 20.0, "south_shire": 20.0},
        "condition": {"months": [6, 9], "tolerance": 0.5},
    }
    a = run(doc, support, replications=4, chunk_size=1).table("deficit_support")
    b = run(doc, support, replications=4, chunk_size=4).table("deficit_support")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"support": {"nowhere": 1.0}}, "unknown system or commissioner or provider 'nowhere'"),
        ({"support": {"midlands": 1.0}}, "'midlands' is a region"),
        (
            {"support": {"north_shire": 1.0}, "plans": {"south_shire": 0.0}},
            "has a plan but no support",
        ),
        (
            {"support": {"north_shire": 1.0}, "condition": {"months": [12]}},
            "a decision at M12 can withhold nothing",
        ),
        ({"support": {}}, "at least 1"),
    ],
)
def test_a_bad_section_is_one_clear_error(base_doc, section, message):
    """Recipients must be systems, commissioners or providers; plans name recipients; a
    decision month withholds something; support names someone."""
    doc = copy.deepcopy(base_doc)
    doc["deficit_support"] = section
    with pytest.raises(finsim.ScenarioError, match=message):
        finsim.Scenario.from_dict(doc)
