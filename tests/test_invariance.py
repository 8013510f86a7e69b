"""One suite for the promise that a replication's figures do not depend on how it was run.

A replication is identified by (seed, replication number). Whatever the chunk size, the
backend (serial, local processes, a Dask cluster) or the number of workers, every table
of every example is the same to the last bit: positions, flows, events, the summary, the
subsidies and every mechanism's own table. Generated economies are covered by the
property tests in tests/test_engine.py (core mechanisms) and tests/test_invariants.py
(every mechanism); this suite runs the shipped examples, whose mechanisms and sizes are
the ones analysts use.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import finsim

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Examples and the replications each runs with: enough for several chunks of each size.
CASES = {
    "two_systems": 12,
    "kent_dispute_2017": 12,
    "ics_control_totals_2018": 8,
    "regional_control_total_2019": 8,
    "joint_oversight_2018": 8,
    "saffs_2001": 6,
    "allocations_review_2013": 6,
}
SEED = 9
KEEP = {
    "keep_tables": True,
    "keep_flows": True,
    "keep_positions": True,
    "keep_monthly": True,
    "progress": False,
}


def _tables(res: finsim.Results) -> dict[str, pd.DataFrame]:
    """Every table a run kept, each in a canonical row order."""
    out: dict[str, pd.DataFrame] = {}
    for name, frame in res.tables().items():
        frame = frame.reset_index(drop=True)
        if "replication" in frame.columns:
            frame = frame.sort_values("replication", kind="stable").reset_index(drop=True)
        out[name] = frame
    return out


def _assert_identical(expected: finsim.Results, got: finsim.Results, how: str) -> None:
    want, have = _tables(expected), _tables(got)
    assert list(have) == list(want), how
    for name, frame in want.items():
        try:
            pd.testing.assert_frame_equal(frame, have[name], check_exact=True)
        except AssertionError as exc:
            raise AssertionError(f"{how}: table '{name}' differs\n{exc}") from None


@pytest.fixture(scope="module")
def reference() -> dict[str, finsim.Results]:
    """Each example run as one chunk, serially."""
    out = {}
    for stem, replications in CASES.items():
        scenario = finsim.load_scenario(EXAMPLES / f"{stem}.yaml")
        out[stem] = finsim.run(
            scenario, replications=replications, seed=SEED, chunk_size=replications, **KEEP
        )
    return out


@pytest.mark.parametrize("chunk_size", [1, 5])
@pytest.mark.parametrize("stem", list(CASES))
def test_every_table_is_the_same_bits_in_any_chunk(reference, stem, chunk_size):
    """Chunks of 1 and 5 give every table exactly as one chunk of all replications does."""
    scenario = finsim.load_scenario(EXAMPLES / f"{stem}.yaml")
    res = finsim.run(scenario, replications=CASES[stem], seed=SEED, chunk_size=chunk_size, **KEEP)
    _assert_identical(reference[stem], res, f"{stem}, chunks of {chunk_size}")


def test_one_replication_is_replication_zero_of_a_batch(reference):
    """A readable trace (R = 1) is replication 0 of a larger run."""
    scenario = finsim.load_scenario(EXAMPLES / "two_systems.yaml")
    one = finsim.run(scenario, replications=1, seed=SEED, **KEEP).positions
    batch = reference["two_systems"].positions
    pd.testing.assert_frame_equal(
        one, batch[batch["replication"] == 0].reset_index(drop=True), check_exact=True
    )


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("stem", ["two_systems", "kent_dispute_2017", "joint_oversight_2018"])
def test_local_processes_give_the_same_bits(reference, stem, workers):
    """The processes backend, with one worker or two, gives every table exactly."""
    scenario = finsim.load_scenario(EXAMPLES / f"{stem}.yaml")
    res = finsim.run(
        scenario,
        replications=CASES[stem],
        seed=SEED,
        chunk_size=3,
        backend="processes",
        workers=workers,
        **KEEP,
    )
    _assert_identical(reference[stem], res, f"{stem}, {workers} worker processes")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.mark.parametrize("stem", ["two_systems", "kent_dispute_2017", "joint_oversight_2018"])
def test_a_dask_cluster_gives_the_same_bits(reference, dask_client, stem):
    """A Dask LocalCluster of two worker processes gives every table exactly."""
    scenario = finsim.load_scenario(EXAMPLES / f"{stem}.yaml")
    res = finsim.run(
        scenario,
        replications=CASES[stem],
        seed=SEED,
        chunk_size=4,
        backend="dask",
        client=dask_client,
        **KEEP,
    )
    _assert_identical(reference[stem], res, f"{stem}, Dask")
