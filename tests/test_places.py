"""Place-based sub-allocation: an ICB's allocation shared among its places by need index."""

from __future__ import annotations

import numpy as np
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
