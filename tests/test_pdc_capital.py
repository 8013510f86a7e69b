"""Capital's depreciation and spending limits, and the PDC dividend on relevant net assets."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

import finsim

TWO_SYSTEMS = Path(__file__).resolve().parents[1] / "examples" / "two_systems.yaml"


@pytest.fixture(scope="module")
def base_doc() -> dict:
    doc = finsim.load_scenario(TWO_SYSTEMS).to_data()
    doc.pop("variants", None)
    return doc


def with_sections(doc: dict, **sections) -> dict:
    doc = copy.deepcopy(doc)
    doc.update(sections)
    return doc


def run(doc: dict, replications: int = 1, **options) -> finsim.Results:
    return finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=1, **options)


def flows_of(res: finsim.Results, category: str, org: str, side: str = "source") -> dict:
    flows = res.flows[(res.flows["category"] == category) & (res.flows[side] == org)]
    return (flows.groupby("fy")["amount"].sum() / res.replications).round(9).to_dict()


CAPITAL = {
    "envelope": 100.0,
    "depreciate": True,
    "bids": [
        {"id": "theatres", "provider": "north_acute", "fy": "2017/18", "amount": 30.0, "score": 5}
    ],
}


# -- capital -----------------------------------------------------------------------------------


def test_funded_schemes_depreciate_straight_line_from_the_next_year(base_doc):
    """A 30 scheme funded in 2017/18 over the default 30-year life costs 30 / 30 = 1.0 a year
    from 2018/19 (none in the year funded): recurrent revenue, paid to external."""
    res = run(with_sections(base_doc, capital=CAPITAL))
    assert flows_of(res, "depreciation", "north_acute") == pytest.approx(
        {"2018/19": 1.0, "2019/20": 1.0}
    )
    dep = res.flows[res.flows["category"] == "depreciation"]
    assert set(dep["target"]) == {"external"}
    assert (dep["kind"] == "revenue").all() and (dep["recurrence"] == "recurrent").all()


def test_a_bids_own_life_overrides_the_sections(base_doc):
    """The same scheme with a 10-year life costs 30 / 10 = 3.0 a year."""
    capital = copy.deepcopy(CAPITAL)
    capital["bids"][0]["life_years"] = 10
    res = run(with_sections(base_doc, capital=capital))
    assert flows_of(res, "depreciation", "north_acute")["2019/20"] == pytest.approx(3.0)


def test_no_depreciation_unless_asked(base_doc):
    """Without depreciate: true nothing is charged (capital as before)."""
    capital = {k: v for k, v in CAPITAL.items() if k != "depreciate"}
    res = run(with_sections(base_doc, capital=capital))
    assert not (res.flows["category"] == "depreciation").any()


def test_bids_beyond_a_providers_limit_are_not_funded_though_the_envelope_has_room(base_doc):
    """North Acute's limit is 40: its 30 scheme (score 5) is funded, its 15 (score 4) would
    take it to 45 and is not, though 70 of the envelope is left; South Acute's 15 is funded.
    The table says why."""
    capital = {
        "envelope": 100.0,
        "limit": {"north_acute": 40.0},
        "bids": [
            {"id": "a", "provider": "north_acute", "fy": "2017/18", "amount": 30.0, "score": 5},
            {"id": "b", "provider": "north_acute", "fy": "2017/18", "amount": 15.0, "score": 4},
            {"id": "c", "provider": "south_acute", "fy": "2017/18", "amount": 15.0, "score": 3},
        ],
    }
    res = run(with_sections(base_doc, capital=capital))
    table = res.table("capital").set_index("bid")
    assert table["funded"].to_dict() == {"a": 1.0, "b": 0.0, "c": 1.0}
    assert table["reason"].to_dict() == {"a": "funded", "b": "limit", "c": "funded"}
    received = flows_of(res, "capital_allocation", "north_acute", side="target")
    assert received == {"2017/18": 30.0}


def test_a_systems_limit_caps_its_providers_together(base_doc):
    """South Shire's limit is 20 in 2017/18: its acute's 15 fits, its mental health trust's 10
    would make 25 and does not (reason limit); with an envelope of 5 a bid fails on the
    envelope instead."""
    capital = {
        "envelope": {"2017/18": 100.0, "2018/19": 5.0},
        "limit": {"south_shire": {"2017/18": 20.0}},
        "bids": [
            {"id": "a", "provider": "south_acute", "fy": "2017/18", "amount": 15.0, "score": 5},
            {"id": "b", "provider": "south_mh", "fy": "2017/18", "amount": 10.0, "score": 4},
            {"id": "c", "provider": "north_acute", "fy": "2018/19", "amount": 8.0, "score": 4},
        ],
    }
    table = run(with_sections(base_doc, capital=capital)).table("capital").set_index("bid")
    assert table["reason"].to_dict() == {"a": "funded", "b": "limit", "c": "envelope"}


def test_a_limit_on_a_commissioner_is_refused(base_doc):
    """A limit names a provider or a system; a CCG is an error naming the path."""
    capital = {"envelope": 10.0, "limit": {"ne_ccg": 5.0}}
    with pytest.raises(finsim.ScenarioError) as caught:
        finsim.Scenario.from_dict(with_sections(base_doc, capital=capital))
    assert "capital.limit.ne_ccg" in str(caught.value)


# -- the PDC dividend --------------------------------------------------------------------------


def test_the_dividend_is_3_5_percent_of_the_declared_assets(base_doc):
    """Relevant net assets of 100 and no capital: 3.5% of 100 = 3.5 a year, paid by the
    provider to the centre, recurrent revenue."""
    res = run(with_sections(base_doc, pdc={"assets": {"south_mh": 100.0}}))
    assert flows_of(res, "pdc_dividend", "south_mh") == pytest.approx(
        {"2017/18": 3.5, "2018/19": 3.5, "2019/20": 3.5}
    )
    paid = res.flows[res.flows["category"] == "pdc_dividend"]
    assert set(paid["target"]) == {"nhse"} and (paid["recurrence"] == "recurrent").all()
    assert (paid["kind"] == "revenue").all()


def test_the_dividend_is_on_average_assets_with_capital_and_depreciation(base_doc):
    """Assets 100; 30 of capital in 2017/18: closing 130, average 115, dividend 4.025. In
    2018/19 depreciation of 1.0: closing 129, average 129.5, dividend 4.5325; 2019/20:
    closing 128, average 128.5, dividend 4.4975."""
    doc = with_sections(base_doc, capital=CAPITAL, pdc={"assets": {"north_acute": 100.0}})
    res = run(doc)
    assert flows_of(res, "pdc_dividend", "north_acute") == pytest.approx(
        {"2017/18": 4.025, "2018/19": 4.5325, "2019/20": 4.4975}
    )
    table = res.table("pdc")
    assert table["closing"].round(9).tolist() == [130.0, 129.0, 128.0]


def test_the_rate_is_a_setting_and_accepts_a_percentage(base_doc):
    """dividend_rate "6%" on assets of 50 is 3.0 a year."""
    res = run(with_sections(base_doc, pdc={"dividend_rate": "6%", "assets": {"south_mh": 50.0}}))
    assert flows_of(res, "pdc_dividend", "south_mh")["2018/19"] == pytest.approx(3.0)


def test_no_dividend_on_negative_assets(base_doc):
    """Relevant net assets of -20: no dividend is charged."""
    res = run(with_sections(base_doc, pdc={"assets": {"south_mh": -20.0}}))
    assert not (res.flows["category"] == "pdc_dividend").any()


def test_pdc_assets_must_name_providers(base_doc):
    """Assets declared for a CCG, or an unknown id, are errors naming the path."""
    for org in ("ne_ccg", "north_acutee"):
        with pytest.raises(finsim.ScenarioError) as caught:
            finsim.Scenario.from_dict(with_sections(base_doc, pdc={"assets": {org: 10.0}}))
        assert f"pdc.assets.{org}" in str(caught.value)


def test_pdc_and_capital_are_the_same_whatever_the_chunk_size(base_doc):
    """Three replications in chunks of 1 or 3 give the same flows to the bit."""
    sc = finsim.Scenario.from_dict(
        with_sections(base_doc, capital=CAPITAL, pdc={"assets": {"north_acute": 100.0}})
    )
    a = finsim.run(sc, replications=3, seed=4, chunk_size=1).flows
    b = finsim.run(sc, replications=3, seed=4, chunk_size=3).flows
    assert a.equals(b)
