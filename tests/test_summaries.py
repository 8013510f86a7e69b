"""Streaming summaries: exact sums, mergeable quantiles, bounded memory, same figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import finsim
from finsim import summaries
from finsim.errors import ResultsError
from finsim.summaries import ExactSum, LogHistogram

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "examples" / "two_systems.yaml"
ICS = ROOT / "examples" / "ics_control_totals_2018.yaml"

money = st.floats(min_value=-1e5, max_value=1e5, allow_nan=False, allow_subnormal=False)


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 3)), elements=money),
    cut=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_exact_sums_do_not_depend_on_order_or_grouping(values, cut, seed):
    """Summing rows in any order and any grouping gives the same bits, within 2^-30 of exact."""
    whole = ExactSum(values.shape[1:])
    whole.add(values)
    shuffled = values[np.random.default_rng(seed).permutation(len(values))]
    parts = ExactSum(values.shape[1:])
    parts.add(shuffled[:cut])
    parts.add(shuffled[cut:])
    assert np.array_equal(whole.total(), parts.total())
    exact = np.array([math.fsum(column) for column in values.T])
    assert np.all(np.abs(whole.total() - exact) <= len(values) * 2.0**-30 + 1e-9)


def test_an_absurd_value_is_refused_not_wrapped():
    with pytest.raises(ResultsError, match="too large"):
        ExactSum((1,)).add(np.array([[1e12]]))
    with pytest.raises(ResultsError, match="not finite"):
        ExactSum((1,)).add(np.array([[np.inf]]))


@settings(max_examples=40, deadline=None)
@given(
    values=arrays(
        np.float64,
        st.tuples(st.integers(1, 300), st.integers(1, 4)),
        elements=st.one_of(st.floats(1e-2, 1e5), st.floats(-1e5, -1e-2), st.just(0.0)),
    ),
    q=st.sampled_from([0.0, 0.025, 0.05, 0.5, 0.95, 0.975, 1.0]),
)
def test_histogram_quantiles_are_within_the_stated_accuracy(values, q):
    """The sketch's quantile is within RELATIVE_ACCURACY of the exact (lower) quantile."""
    sketch = LogHistogram(values.shape[1])
    sketch.add(values[: len(values) // 2])
    sketch.add(values[len(values) // 2 :])
    estimate = sketch.quantile(q, len(values))
    exact = np.quantile(values, q, axis=0, method="lower")
    assert np.all(np.abs(estimate - exact) <= summaries.RELATIVE_ACCURACY * np.abs(exact) + 1e-12)


def test_histogram_memory_does_not_grow_with_values():
    sketch = LogHistogram(10)
    size = sketch.counts.nbytes
    for _ in range(5):
        sketch.add(np.random.default_rng(0).normal(0, 50, size=(1000, 10)))
    assert sketch.counts.nbytes == size
    assert sketch.counts.sum() == 5000 * 10


def _streamed(sc, **kwargs):
    return finsim.run(sc, keep_positions=False, **kwargs)


@pytest.mark.parametrize("chunk_size", [1, 13, 256])
def test_a_streamed_summary_equals_the_summary_of_kept_positions(chunk_size):
    """Folding chunk by chunk gives the very same summary, subsidies and event counts."""
    sc = finsim.load_scenario(ICS)
    kept = finsim.run(sc, replications=40, seed=4)
    streamed = _streamed(sc, replications=40, seed=4, chunk_size=chunk_size)
    assert not streamed.positions_kept and kept.positions_kept
    pd.testing.assert_frame_equal(kept.summary(), streamed.summary(), check_exact=True)
    pd.testing.assert_frame_equal(
        kept.summary(before_incentives=True),
        streamed.summary(before_incentives=True),
        check_exact=True,
    )
    pd.testing.assert_frame_equal(kept.subsidies(), streamed.subsidies(), check_exact=True)
    pd.testing.assert_frame_equal(kept.event_counts(), streamed.event_counts())


def test_a_streamed_summary_is_the_same_on_every_backend():
    sc = finsim.load_scenario(TWO)
    serial = _streamed(sc, replications=30, seed=2, chunk_size=7)
    processes = _streamed(sc, replications=30, seed=2, chunk_size=4, backend="processes")
    pd.testing.assert_frame_equal(serial.summary(), processes.summary(), check_exact=True)


def test_beyond_the_exact_limit_quantiles_come_from_the_sketch(monkeypatch):
    """Past EXACT_QUANTILES the quantiles are estimates within the stated accuracy, the
    means and probabilities stay exact, and the chunk size still changes nothing."""
    sc = finsim.load_scenario(TWO)
    exact = finsim.run(sc, replications=60, seed=9)
    monkeypatch.setattr(summaries, "EXACT_QUANTILES", 10)
    a = _streamed(sc, replications=60, seed=9, chunk_size=7)
    b = _streamed(sc, replications=60, seed=9, chunk_size=60)
    pd.testing.assert_frame_equal(a.summary(), b.summary(), check_exact=True)
    ours, theirs = a.summary(quantiles=(0.5,)), exact.summary(quantiles=(0.5,))
    for column in ("surplus_mean", "p_deficit", "p_met_control_total", "income_mean"):
        pd.testing.assert_series_equal(ours[column], theirs[column], check_exact=True)
    lower = np.array(
        [
            np.quantile(
                exact.positions.query("org == @org and fy == @fy")["surplus"], 0.5, method="lower"
            )
            for org, fy in ours.loc[ours["level"] == "org", ["name", "fy"]]
            .assign(name=lambda t: t["name"].str.removesuffix(summaries.OWN_ACCOUNT))
            .itertuples(index=False)
        ]
    )
    estimate = ours.loc[ours["level"] == "org", "surplus_p50"].to_numpy()
    assert np.all(np.abs(estimate - lower) <= 0.001 * np.abs(lower) + summaries.SMALLEST)
    assert a.metadata()["summary"]["quantiles"] == "log-binned histogram"


def test_a_streamed_run_says_what_it_did_not_keep():
    res = _streamed(finsim.load_scenario(TWO), replications=5, seed=1)
    for table in ("positions", "events"):
        with pytest.raises(ResultsError, match="keep_positions=True"):
            getattr(res, table)
    assert "positions" not in res.tables() and "summary" in res.tables()
    assert res.replications == 5


def test_large_runs_stream_by_default_and_hold_no_per_replication_arrays(monkeypatch):
    monkeypatch.setattr(finsim.runner, "POSITIONS_MAX_REPLICATIONS", 20)
    res = finsim.run(finsim.load_scenario(TWO), replications=21, seed=1)
    assert not res.positions_kept
    assert res._base == {}
    assert all(value.ndim == 2 for value in res._extras.values())


def test_a_streamed_run_resumes_to_the_same_summary(tmp_path, monkeypatch):
    sc = finsim.load_scenario(TWO)
    whole = _streamed(sc, replications=24, seed=6, chunk_size=4)
    calls = []
    real = finsim.runner.run_chunk

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(finsim.runner, "run_chunk", flaky)
    with pytest.raises(KeyboardInterrupt):
        _streamed(sc, replications=24, seed=6, chunk_size=4, out=tmp_path / "run")
    monkeypatch.setattr(finsim.runner, "run_chunk", real)
    resumed = _streamed(
        sc, replications=24, seed=6, chunk_size=4, out=tmp_path / "run", resume=True
    )
    pd.testing.assert_frame_equal(whole.summary(), resumed.summary(), check_exact=True)


def test_a_large_run_on_a_dask_cluster_holds_bounded_memory_on_the_client(monkeypatch):
    """The client folds each chunk as it arrives: ten times the replications leave the
    summary's memory unchanged (quantiles from the histogram), and the figures equal a
    serial run's to the last bit."""
    distributed = pytest.importorskip("distributed")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster

    monkeypatch.setattr(summaries, "EXACT_QUANTILES", 100)
    sc = finsim.load_scenario(TWO)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        small = _streamed(
            sc, replications=300, seed=8, chunk_size=50, backend="dask", client=client
        )
        large = _streamed(
            sc, replications=3000, seed=8, chunk_size=50, backend="dask", client=client
        )
    assert large._accumulator.nbytes == small._accumulator.nbytes
    assert large.replications == 3000
    assert sorted(large.replication_ids) == list(range(3000))
    serial = _streamed(sc, replications=3000, seed=8, chunk_size=1000)
    pd.testing.assert_frame_equal(large.summary(), serial.summary(), check_exact=True)
    pd.testing.assert_frame_equal(large.event_counts(), serial.event_counts())


def test_the_processes_backend_keeps_only_a_few_chunks_in_flight(monkeypatch):
    """Chunks are handed out a few per worker at a time, and every one comes back once."""
    sc = finsim.load_scenario(TWO)
    res = _streamed(sc, replications=60, seed=8, chunk_size=3, backend="processes", workers=2)
    assert sorted(res.replication_ids) == list(range(60))
    pd.testing.assert_frame_equal(
        res.summary(), _streamed(sc, replications=60, seed=8).summary(), check_exact=True
    )


def test_stress_comparisons_keep_positions_however_many_replications(monkeypatch):
    """Paired comparisons need every replication: stress keeps them past the streaming size."""
    monkeypatch.setattr(finsim.runner, "POSITIONS_MAX_REPLICATIONS", 5)
    st = finsim.stress(finsim.load_scenario(TWO), ["baseline", "high_demand"], replications=8)
    assert all(res.positions_kept for res in st.results.values())
    assert len(st.difference("baseline", "high_demand"))


def test_the_command_line_keeps_positions_when_asked(tmp_path, monkeypatch):
    from finsim import cli

    monkeypatch.setattr(finsim.runner, "POSITIONS_MAX_REPLICATIONS", 5)
    streamed, kept = tmp_path / "streamed", tmp_path / "kept"
    assert cli.main(["run", str(TWO), "-n", "8", "--out", str(streamed)]) == 0
    assert cli.main(["run", str(TWO), "-n", "8", "--out", str(kept), "--keep-positions"]) == 0
    assert not (streamed / "positions.csv").exists() and (streamed / "summary.csv").exists()
    assert (kept / "positions.csv").exists()
    pd.testing.assert_frame_equal(
        pd.read_csv(streamed / "summary.csv"), pd.read_csv(kept / "summary.csv")
    )


JOINT = ROOT / "examples" / "joint_oversight_2018.yaml"


def test_a_pivot_of_the_summary_by_name_gives_each_system_its_whole_figure():
    """One row per (level, name, fy) and each name in one level: pivoting by name cannot
    average a system's total with its own account (which once halved it). The system's
    figure is the sum over its members and its own account, from the positions; the own
    account is kept, named apart, with its own figure, and the "org" rows add up to England."""
    res = finsim.run(finsim.load_scenario(JOINT), replications=4, seed=3)
    summary = res.summary()
    assert not summary.duplicated(["level", "name", "fy"]).any()
    assert not summary.duplicated(["name", "fy"]).any()
    pivot = summary.pivot_table(index="name", columns="fy", values="income_mean")
    pos = res.positions
    systems = pos.loc[pos["org_type"] == "system", "org"].unique()
    own_money = 0.0
    for system in systems:
        inside = (pos["system"] == system) | (pos["org"] == system)
        by_year = pos[inside].groupby(["replication", "fy"])["income"].sum().groupby("fy").mean()
        for fy, income in by_year.items():
            assert pivot.loc[system, fy] == pytest.approx(income, abs=1e-6)
        own = pos[pos["org"] == system].groupby("fy")["income"].mean()
        for fy, income in own.items():
            assert pivot.loc[f"{system} (own account)", fy] == pytest.approx(income, abs=1e-6)
        own_money += float(own.abs().sum())
    assert own_money > 1  # the systems' own accounts hold money here: the test can tell
    orgs = summary[summary["level"] == "org"].groupby("fy")["surplus_mean"].sum()
    england = summary[summary["level"] == "england"].set_index("fy")["surplus_mean"]
    pd.testing.assert_series_equal(orgs, england, check_names=False, atol=1e-6)


def test_quantiles_before_incentives_are_those_of_the_positions():
    """summary(before_incentives=True) adds the surplus before incentive funding: its mean
    and quantiles are those of the positions' surplus_before_incentives."""
    res = finsim.run(finsim.load_scenario(ICS, variant="interim"), replications=30, seed=2)
    summary = res.summary(quantiles=(0.1, 0.5), before_incentives=True)
    row = summary.query("level == 'org' and name == 'frimley_acute'").iloc[0]
    values = res.positions.query("org == 'frimley_acute'")["surplus_before_incentives"]
    assert row["before_incentives_mean"] == pytest.approx(values.mean(), abs=1e-6)
    for q in (0.1, 0.5):
        assert row[f"before_incentives_p{round(q * 100):02d}"] == np.quantile(values, q)
    assert row["surplus_mean"] - row["before_incentives_mean"] == pytest.approx(
        row["incentive_mean"], abs=1e-6
    )
    assert row["incentive_mean"] > 1  # the two measures differ here
    assert "before_incentives_mean" not in res.summary()
