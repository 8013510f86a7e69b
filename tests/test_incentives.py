"""Control totals, acceptance and incentive funds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import finsim

ICS = Path(__file__).resolve().parents[1] / "examples" / "ics_control_totals_2018.yaml"


def economy(
    ct_a: float = 0.0,
    ct_b: float = 0.0,
    cost_b: float = 100.0,
    system_share: float = 0.0,
    rule: str = "always",
    **incentives,
) -> dict:
    """Two providers in one system, each earning GBP 100m a year on a block and spending cost."""
    return {
        "scenario": {"name": "ct", "start": "2018/19", "years": 1},
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
        "control_totals": {"organisations": {"a": ct_a, "b": ct_b}, "acceptance": {"rule": rule}},
        "incentives": {
            "fund": 20.0,
            "allocation": {"a": 10.0, "b": 10.0},
            "finance_share": 0.7,
            "performance_chance": 1.0,
            "system_share": system_share,
            **incentives,
        },
    }


def payments(doc: dict, org: str = "a", replications: int = 1, system=None) -> np.ndarray:
    """Quarterly incentive payments to ``org`` (replication 0), from the journal."""
    scenario = finsim.Scenario.from_dict(doc, system=system)
    res = finsim.run(scenario, replications=replications, keep_journal=True)
    j = res.journal
    j = j[(j["target"] == org) & (j["category"] == "incentive_payment") & (j["replication"] == 0)]
    by_month = j.groupby("posted_month")["amount"].sum()
    return np.array([by_month.get(m, 0.0) for m in (3, 6, 9, 12)])


def test_quarterly_payments_follow_the_phasing_when_every_test_is_met():
    """A body that meets every year-to-date test earns 15/20/30/35% of its allocation."""
    assert np.allclose(payments(economy(ct_a=1.0)), 10.0 * np.array([0.15, 0.20, 0.30, 0.35]))


def test_failing_the_year_to_date_finance_test_loses_the_finance_share_only():
    """With a surplus of 2 and a control total of 2.5, every quarter pays only the 30% performance share."""
    assert np.allclose(payments(economy(ct_a=2.5)), 10.0 * np.array([0.15, 0.20, 0.30, 0.35]) * 0.3)


def test_the_test_is_year_to_date_pro_rata():
    """Exactly on trajectory (surplus 2, total 2) passes every quarter."""
    assert np.allclose(payments(economy(ct_a=2.0)).sum(), 10.0)


def test_with_system_share_0_a_body_never_depends_on_its_neighbours():
    """With system_share 0, A's payments are the same whether B is fine or deep in deficit."""
    fine = payments(economy(ct_a=1.0, cost_b=99.0, system_share=0.0))
    broke = payments(economy(ct_a=1.0, cost_b=130.0, system_share=0.0))
    assert np.allclose(fine, broke)


def test_with_system_share_1_a_body_depends_only_on_the_system():
    """With system_share 1, A passes its finance test exactly when the system does."""
    ok = payments(
        economy(ct_a=5.0, cost_b=90.0, system_share=1.0)
    )  # A misses its own total; system fine
    assert np.allclose(ok.sum(), 10.0)
    bad = payments(economy(ct_a=0.0, cost_b=130.0, system_share=1.0))  # A fine; system misses
    assert np.allclose(bad.sum(), 10.0 * 0.3)


def test_non_acceptors_never_receive_incentive_funds():
    """Under 'never', or an override to reject, no incentive money reaches the body."""
    res = finsim.run(
        finsim.Scenario.from_dict(
            economy(ct_a=0.0, rule="never", unearned=["general_distribution"])
        ),
        replications=3,
    )
    assert res.positions["incentive_earned"].abs().sum() == 0
    doc = economy(ct_a=0.0, ct_b=-100.0, unearned=["bonus", "general_distribution"])
    doc["control_totals"]["acceptance"]["overrides"] = {"b": "reject"}
    pos = finsim.run(finsim.Scenario.from_dict(doc), replications=3).positions.set_index("org")
    assert (pos.loc["b", "incentive_earned"] == 0).all() and (
        pos.loc["a", "incentive_earned"] > 0
    ).all()
    assert not pos.loc["b", "accepted_control_total"].any()


def test_unearned_money_returns_through_bonus_then_general_distribution():
    """B fails; A beat its total by 1: A gets a GBP 1-for-1 bonus, then the rest by allocation."""
    doc = economy(ct_a=1.0, ct_b=1.0, cost_b=105.0, unearned=["bonus", "general_distribution"])
    flows = finsim.run(finsim.Scenario.from_dict(doc), replications=1).flows.set_index(
        ["target", "category"]
    )["amount"]
    assert flows[("a", "incentive_bonus")] == pytest.approx(1.0)
    incentive = flows[
        flows.index.get_level_values("category").isin(
            ["incentive_payment", "incentive_bonus", "general_distribution"]
        )
    ]
    assert incentive.sum() == pytest.approx(20.0)  # the whole fund goes out
    centre = finsim.run(
        finsim.Scenario.from_dict(economy(ct_a=1.0, ct_b=1.0, cost_b=105.0)), replications=1
    ).positions
    assert centre.set_index("org").loc["centre", "surplus"] == pytest.approx(
        20.0 - 10.0 - 10.0 * 0.3
    )


def test_rational_rule_accepts_a_certain_gain_and_rejects_a_certain_loss():
    """Headroom and no improvement needed: accept. A total 20m beyond reach for a 10m fund: reject."""
    doc = economy(ct_a=-5.0, ct_b=20.0, rule="rational")
    res = finsim.run(finsim.Scenario.from_dict(doc), replications=2, seed=3)
    decisions = res.table("acceptance").set_index("org")["accepted"]
    assert bool(decisions["a"]) is True and bool(decisions["b"]) is False
    events = set(res.events["event"])
    assert {"accepted_control_total", "rejected_control_total"} <= events


def test_acceptance_does_not_depend_on_chunking():
    """The pilot is run once per run, so decisions and results are the same in any chunking."""
    sc = finsim.load_scenario(ICS, variant="fully_system")
    a = finsim.run(sc, replications=8, seed=2, chunk_size=8)
    b = finsim.run(sc, replications=8, seed=2, chunk_size=3)
    assert a.table("acceptance").equals(b.table("acceptance"))
    assert np.array_equal(a.positions["surplus"], b.positions["surplus"])


def test_positions_report_each_level_of_control_total():
    """A body's row carries its own, its system's and its region's totals and whether each was met."""
    pos = finsim.run(
        finsim.Scenario.from_dict(economy(ct_a=1.0, ct_b=-3.0)), replications=1
    ).positions.set_index("org")
    assert pos.loc["a", "control_total"] == 1.0
    assert pos.loc["a", "system_control_total"] == pytest.approx(-2.0)
    assert pos.loc["a", "region_control_total"] == pytest.approx(-2.0)
    assert bool(pos.loc["a", "met_system_control_total"]) is True


# -- the seed ----------------------------------------------------------------------------------


def _systems_accepting(variant: str, **acceptance) -> int:
    """How many of the ten ICSs take ``variant``'s option (every member on it)."""
    sc = finsim.load_scenario(ICS, variant=variant)
    if acceptance:
        data = sc.to_data()
        data["control_totals"]["acceptance"].update(acceptance)
        sc = finsim.Scenario.from_dict(data)
    table = finsim.run(sc, replications=2, seed=1).table("acceptance")
    system = table["org"].str.rsplit("_", n=1).str[0]
    return int(table.groupby(system)["on_option"].all().sum())


def test_ics_most_systems_decline_the_fully_system_based_option():
    """Seed: most of the ten ICSs decline to tie all sustainability funding to the system total."""
    assert _systems_accepting("fully_system") <= 4


def test_ics_it_is_each_boards_veto_that_turns_them_away():
    """No system takes the fully system-based option while each board weighs it alone
    against its own total's funding; sharing the system's gain among members (side payments,
    a risk share), some systems would, with boards less averse to risk and loss than the
    calibrated ones (at the calibrated parameters none does, even so)."""
    assert _systems_accepting("fully_system") == 0
    assert _systems_accepting("fully_system", side_payments=True) == 0
    milder = {"risk_aversion": 0.0, "loss_aversion": 1.25}
    assert _systems_accepting("fully_system", **milder) == 0
    assert _systems_accepting("fully_system", side_payments=True, **milder) >= 2


def test_a_user_can_write_a_new_scheme_and_add_it_to_a_system():
    """A scheme class added to a System by name replaces the quarterly rule without engine
    changes; the removed process-wide register_scheme says to do that."""
    from finsim.mechanisms.incentives import IncentiveScheme, register_scheme, schemes
    from finsim.system import System

    class YearEndOnly(IncentiveScheme):
        """Everything at Q4, on the year's finance test alone."""

        name = "year_end_only"

        def quarter(self, ctx, q, allocation, own_pass, system_pass, performance_pass):
            return allocation * own_pass if q == 4 else 0.0 * allocation

    with pytest.raises(TypeError, match=r"System.default\(\).with_scheme"):
        register_scheme(YearEndOnly)
    assert "year_end_only" not in schemes()
    system = System.default().with_scheme(YearEndOnly)

    def paid(**kwargs):
        doc = economy(scheme="year_end_only", **kwargs)
        return payments(doc, system=system)

    assert np.allclose(paid(ct_a=1.0), [0.0, 0.0, 0.0, 10.0])
    assert np.allclose(paid(ct_a=2.5), 0.0)
    with pytest.raises(finsim.ScenarioError, match="unknown scheme 'year_end_onl'"):
        finsim.Scenario.from_dict(economy(scheme="year_end_onl"), system=system)


@pytest.mark.parametrize("unearned", [["bonus"], ["bonus", "general_distribution"]])
def test_an_allocation_to_a_body_without_a_control_total(unearned):
    """A body allocated part of the fund but given no control total can accept none, so it earns
    nothing; its share returns as unearned money, and the year end works on finite numbers (its
    missing total once made a NaN bonus and a traceback)."""
    doc = economy(ct_a=1.0, unearned=unearned)
    del doc["control_totals"]["organisations"]["b"]
    res = finsim.run(finsim.Scenario.from_dict(doc), replications=2, seed=0)
    pos = res.positions.set_index("org")
    assert (pos.loc["b", "incentive_earned"] == 0.0).all()
    money = ["income", "expenditure", "surplus", "surplus_before_incentives", "incentive_earned"]
    assert np.isfinite(res.positions[money].to_numpy(dtype=float)).all()
    assert np.isfinite(res.flows["amount"].to_numpy(dtype=float)).all()
    incentive = res.flows[
        res.flows["category"].isin(["incentive_payment", "incentive_bonus", "general_distribution"])
    ]
    by_body = incentive.groupby(["replication", "target", "category"])["amount"].sum()
    assert set(by_body.index.get_level_values("target")) == {"a"}  # nothing reaches B
    for r in (0, 1):
        # A met everything (10.0) and beat its total of 1 by 1: a bonus of 1 of B's unearned 10;
        # B met no total, so what general distribution there is goes to A alone
        assert by_body[(r, "a", "incentive_payment")] == pytest.approx(10.0)
        assert by_body[(r, "a", "incentive_bonus")] == pytest.approx(1.0)
        expected = 20.0 if "general_distribution" in unearned else 11.0
        assert by_body[r].sum() == pytest.approx(expected)


def test_a_scheme_on_a_system_is_used_by_that_scenario_only():
    """A scheme added to a System (not registered process-wide) pays in scenarios read with
    that System; the built-ins are BUILTIN_SCHEMES."""
    from finsim.mechanisms.incentives import BUILTIN_SCHEMES, IncentiveScheme, scheme_names
    from finsim.system import System

    class YearEndOnly(IncentiveScheme):
        name = "year_end_only"

        def quarter(self, ctx, q, allocation, own_pass, system_pass, performance_pass):
            return allocation * own_pass if q == 4 else 0.0 * allocation

    assert BUILTIN_SCHEMES == {"sustainability_fund": IncentiveScheme}
    system = System.default().with_scheme(YearEndOnly)
    doc = economy(ct_a=1.0, scheme="year_end_only")
    res = finsim.run(
        finsim.Scenario.from_dict(doc, system=system), replications=1, keep_journal=True
    )
    j = res.journal
    j = j[(j["target"] == "a") & (j["category"] == "incentive_payment")]
    assert np.allclose(j.groupby("posted_month")["amount"].sum().to_numpy(), [10.0])
    assert "year_end_only" in scheme_names(system)
    assert "year_end_only" not in scheme_names()
    with pytest.raises(finsim.ScenarioError, match="unknown scheme 'year_end_only'"):
        finsim.Scenario.from_dict(doc)


def test_a_trust_without_a_and_e_has_all_of_its_fund_on_finance():
    """Finance share 70%, performance never met; provider b is a mental health trust with
    100% on finance (the 2017/18 rule for non-A&E trusts). Both meet their control totals
    (surplus 2 >= 0 and 0 >= 0), so a earns 0.7 x 10 = 7.0 and b the whole 10.0."""
    doc = economy(
        cost_b=100.0,
        performance_chance=0.0,
        finance_share_by_kind={"mental_health": 1.0},
    )
    doc["organisations"]["providers"][1]["kind"] = "mental_health"
    assert payments(doc, "a").sum() == pytest.approx(7.0)
    assert payments(doc, "b").sum() == pytest.approx(10.0)
