"""The CCG risk reserve and non-recurrent spending rule, and the Commissioner
Sustainability Fund."""

from __future__ import annotations

import pytest

import finsim


def economy(cost_b: float = 102.5, other_spend: float = 0.0, years: int = 1, **sections) -> dict:
    """One system: a CCG (allocation 200) paying GBP 100m blocks to trust a (cost 98: +2.0)
    and trust b (100 - cost_b), plus ``other_spend``; totals a +1.0, b -3.0, CCG 0."""
    return {
        "scenario": {"name": "ccg", "start": "2017/18", "years": years},
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
        "costs": {
            "providers": {"a": {"fixed": 98.0}, "b": {"fixed": cost_b}},
            "commissioners": {"c": {"other_spend": other_spend}},
        },
        "control_totals": {"organisations": {"a": 1.0, "b": -3.0, "c": 0.0}},
        **sections,
    }


def run(doc: dict, **options):
    return finsim.run(finsim.Scenario.from_dict(doc), replications=1, seed=1, **options)


RESERVE_2017 = {"share": 0.005, "release": "system_control_total", "non_recurrent_share": 0.005}


def test_the_reserve_is_released_to_the_systems_providers_when_the_system_meets_its_total():
    """The CCG plans to break even on its 200 allocation; its 0.5% reserve (1.0) is held back
    from that spending, a twelfth a month, so it runs +1.0 and the system 1.0 + 2.0 - 2.5 =
    +0.5 against -2.0: met. The reserve is released and spent with its system's providers by
    planned contract value, 0.5 each: the CCG ends at 0. Its 0.5% non-recurrent rule
    relabels 1.0 of its spending: underlying = surplus (0) - reserve held (1.0) + spending
    counted non-recurrent (1.0 relabelled + 1.0 released) = +1.0."""
    res = run(economy(commissioner_reserves=RESERVE_2017))
    pos = res.positions.set_index("org")
    assert pos.loc["c", "surplus"] == pytest.approx(0.0)
    assert pos.loc["c", "underlying_surplus"] == pytest.approx(1.0)
    assert pos.loc["a", "surplus"] == pytest.approx(2.5)
    assert pos.loc["b", "surplus"] == pytest.approx(-2.0)
    table = res.table("risk_reserve").set_index("org")
    assert table.loc["c", "held"] == pytest.approx(1.0)
    assert table.loc["c", "released"] == pytest.approx(1.0)


def test_the_reserve_is_kept_as_underspend_when_the_system_misses():
    """Trust b at -10.0 takes the system to 1.0 + 2.0 - 10.0 = -7.0 against -2.0: the reserve
    is not released, and the CCG keeps its 1.0 as underspend (it was never committed)."""
    res = run(economy(cost_b=110.0, commissioner_reserves=RESERVE_2017))
    assert res.table("risk_reserve").set_index("org").loc["c", "released"] == 0.0
    assert res.positions.set_index("org").loc["c", "surplus"] == pytest.approx(1.0)


def test_a_reserve_released_outside_the_nhs_leaves_the_system():
    """1% (2.0) held back and released regardless, spent outside the NHS: the CCG breaks
    even, as planned, and the 2.0 leaves the system."""
    reserve = {"share": 0.01, "release": "released", "spend_with": "external"}
    res = run(economy(commissioner_reserves=reserve))
    assert res.positions.set_index("org").loc["c", "surplus"] == pytest.approx(0.0)
    assert res.positions.set_index("org").loc["a", "surplus"] == pytest.approx(2.0)


def test_the_release_rule_may_change_by_year_and_a_zero_share_holds_nothing():
    """2016/17 kept, then 2017/18 on the system total, then nothing held (rule lifted)."""
    doc = economy(
        years=3,
        commissioner_reserves={
            "share": {"2016/17": 0.01, "2017/18": 0.005, "2018/19": 0.0},
            "release": {"2016/17": "kept", "2017/18": "system_control_total"},
        },
    )
    doc["scenario"]["start"] = "2016/17"
    table = run(doc).table("risk_reserve").set_index("fy")
    assert table.loc["2016/17", "held"] == pytest.approx(2.0)
    assert table.loc["2016/17", "released"] == 0.0
    assert table.loc["2017/18", "released"] == pytest.approx(1.0)
    assert "2018/19" not in table.index


def test_release_on_the_system_total_needs_control_totals():
    """One clear error naming the field."""
    doc = economy(commissioner_reserves=RESERVE_2017)
    del doc["control_totals"]
    with pytest.raises(finsim.ScenarioError, match="commissioner_reserves.release"):
        finsim.Scenario.from_dict(doc)


CSF = {"fund": 400.0, "improvement": {"2018/19": 0.01}}


def test_a_ccg_meeting_its_deficit_total_balances_after_the_csf():
    """CCG total -6.0, before incentives -5.0 (other spending 5.0): allocated its deficit,
    6.0, earned in full: a 1.0 surplus. The fund's other 394 stays central."""
    doc = economy(other_spend=5.0, commissioner_sustainability_fund=CSF)
    doc["scenario"]["start"] = "2018/19"
    doc["control_totals"]["organisations"]["c"] = -6.0
    res = run(doc)
    year = res.table("csf").set_index("org")
    assert list(year.index) == ["c"]
    assert year.loc["c", "earned"] == pytest.approx(6.0)
    assert res.positions.set_index("org").loc["c", "surplus"] == pytest.approx(1.0)
    assert res.flows.query("category == 'csf_payment'")["amount"].sum() == pytest.approx(6.0)


@pytest.mark.parametrize(("second_total", "paid"), [(-4.0, 0.0), (-2.5, 2.5)])
def test_an_overspender_must_improve_by_one_percent_of_allocation(second_total, paid):
    """Year 1's outturn before incentives is -5.0, so year 2's total must be at least -5.0 +
    1% of 200 = -3.0. Other spending falls to 2.0 in year 2 (outturn -2.0), meeting either
    total; -4.0 does not improve enough (no CSF), -2.5 does (its 2.5 deficit earned)."""
    doc = economy(other_spend=5.0, years=2, commissioner_sustainability_fund=CSF)
    doc["scenario"]["start"] = "2018/19"
    doc["control_totals"]["organisations"]["c"] = {"2018/19": -6.0, "2019/20": second_total}
    doc["costs"]["inflation"] = {"2018/19": 0.0, "2019/20": -0.6}  # 5.0 -> 2.0 in year 2
    doc["costs"]["providers"] = {"a": {"fixed": 98.0}, "b": {"fixed": 102.5}}
    res = run(doc)
    year = res.table("csf").set_index("fy")
    assert year.loc["2018/19", "earned"] == pytest.approx(6.0)
    assert year.loc["2019/20", "earned"] == pytest.approx(paid)
