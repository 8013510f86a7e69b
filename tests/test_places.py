"""Place-based sub-allocation: an ICB's allocation shared among its places by need index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import finsim
from finsim.data import need_index, scenario_organisations, weighted_populations


@pytest.fixture(scope="module")
def practices():
    return weighted_populations("2024/25")


@pytest.fixture(scope="module")
def england(practices):
    organisations = scenario_organisations(practices, commissioners="sub_icb")
    organisations["centre"] = {"id": "nhse"}
    doc = {
        "scenario": {"name": "England places", "start": "2024/25", "years": 2},
        "organisations": organisations,
        "allocations": {
            "streams": {
                "icb_core": {
                    "holder": "systems",
                    "amount": {"2024/25": 90_000.0, "2025/26": 93_000.0},
                    "growth": None,
                    "places": {"need": "weighted_population", "decimals": 3},
                }
            }
        },
    }
    del doc["allocations"]["streams"]["icb_core"]["growth"]
    return finsim.run(finsim.Scenario.from_dict(doc), replications=1)


@pytest.mark.parametrize("icb", ["QWO", "QHM", "QE1", "QOP"])
def test_place_indices_are_the_place_based_tools_indices(practices, england, icb):
    """The mechanism's index for each sub-ICB place equals finsim.data.need_index (the tool's formula)."""
    places = england.table("places")
    places = places[(places["fy"] == "2024/25")].set_index("org")
    expected = need_index(practices, icb, "sub_icb", components=["core"])["core"]
    got = places.loc[expected.index, "need_index"]
    assert np.array_equal(got.to_numpy(), expected.to_numpy())


def test_places_share_the_whole_system_allocation_by_population_times_index(england):
    """Each ICB's allocation is passed on in full, each place getting pop x index / sum(pop x index)."""
    places = england.table("places")
    year = places[places["fy"] == "2024/25"]
    systems = year.groupby("system_allocation")["allocation"].sum()
    assert np.allclose(systems.index.to_numpy(), systems.to_numpy())
    flows = england.flows
    icb = flows[
        (flows["fy"] == "2024/25")
        & (flows["source"] == "QWO")
        & (flows["category"] == "allocation")
    ]
    into = flows[
        (flows["fy"] == "2024/25")
        & (flows["target"] == "QWO")
        & (flows["category"] == "allocation")
    ]
    assert icb["amount"].sum() == pytest.approx(into["amount"].sum())
    pos = england.positions.set_index(["fy", "org"])
    assert pos.loc[("2024/25", "QWO"), "surplus"] == pytest.approx(0.0, abs=1e-9)


def test_system_targets_follow_weighted_population(england, practices):
    """Every ICB's target is its share of national weighted population; there are 42 ICBs and 106 places."""
    t = england.table("allocations")
    year = t[t["fy"] == "2024/25"].set_index("org")
    assert len(year) == 42
    assert len(england.table("places").query("fy == '2024/25'")) == 106
    core = practices.groupby("icb")["core"].sum()
    expected = 90_000.0 * core / core.sum()
    assert np.allclose(year.loc[expected.index, "target"], expected)


def _places_run(organisations: dict, whole_people: bool | None) -> pd.Series:
    """Each place's need index (3 dp) in 2024/25, with ``places.whole_people`` as given."""
    places: dict = {"need": "weighted_population", "decimals": 3}
    if whole_people is not None:
        places["whole_people"] = whole_people
    doc = {
        "scenario": {"name": "England places", "start": "2024/25", "years": 1},
        "organisations": {**organisations, "centre": {"id": "nhse"}},
        "allocations": {
            "streams": {"icb_core": {"holder": "systems", "amount": 90_000.0, "places": places}}
        },
    }
    table = finsim.run(finsim.Scenario.from_dict(doc), replications=1).table("places")
    return table.set_index("org")["need_index"]


def _tool(practices: pd.DataFrame, place_column: str, whole_people: bool, name) -> pd.Series:
    """need_index for every ICB's places, indexed by the scenario's id of each place."""
    parts = []
    for icb in practices["icb"].unique():
        index = need_index(practices, icb, place_column, ["core"], whole_people=whole_people)
        parts.append(index["core"].rename(lambda place, icb=icb: name(icb, place)))
    return pd.concat(parts)


@pytest.fixture(scope="module")
def districts(practices):
    """England with each ICB's part of each local authority district as a place (commissioner)."""
    parts = practices.groupby(["icb", "lad"], sort=True)[["population", "core"]].sum()
    return {
        "regions": [{"id": r} for r in sorted(practices["region"].unique())],
        "systems": [
            {"id": icb, "region": region}
            for icb, region in practices.groupby("icb")["region"].first().items()
        ],
        "commissioners": [
            {
                "id": f"{icb}-{lad}",
                "system": icb,
                "population": float(row.population),
                "weighted_population": float(row.core),
            }
            for (icb, lad), row in parts.iterrows()
        ],
    }


def test_unrounded_populations_give_need_index_without_whole_people(practices):
    """places.whole_people: false is NHS England's formula on unrounded populations: every sub-ICB
    place's index equals need_index(..., whole_people=False), and the default is the tool's."""
    organisations = scenario_organisations(practices, commissioners="sub_icb")
    for whole_people in (False, None):
        got = _places_run(organisations, whole_people)
        expected = _tool(practices, "sub_icb", whole_people is None, lambda icb, p: p)
        assert len(expected) == 106
        assert np.array_equal(got.loc[expected.index].to_numpy(), expected.to_numpy())


def test_whole_people_by_district_is_the_tools_rounding_and_false_is_not(practices, districts):
    """With districts as places, rounding to whole people moves 4 of 342 indices (by 0.001 to
    0.008); each setting of places.whole_people gives need_index's indices with the same
    setting, exactly."""
    got = {whole: _places_run(districts, whole) for whole in (True, False)}
    for whole in (True, False):
        expected = _tool(practices, "lad", whole, lambda icb, lad: f"{icb}-{lad}")
        assert len(expected) == len(got[whole]) == 342
        assert np.array_equal(got[whole].loc[expected.index].to_numpy(), expected.to_numpy())
    moved = got[True] != got[False].loc[got[True].index]
    assert moved.sum() == 4
    assert ((got[True] - got[False].loc[got[True].index]).abs() <= 0.0085).all()
