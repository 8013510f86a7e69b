"""The national scenario generator and the England-sized example."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import finsim
from finsim.synth import england

ROOT = Path(__file__).resolve().parents[1]


def test_the_national_example_validates_and_runs():
    """examples/england_synthetic.yaml (1,500 contracts, 5 years, every mechanism) runs at small R."""
    sc = finsim.load_scenario(ROOT / "examples" / "england_synthetic.yaml")
    res = finsim.run(sc, replications=2, seed=1)
    assert res.positions["fy"].nunique() == 5
    assert len(sc.model.contracts) >= 1500 and all(len(c.plan) >= 6 for c in sc.model.contracts)
    kinds = {p.kind for p in sc.model.organisations.providers}
    assert kinds == {"acute", "community", "mental_health", "ambulance"}
    assert any(p.teaching for p in sc.model.organisations.providers)


@pytest.mark.parametrize(
    "sizes",
    [dict(regions=3, systems=8, commissioners=15, providers=30, contracts=120, years=2), dict()],
)
def test_the_generator_honours_its_sizes(sizes):
    """The generator gives exactly the regions, systems, commissioners, providers and contracts asked."""
    doc = england(**sizes)
    expected = {
        "regions": 7,
        "systems": 42,
        "commissioners": 106,
        "providers": 220,
        "contracts": 1500,
        "years": 5,
        **sizes,
    }
    orgs = doc["organisations"]
    assert len(orgs["regions"]) == expected["regions"]
    assert len(orgs["systems"]) == expected["systems"]
    assert len(orgs["commissioners"]) == expected["commissioners"]
    assert len(orgs["providers"]) == expected["providers"]
    assert len(doc["contracts"]) == expected["contracts"]
    assert doc["scenario"]["years"] == expected["years"]
    finsim.Scenario.from_dict(doc)


def test_the_real_data_builder_gives_englands_shape():
    """From NHS England's 2024/25 file: 7 regions, 42 systems (ICBs), 106 commissioners."""
    doc = england(from_data="2024/25")
    orgs = doc["organisations"]
    assert (len(orgs["regions"]), len(orgs["systems"]), len(orgs["commissioners"])) == (7, 42, 106)
    finsim.Scenario.from_dict(doc)


def test_vectorised_results_equal_a_replication_by_replication_run():
    """R replications at once equal R runs of one replication each (same seeds)."""
    sc = finsim.Scenario.from_dict(
        england(regions=2, systems=4, commissioners=6, providers=10, contracts=30, years=2)
    )
    batch = finsim.run(sc, replications=5, seed=3, chunk_size=5).positions
    one_by_one = finsim.run(
        sc, replications=5, seed=3, chunk_size=1
    ).positions  # a loop of R = 1 chunks
    pd.testing.assert_frame_equal(batch, one_by_one, check_exact=True)
    single = finsim.run(sc, replications=1, seed=3).positions
    pd.testing.assert_frame_equal(
        batch[batch["replication"] == 0].reset_index(drop=True), single, check_exact=True
    )
    assert np.isfinite(batch["surplus"]).all()
