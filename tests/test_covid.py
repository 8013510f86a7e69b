"""The Covid regime: blocks from the base year, retrospective top-ups, system envelopes, the
elective incentive, and 2021/22's rolled-forward halves.

The economy (every figure below is worked from it): two systems, one CCG and one provider
each, no shocks, flat seasonality, prices that do not move. ``k1`` (c1 -> p1) is activity
based: 1,200 electives at £1,000 and 600 non-electives at £2,000, £2.4m a year, £0.2m a
month. ``k2`` (c2 -> p2) is a £12m block, £1.0m a month. p1's costs are £3.0m a year fixed
(£0.25m a month), p2's £18m (£1.5m). Covid costs are 12% of each cost base a year (p1
£0.36m, p2 £2.16m), by a profile of 2, 2, 2 then 1 (rescaled to average 1: 1.6 in Q1, 0.8
after), so p1's are £0.048m a month in Q1 and £0.024m after.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import finsim

DOC: dict = {
    "scenario": {"name": "covid", "start": "2019/20", "years": 2},
    "organisations": {
        "centre": {"id": "nhse"},
        "regions": [{"id": "r"}],
        "systems": [{"id": "s1", "region": "r"}, {"id": "s2", "region": "r"}],
        "commissioners": [
            {"id": "c1", "system": "s1", "population": 100000},
            {"id": "c2", "system": "s2", "population": 100000},
        ],
        "providers": [{"id": "p1", "system": "s1"}, {"id": "p2", "system": "s2"}],
    },
    "tariff": {"prices": {"elective": 1000, "non_elective": 2000}},
    "contracts": [
        {
            "id": "k1",
            "commissioner": "c1",
            "provider": "p1",
            "plan": {"elective": 1200, "non_elective": 600},
        },
        {"id": "k2", "commissioner": "c2", "provider": "p2", "type": "block", "value": 12.0},
    ],
    "activity": {"level": {"2019/20": 1.0, "2020/21": 0.8}},
    "costs": {"providers": {"p1": {"fixed": 3.0}, "p2": {"fixed": 18.0}}},
    "covid": {
        "years": ["2020/21"],
        "blocks": {"uplift": 0.05},
        "costs": {"share_of_costs": 0.12, "profile": [2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1]},
    },
}


def run(doc: dict, replications: int = 1, **options) -> finsim.Results:
    scenario = finsim.Scenario.from_dict(doc)
    return finsim.run(scenario, replications=replications, seed=3, keep_tables=True, **options)


def with_covid(**changes) -> dict:
    doc = copy.deepcopy(DOC)
    doc["covid"].update(changes)
    return doc


def received(res: finsim.Results, category: str, org: str, fy: str = "2020/21") -> float:
    flows = res.flows
    rows = flows[(flows["category"] == category) & (flows["fy"] == fy)]
    net = (
        rows.loc[rows["target"] == org, "amount"].sum()
        - rows.loc[rows["source"] == org, "amount"].sum()
    )
    return float(net) / res.replications


def surplus(res: finsim.Results, org: str, fy: str = "2020/21") -> float:
    rows = res.positions[(res.positions["org"] == org) & (res.positions["fy"] == fy)]
    return float(rows["surplus"].mean())


@pytest.fixture(scope="module")
def base_run() -> finsim.Results:
    return run(DOC)


def test_blocks_are_the_month_9_average_uplifted(base_run):
    """k1 accrued 9 x 0.2 = 1.8 by M9 2019/20: a base of 1.8 / 9 = 0.2 a month, x 1.05 =
    0.21, 2.52 a year; k2's block base is 1.0, 1.05 a month, 12.6 a year."""
    blocks = base_run.table("covid_blocks").set_index("contract")
    assert blocks.loc["k1", "base"] == pytest.approx(0.2)
    assert blocks.loc["k1", "monthly"] == pytest.approx(0.21)
    assert blocks.loc["k1", "annual"] == pytest.approx(2.52)
    assert blocks.loc["k2", "annual"] == pytest.approx(12.6)
    assert set(blocks["fy"]) == {"2020/21"}


def test_the_block_is_paid_instead_of_the_contracts_own_rules(base_run):
    """Activity fell to 80% (k1 would have earned 0.8 x 2.4 = 1.92) but k1 is paid its block,
    2.52, accrued as paid: nothing to reconcile, nothing retained."""
    assert received(base_run, "contract_payment", "p1") == pytest.approx(2.52)
    contracts = base_run.table("contracts")
    row = contracts[(contracts["contract"] == "k1") & (contracts["fy"] == "2020/21")].iloc[0]
    assert (row["plan_value"], row["due"], row["on_account"]) == pytest.approx((2.52,) * 3)
    assert row["reconciliation"] == pytest.approx(0.0, abs=1e-12)
    # 2019/20 was paid by the contract's own rules
    assert received(base_run, "contract_payment", "p1", "2019/20") == pytest.approx(2.4)


def test_top_ups_bring_h1_to_break_even_a_month_in_arrears(base_run):
    """p1's month in Q1 costs 0.25 + 0.048 and earns 0.21: a deficit of 0.088, claimed at
    the month's end and paid the next month; from July 0.064. H1's top-ups are 3 x 0.088 +
    3 x 0.064 = 0.456, each claim the deficit to date after the previous month's top-up."""
    claims = base_run.table("covid_top_ups")
    p1 = claims[claims["org"] == "p1"].set_index("month")["claim"]
    assert list(p1.index) == [1, 2, 3, 4, 5, 6]
    assert p1.to_numpy() == pytest.approx([0.088] * 3 + [0.064] * 3)
    journal = base_run.journal
    top_ups = journal[(journal["category"] == "covid_top_up") & (journal["target"] == "p1")]
    h1 = top_ups[top_ups["source"] == "nhse"]  # then through c1, the envelope's
    assert sorted(set(h1["posted_month"])) == [2, 3, 4, 5, 6, 7]  # after the month
    assert received(base_run, "covid_top_up", "p1") == pytest.approx(0.456 + 6 * 0.04)


def test_envelopes_are_sized_from_h1_and_pass_through_the_lead_ccg(base_run):
    """p1's envelope top-up is (H1 top-ups 0.456 - H1 Covid costs 3 x 0.048 + 3 x 0.024 =
    0.216) / 6 = 0.04 a month; its Covid allocation Q1's costs 0.144 / 3 = 0.048 a month.
    Paid October-March through c1, which keeps nothing. H2 then earns 0.088 a month against
    a deficit of 0.064: p1 ends the year 6 x 0.024 = 0.144 in surplus (deficits and
    surpluses against the envelope stay)."""
    envelopes = base_run.table("covid_envelopes").set_index("org")
    assert envelopes.loc["p1", "top_up"] == pytest.approx(0.04)
    assert envelopes.loc["p1", "covid_allocation"] == pytest.approx(0.048)
    assert envelopes.loc["p1", "lead"] == "c1"
    assert received(base_run, "covid_allocation", "p1") == pytest.approx(6 * 0.048)
    assert received(base_run, "covid_allocation", "c1") == pytest.approx(0.0, abs=1e-12)
    assert surplus(base_run, "p1") == pytest.approx(0.144)
    # p2: deficit 1.5 + 0.288 - 1.05 = 0.738 in Q1, 0.594 after; envelope (3 x 0.738 + 3 x
    # 0.594 - (3 x 0.288 + 3 x 0.144)) / 6 = 0.45 and 0.864 / 3 = 0.288: 6 x 0.144 over
    assert surplus(base_run, "p2") == pytest.approx(6 * 0.144)


def test_covid_costs_and_funding_are_conserved(base_run):
    """p1's Covid costs are 0.36 in the year, to external; the treasury funds the centre for
    every top-up and envelope, so the centre ends where it was."""
    assert received(base_run, "covid_cost", "p1") == pytest.approx(-0.36)
    assert surplus(base_run, "nhse") == pytest.approx(0.0, abs=1e-12)


def test_the_elective_incentive_charges_a_shortfall_at_a_quarter_of_tariff():
    """s1's electives fall to 80 a month against 100 in 2019/20: the threshold is 90 (0.09
    GBP m at £1,000); 0.01 short, charged at 25%: 0.0025 a month, October-March 0.015, from
    c1 to the centre and from p1 (all of s1's base) to c1. s2 did no elective work: nothing."""
    res = run(with_covid(elective_incentive={}))
    table = res.table("elective_incentive")
    s1 = table[table["org"] == "s1"]
    assert list(s1["month"]) == [7, 8, 9, 10, 11, 12]
    assert s1["threshold_value"].to_numpy() == pytest.approx([0.09] * 6)
    assert received(res, "elective_incentive", "p1") == pytest.approx(-0.015)
    assert received(res, "elective_incentive", "c1") == pytest.approx(0.0, abs=1e-12)
    assert received(res, "elective_incentive", "nhse") == pytest.approx(0.015)
    assert received(res, "elective_incentive", "s2") == 0.0


def test_the_elective_incentive_pays_three_quarters_above_the_threshold():
    """At 110 a month, 20 above the threshold of 90: 0.02 x 75% = 0.015 a month, 0.09 in H2."""
    doc = with_covid(elective_incentive={"threshold": 0.9})
    doc["activity"]["level"] = {"2019/20": 1.0, "2020/21": 1.1}
    assert received(run(doc), "elective_incentive", "p1") == pytest.approx(0.09)


def test_2021_22_rolls_blocks_and_envelopes_forward_by_half():
    """2021/22: blocks 0.21 x 1.02 = 0.2142 a month, less 0.28% in H1 and 1.5% in H2: k1 earns
    6 x 0.2142 x (0.9972 + 0.985) = 2.5475...; envelopes all year (first month 1), p1's rolled
    forward 0.088 x 1.02 a month with the same efficiency; the H2 extra 6.0 is shared pro rata
    to blocks and envelopes and paid a sixth a month."""
    doc = with_covid(
        years=["2020/21", "2021/22"],
        blocks={
            "uplift": {"2020/21": 0.05, "2021/22": 0.02},
            "efficiency_first_half": {"2020/21": 0.0, "2021/22": 0.0028},
            "efficiency_second_half": {"2020/21": 0.0, "2021/22": 0.015},
        },
        envelopes={"first_month": {"2020/21": 7, "2021/22": 1}, "second_half_extra": 6.0},
    )
    doc["scenario"]["years"] = 3
    res = run(doc)
    halves = 6 * (0.9972 + 0.985)
    assert received(res, "contract_payment", "p1", "2021/22") == pytest.approx(0.2142 * halves)
    assert received(res, "covid_allocation", "p1", "2021/22") == pytest.approx(
        0.048 * 1.02 * halves
    )
    # the extra, pro rata to a year's blocks (p1 0.2142 x 11.8932, p2 1.071 x 11.8932) and
    # envelopes before efficiency (p1 12 x 0.088 x 1.02, p2 12 x (0.45 + 0.288) x 1.02)
    p1_weight = 0.2142 * halves + 12 * 0.088 * 1.02
    p1_share = p1_weight / (p1_weight + 1.071 * halves + 12 * 0.738 * 1.02)
    p1_top_up = 0.04 * 1.02 * halves + 6.0 * p1_share
    assert received(res, "covid_top_up", "p1", "2021/22") == pytest.approx(p1_top_up)
    assert res.table("covid_top_ups")["fy"].eq("2020/21").all()  # no top-ups in 2021/22


def test_results_do_not_depend_on_chunks_and_money_is_conserved():
    """With shocks and random Covid costs, replication r is the same whatever the chunk size;
    the ledger balances (finsim.run checks conservation at every year end)."""
    doc = with_covid(elective_incentive={}, costs={"share_of_costs": 0.1, "sd": 0.3})
    doc["activity"].update(shock_sd=0.1, monthly_sd=0.05)
    whole = run(doc, replications=4)
    chunked = run(doc, replications=4, chunk_size=1)
    cols = ["replication", "fy", "org", "surplus"]
    a = whole.positions[cols].sort_values(cols[:3]).reset_index(drop=True)
    b = chunked.positions[cols].sort_values(cols[:3]).reset_index(drop=True)
    assert np.array_equal(a["surplus"].to_numpy(), b["surplus"].to_numpy())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"years": ["2019/20"]}, "not a simulated year after the first"),
        ({"envelopes": {"lead_commissioners": {"s1": "c9"}}}, "unknown commissioner 'c9'"),
        ({"elective_incentive": {"pods": ["electiv"]}}, "unknown point of delivery 'electiv'"),
        ({"envelopes": {"first_month": 1}}, "envelopes from April need the year before"),
    ],
)
def test_a_bad_section_is_one_clear_error(change, message):
    """The first year cannot be a Covid year (no base); organisations and points of delivery
    must exist; April envelopes need a Covid year before them to roll forward."""
    with pytest.raises(finsim.ScenarioError, match=message):
        finsim.Scenario.from_dict(with_covid(**change))


def test_a_lead_commissioner_of_another_system_is_one_clear_error():
    """c2 is s2's commissioner: it cannot pass s1's envelope on (accepted silently before)."""
    doc = with_covid(envelopes={"lead_commissioners": {"s1": "c2"}})
    with pytest.raises(finsim.ScenarioError) as caught:
        finsim.Scenario.from_dict(doc)
    text = str(caught.value)
    assert "covid.envelopes.lead_commissioners.s1" in text
    assert "'c2' is a commissioner of system 's2', not of 's1'" in text


def test_the_blocks_uplift_must_be_stated():
    """The rule adds inflation (pay, CNST) with no figure in the sources (V1, V2; C): a silent
    0 would be a plausible wrong figure, so a covid section without blocks.uplift is an error
    naming it (0 was the default before)."""
    doc = with_covid(blocks={"base_month": 9})
    with pytest.raises(finsim.ScenarioError, match=r"covid\.blocks\.uplift"):
        finsim.Scenario.from_dict(doc)
    doc["covid"].pop("blocks")
    with pytest.raises(finsim.ScenarioError, match=r"covid\.blocks"):
        finsim.Scenario.from_dict(doc)
    stated = with_covid(blocks={"uplift": 0.0})  # stated as 0: accepted
    assert finsim.Scenario.from_dict(stated).model.covid.blocks.uplift.at(2020) == 0.0


def test_each_top_up_is_measured_paid_from_the_ledger(base_run):
    """Each month's claim is paid the next month (May to October), and the position read from
    the ledger right after it is paid, before that month's own income and costs, is nil: p1
    is paid 0.088 in May-July and 0.064 in August-October (September's claim, in October);
    its year to date after each is 0 (a claim not paid would leave -0.088 or -0.064 there).
    p2's claims are 0.738 and 0.594, and it too is back at 0."""
    paid = base_run.table("covid_top_ups_paid")
    p1 = paid[paid["org"] == "p1"].set_index("month")
    assert list(p1.index) == [2, 3, 4, 5, 6, 7]
    assert p1["paid"].to_numpy() == pytest.approx([0.088] * 3 + [0.064] * 3)
    assert p1["position_once_paid"].to_numpy() == pytest.approx([0.0] * 6, abs=1e-12)
    p2 = paid[paid["org"] == "p2"].set_index("month")
    assert p2["paid"].to_numpy() == pytest.approx([0.738] * 3 + [0.594] * 3)
    assert p2["position_once_paid"].to_numpy() == pytest.approx([0.0] * 6, abs=1e-12)


def test_the_elective_incentive_counts_as_incentive_money_in_the_funds_tests():
    """The funds test control totals before every fund's money (incentive_money): the
    elective incentive is incentive money too, so its slot holds what each body received to
    date, the same as the flows: p1 charged 0.015 in 2020/21, nothing to anyone else."""
    from finsim.mechanisms.base import Mechanism
    from finsim.mechanisms.incentives import incentive_money
    from finsim.scenario.models import StrictModel
    from finsim.state import later

    class Probe(Mechanism):
        section = "probe"
        Config = StrictModel
        requires = (later("covid.elective_received_ytd"),)

        def phases(self):
            return {"outturn": self.read}

        def read(self, ctx):
            money = np.asarray(incentive_money(ctx))
            ctx.records.record("probe", np.arange(money.shape[1]), money=money)

    doc = with_covid(elective_incentive={})
    doc["probe"] = {}
    system = finsim.System.default().with_mechanism(Probe)
    scenario = finsim.Scenario.from_dict(doc, system=system)
    res = finsim.run(scenario, replications=1, seed=3, keep_tables=True)
    probe = res.table("probe")
    probe = probe[probe["fy"] == "2020/21"].set_index("org")["money"]
    assert probe["p1"] == pytest.approx(received(res, "elective_incentive", "p1"))
    assert probe["p1"] == pytest.approx(-0.015)
    assert probe.drop("p1").abs().max() == pytest.approx(0.0, abs=1e-12)
