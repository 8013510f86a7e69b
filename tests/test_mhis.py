"""The mental health investment standard: mental health spend grows with the allocation.

The economy is examples/two_systems.yaml: South City CCG buys 62 and South Rural CCG 34 of
mental health care from South Shire Partnership (kind mental_health) on block contracts,
which grow by the tariff's cost uplift less efficiency (2018/19: 2.1% - 2% = 0.1%; 2019/20:
3.8% - 1.1% = 2.7%), while allocations grow by the uplift (3.4% in 2018/19, 5.3% in
2019/20). The North Shire CCGs buy no mental health care on contract.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest

import finsim

TWO_SYSTEMS = Path(__file__).resolve().parents[1] / "examples" / "two_systems.yaml"


@pytest.fixture(scope="module")
def base_doc() -> dict:
    doc = finsim.load_scenario(TWO_SYSTEMS).to_data()
    doc.pop("variants", None)
    return doc


def run(doc: dict, mhis: dict | None, replications: int = 1, **options) -> finsim.Results:
    doc = copy.deepcopy(doc)
    if mhis is not None:
        doc["mhis"] = mhis
    return finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=1, **options)


def invested(res: finsim.Results, source: str, target: str = "south_mh") -> dict:
    f = res.flows
    f = f[(f["category"] == "mhis_investment") & (f["source"] == source) & (f["target"] == target)]
    return (f.groupby("fy")["amount"].sum() / res.replications).round(9).to_dict()


def row(res: finsim.Results, org: str, fy: str) -> pd.Series:
    t = res.table("mhis")
    return t[(t["org"] == org) & (t["fy"] == fy) & (t["replication"] == 0)].iloc[0]


def test_the_shortfall_against_allocation_growth_is_invested_recurrently(base_doc):
    """South City: 2018/19 requires 62 x 1.034 = 64.108 and plans 62 x 1.001 = 62.062, so it
    invests 2.046, paid to South Shire Partnership, recurrent. 2019/20 requires 64.108 x 1.053
    = 67.505724 and plans 62.062 x 1.027 + 2.046 = 65.783674: 1.72205 more, 3.76805 in all.
    South Rural: 34 x (1.034 - 1.001) = 1.122."""
    res = run(base_doc, {})
    assert invested(res, "sc_ccg") == pytest.approx({"2018/19": 2.046, "2019/20": 3.76805})
    assert invested(res, "sr_ccg") == pytest.approx({"2018/19": 1.122, "2019/20": 2.06635})
    f = res.flows[res.flows["category"] == "mhis_investment"]
    assert (f["recurrence"] == "recurrent").all() and (f["kind"] == "revenue").all()
    sc = row(res, "sc_ccg", "2019/20")
    assert sc["required"] == pytest.approx(67.505724)
    assert sc["spend_before"] == pytest.approx(65.783674)
    assert sc["shortfall"] == pytest.approx(1.72205)
    assert sc["allocation_growth"] == pytest.approx(0.053)
    assert (sc["met_before"], sc["met"]) == (0.0, 1.0)
    first = row(res, "sc_ccg", "2017/18")
    assert first["spend"] == 62.0 and pd.isna(first["required"]) and pd.isna(first["met"])


def test_the_provider_spends_the_investment_and_the_commissioner_bears_it(base_doc):
    """With provider_cost 1 the provider's surplus is as without the standard and South City's
    falls by exactly its investment; with 0.5 the provider keeps half."""
    without = run(base_doc, None).positions.set_index(["org", "fy"])["surplus"]
    full = run(base_doc, {}).positions.set_index(["org", "fy"])["surplus"]
    half = run(base_doc, {"provider_cost": 0.5}).positions.set_index(["org", "fy"])["surplus"]
    assert full[("south_mh", "2019/20")] == pytest.approx(without[("south_mh", "2019/20")])
    assert without[("sc_ccg", "2019/20")] - full[("sc_ccg", "2019/20")] == pytest.approx(3.76805)
    gain = half[("south_mh", "2019/20")] - without[("south_mh", "2019/20")]
    assert gain == pytest.approx(0.5 * (3.76805 + 2.06635))


def test_the_extra_uplift_raises_the_requirement(base_doc):
    """With an extra 1% from 2018/19, South City's 2018/19 requirement is 62 x (1 + 0.034 +
    0.01) = 64.728: it invests 64.728 - 62.062 = 2.666."""
    res = run(base_doc, {"uplift": {"2018/19": 0.01}})
    assert invested(res, "sc_ccg")["2018/19"] == pytest.approx(2.666)
    assert row(res, "sc_ccg", "2018/19")["required_growth"] == pytest.approx(0.044)


def test_reported_only_when_not_enforced(base_doc):
    """invest 0: no money moves, and the shortfall is reported as not met."""
    res = run(base_doc, {"invest": 0.0})
    assert not (res.flows["category"] == "mhis_investment").any()
    sc = row(res, "sc_ccg", "2018/19")
    assert sc["shortfall"] == pytest.approx(2.046) and sc["invested"] == 0.0
    assert (sc["met_before"], sc["met"]) == (0.0, 0.0)


def test_other_mental_health_spend_counts_and_without_a_contract_is_bought_outside(base_doc):
    """South City's other mental health spend of 10 (flat) raises its base: 2018/19 requires
    72 x 1.034 = 74.448 against 62.062 + 10, so it invests 2.386. North East Shire, with 10 of
    other spend and no mental health contract, invests 10 x 0.034 = 0.34, paid to external."""
    res = run(base_doc, {"other_spend": {"sc_ccg": 10.0, "ne_ccg": 10.0}})
    assert invested(res, "sc_ccg")["2018/19"] == pytest.approx(2.386)
    assert invested(res, "ne_ccg", "external")["2018/19"] == pytest.approx(0.34)


def test_the_investment_is_shared_pro_rata_to_contract_value(base_doc):
    """A second mental health provider with a 38 block from South City: its 100 of mental
    health contracts need 100 x (1.034 - 1.001) = 3.3, shared 62 : 38 = 2.046 and 1.254."""
    doc = copy.deepcopy(base_doc)
    doc["organisations"]["providers"].append(
        {"id": "north_mh", "system": "north_shire", "kind": "mental_health"}
    )
    doc["contracts"].append(
        {
            "id": "sc-north_mh",
            "commissioner": "sc_ccg",
            "provider": "north_mh",
            "type": "block",
            "value": 38.0,
        }
    )
    res = run(doc, {"commissioners": ["sc_ccg"]})
    assert invested(res, "sc_ccg")["2018/19"] == pytest.approx(2.046)
    assert invested(res, "sc_ccg", "north_mh")["2018/19"] == pytest.approx(1.254)
    assert set(res.table("mhis")["org"]) == {"sc_ccg"}


def test_tables_do_not_depend_on_chunking(base_doc):
    """Four replications in chunks of 1 and of 4 give the same table."""
    a = run(base_doc, {}, replications=4, chunk_size=1).table("mhis")
    b = run(base_doc, {}, replications=4, chunk_size=4).table("mhis")
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contracts": None}, "the scenario has no 'contracts' section"),
        ({"mhis": {"streams": ["nothing"]}}, "unknown allocation stream 'nothing'"),
        ({"mhis": {"commissioners": ["south_mh"]}}, "'south_mh' is a provider"),
        ({"mhis": {"other_spend": {"nobody": 1.0}}}, "unknown commissioner 'nobody'"),
    ],
)
def test_a_bad_section_is_one_clear_error(base_doc, change, message):
    """The standard needs contracts and allocations, known streams and commissioners."""
    doc = copy.deepcopy(base_doc)
    doc["mhis"] = {}
    for key, value in change.items():
        if value is None:
            doc.pop(key)
        else:
            doc[key] = value
    with pytest.raises(finsim.ScenarioError, match=message):
        finsim.Scenario.from_dict(doc)


def test_other_spend_of_a_commissioner_not_bound_is_one_clear_error(base_doc):
    """South City is bound, North East Shire is not: its other spend of 10 would be counted
    for no one (silently dropped before), so it is an error naming the field."""
    doc = copy.deepcopy(base_doc)
    doc["mhis"] = {"commissioners": ["sc_ccg"], "other_spend": {"sc_ccg": 1.0, "ne_ccg": 10.0}}
    with pytest.raises(finsim.ScenarioError) as caught:
        finsim.Scenario.from_dict(doc)
    text = str(caught.value)
    assert "mhis.other_spend.ne_ccg" in text and "not in mhis.commissioners" in text
    assert text.count("mhis.other_spend") == 1  # South City's, bound, is fine
