"""The engine: money conserved, deterministic, independent of chunking and backend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import finsim
from finsim.ledger import CATEGORIES

from .economies import economies

EXAMPLE = "examples/two_systems.yaml"


@pytest.fixture(scope="module")
def scenario() -> finsim.Scenario:
    return finsim.load_scenario(EXAMPLE)


def _by_replication(res: finsim.Results) -> pd.DataFrame:
    return res.positions.sort_values(["replication", "fy", "org"]).reset_index(drop=True)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=economies(), chunk_size=st.integers(1, 6))
def test_a_replication_is_the_same_bits_in_any_chunk(doc, chunk_size):
    """Generated economies: every figure of a replication is identical, to the last bit,
    whatever the chunk it ran in (and so whatever the backend that ran the chunk)."""
    scenario = finsim.Scenario.from_dict(doc)
    whole = finsim.run(scenario, replications=6, seed=11)
    chunked = finsim.run(scenario, replications=6, seed=11, chunk_size=chunk_size)
    pd.testing.assert_frame_equal(
        _by_replication(whole), _by_replication(chunked), check_exact=True
    )
    pd.testing.assert_frame_equal(whole.flows, chunked.flows, check_exact=True)
    pd.testing.assert_frame_equal(whole.summary(), chunked.summary(), check_exact=True)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=economies(), replications=st.integers(1, 5))
def test_money_is_conserved_in_every_replication_and_year(doc, replications):
    """In generated economies, NHS bodies' surpluses sum to what came in from outside minus what left."""
    res = finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=3)
    flows = res.flows
    outside = flows["source"].isin(["treasury", "external"]) & ~flows["target"].isin(
        ["treasury", "external"]
    )
    leaving = flows["target"].isin(["treasury", "external"]) & ~flows["source"].isin(
        ["treasury", "external"]
    )
    net_in = (
        flows[outside]
        .groupby(["replication", "fy"])["amount"]
        .sum()
        .sub(flows[leaving].groupby(["replication", "fy"])["amount"].sum(), fill_value=0.0)
    )
    surplus = res.positions.groupby(["replication", "fy"])["surplus"].sum()
    joined = pd.concat([surplus, net_in], axis=1, keys=["surplus", "net_in"]).fillna(0.0)
    scale = 1.0 + flows["amount"].abs().sum()
    assert np.allclose(joined["surplus"], joined["net_in"], rtol=0, atol=1e-9 * scale)
    assert len(surplus) == replications * doc["scenario"]["years"]


def test_same_seed_gives_identical_results(scenario):
    """Two runs with the same seed produce identical positions and flows."""
    a = finsim.run(scenario, replications=20, seed=11)
    b = finsim.run(scenario, replications=20, seed=11)
    pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)
    pd.testing.assert_frame_equal(a.flows, b.flows, check_exact=True)


def test_different_seeds_give_different_results(scenario):
    """The seed matters: another seed moves the providers' surpluses."""
    a = finsim.run(scenario, replications=5, seed=1).positions["surplus"]
    b = finsim.run(scenario, replications=5, seed=2).positions["surplus"]
    assert not np.allclose(a, b)


def test_variants_share_random_numbers(scenario):
    """Common random numbers: a tariff-only variant leaves realised activity (block income) unchanged."""
    base = finsim.run(scenario, replications=8, seed=2)
    tight = finsim.run(scenario.with_variant("tight_tariff"), replications=8, seed=2)
    assert tight.variant == "tight_tariff"
    f0, f1 = base.flows, tight.flows
    key = ["replication", "fy", "source", "target", "category"]
    # first-year activity payments are identical (prices only move from the second year)
    first = (f0["fy"] == "2017/18") & (f0["category"] == "contract_payment")
    first1 = (f1["fy"] == "2017/18") & (f1["category"] == "contract_payment")
    pd.testing.assert_frame_equal(
        f0[first].set_index(key)[["amount"]],
        f1[first1].set_index(key)[["amount"]],
        check_exact=True,
    )
    later = (f0["fy"] == "2019/20") & (f0["source"] == "sc_ccg") & (f0["target"] == "south_acute")
    later1 = (f1["fy"] == "2019/20") & (f1["source"] == "sc_ccg") & (f1["target"] == "south_acute")
    assert (f1[later1]["amount"].to_numpy() < f0[later]["amount"].to_numpy()).all()


def test_recurrent_allocation_carries_with_uplift(scenario):
    """Next year's allocation is this year's recurrent allocation grown by the uplift."""
    flows = finsim.run(scenario, replications=1, seed=0).flows
    alloc = flows[(flows["category"] == "allocation") & (flows["target"] == "ne_ccg")].set_index(
        "fy"
    )["amount"]
    assert alloc["2017/18"] == pytest.approx(560.0)
    assert alloc["2018/19"] == pytest.approx(560.0 * 1.034)
    assert alloc["2019/20"] == pytest.approx(560.0 * 1.034 * 1.053)


def test_block_contract_is_paid_in_twelve_equal_instalments(scenario):
    """A block contract pays a twelfth of its value each month, whatever the activity."""
    journal = finsim.run(scenario, replications=2, seed=0).journal
    block = journal[
        (journal["source"] == "ne_ccg")
        & (journal["target"] == "north_community")
        & (journal["fy"] == "2017/18")
    ]
    assert len(block) == 24
    assert np.allclose(block["amount"], 46.0 / 12)


def test_activity_contract_pays_activity_times_price_times_mff():
    """An activity contract with no shocks pays plan x price x market forces factor."""
    doc = {
        "scenario": {"name": "t", "start": "2018/19", "years": 1},
        "organisations": {
            "regions": [{"id": "r"}],
            "systems": [{"id": "s", "region": "r"}],
            "commissioners": [{"id": "c", "system": "s"}],
            "providers": [{"id": "p", "system": "s", "market_forces_factor": 1.1}],
        },
        "tariff": {"prices": {"elective": 3000.0, "ae": 150.0}},
        "contracts": [
            {
                "id": "k",
                "commissioner": "c",
                "provider": "p",
                "plan": {"elective": 1200, "ae": 24000},
            }
        ],
        "activity": {},
    }
    flows = finsim.run(finsim.Scenario.from_dict(doc), replications=1).flows
    paid = flows[flows["category"] == "contract_payment"]["amount"].sum()
    assert paid == pytest.approx((1200 * 3000 + 24000 * 150) * 1.1 / 1e6)


def test_positions_have_the_contract_columns(scenario):
    """positions carries every column of the public contract."""
    positions = finsim.run(scenario, replications=2, seed=0).positions
    for column in (
        "variant",
        "replication",
        "fy",
        "org",
        "org_type",
        "system",
        "region",
        "income",
        "expenditure",
        "surplus",
        "underlying_surplus",
        "control_total",
        "met_control_total",
        "incentive_earned",
    ):
        assert column in positions.columns
    assert set(positions["fy"]) == {"2017/18", "2018/19", "2019/20"}
    assert (positions["surplus"] == positions["income"] - positions["expenditure"]).all()


def test_flows_use_the_documented_vocabulary(scenario):
    """Every flow has a documented category, recurrence and kind."""
    flows = finsim.run(scenario, replications=3, seed=0).flows
    assert set(flows["category"]) <= set(CATEGORIES)
    assert set(flows["recurrence"]) <= {"recurrent", "non_recurrent"}
    assert set(flows["kind"]) <= {"revenue", "capital"}


def test_bad_options_are_usage_errors(scenario):
    """Nonsense replications, seeds, chunk sizes and backends raise a UsageError naming the option."""
    for kwargs, name in (
        ({"replications": 0}, "replications"),
        ({"seed": -1}, "seed"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"backend": "gpu"}, "backend"),
    ):
        with pytest.raises(finsim.UsageError) as info:
            finsim.run(scenario, **kwargs)
        assert info.value.problems[0].path == name


def test_monthly_year_to_date_at_m12_is_the_years_surplus(scenario):
    """Month-end positions: at M12 each body's year-to-date surplus equals its surplus for the year."""
    res = finsim.run(scenario, replications=4, seed=1)
    monthly = res.monthly
    march = monthly[monthly["month"] == 12].set_index(["replication", "fy", "org"])["surplus_ytd"]
    year = res.positions.set_index(["replication", "fy", "org"])["surplus"]
    assert np.allclose(march.loc[year.index], year, atol=1e-9)
    first = monthly[(monthly["month"] == 1) & (monthly["org"] == "north_acute")]
    assert (first["surplus_ytd"].abs() < year.xs("north_acute", level="org").abs().max()).all()


def test_monthly_positions_are_optional(scenario):
    """keep_monthly=False keeps no month-end positions."""
    assert finsim.run(scenario, replications=2, keep_monthly=False).monthly is None


def test_a_finished_chunk_leaves_no_engine_behind(scenario, monkeypatch):
    """Mechanisms publish callables into the state they hold: reference cycles. Once a chunk
    is done the engine lets go of them, so they are freed at once, not left (with their
    arrays) for Python's occasional full collection, which let a long serial run's memory
    grow chunk by chunk (2.1 GB for 10,000 England replications, 1.1 GB now)."""
    import gc
    import weakref

    from finsim import runner
    from finsim.mechanisms.base import Mechanism

    made: list[weakref.ref] = []
    start = Mechanism.__init__

    def recorded(self, *args, **kwargs):
        start(self, *args, **kwargs)
        made.append(weakref.ref(self))

    monkeypatch.setattr(Mechanism, "__init__", recorded)
    gc.collect()
    gc.disable()  # nothing but reference counts may free them
    try:
        output = runner.run_chunk(scenario, np.arange(3), 1)
        alive = [type(ref()).__name__ for ref in made if ref() is not None]
    finally:
        gc.enable()
    assert made and not alive
    assert output.replications.tolist() == [0, 1, 2]
