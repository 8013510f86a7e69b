"""Examples are tests: every shipped scenario validates and runs, with each of its variants."""

from __future__ import annotations

from pathlib import Path

import pytest

import finsim

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))


def test_there_are_examples():
    """The flagship example is shipped."""
    assert any(p.name == "two_systems.yaml" for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_validates_and_runs(path):
    """The example loads, runs for a few replications, and every variant runs too."""
    scenario = finsim.load_scenario(path)
    for variant in ["baseline", *scenario.variants]:
        res = finsim.run(scenario.with_variant(variant), replications=3, seed=1)
        assert len(res.positions) > 0
        assert res.positions["surplus"].notna().all()


def test_two_systems_has_its_documented_shape():
    """two_systems.yaml: one region, two systems, four commissioners, four providers, three years."""
    sc = finsim.load_scenario(Path(__file__).resolve().parents[1] / "examples" / "two_systems.yaml")
    orgs = sc.model.organisations
    assert (len(orgs.regions), len(orgs.systems), len(orgs.commissioners), len(orgs.providers)) == (
        1,
        2,
        4,
        4,
    )
    assert sc.calendar.labels == ["2017/18", "2018/19", "2019/20"]
