"""Named random streams: the same numbers for a replication whatever the chunk."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from finsim.random import Streams


@given(
    total=st.integers(1, 60),
    start=st.integers(0, 59),
    size=st.integers(1, 60),
    shape=st.tuples(st.integers(1, 4), st.integers(1, 3)),
)
def test_a_replication_draws_the_same_numbers_in_any_chunk(total, start, size, shape):
    """Rows for replications [start, start+size) equal those rows of a run of all replications."""
    everyone = Streams(42, np.arange(start + size + total)).normal("m", "site", 3, shape=shape)
    chunk = Streams(42, np.arange(start, start + size)).normal("m", "site", 3, shape=shape)
    assert np.array_equal(everyone[start : start + size], chunk)


def test_non_contiguous_replications_are_drawn_correctly():
    """A chunk of scattered replications (as after a resume) gets each replication's own numbers."""
    everyone = Streams(1, np.arange(20)).uniform("m", "s", shape=(5,))
    picked = np.array([3, 4, 9, 17])
    assert np.array_equal(Streams(1, picked).uniform("m", "s", shape=(5,)), everyone[picked])


def test_sites_mechanisms_and_indices_are_independent_streams():
    """Different names or indices give different numbers; the same ones repeat."""
    s = Streams(7, np.arange(4))
    a = s.uniform("activity", "shock", 0, shape=(10,))
    assert np.array_equal(a, s.uniform("activity", "shock", 0, shape=(10,)))
    for other in (
        s.uniform("activity", "shock", 1, shape=(10,)),
        s.uniform("activity", "noise", 0, shape=(10,)),
        s.uniform("costs", "shock", 0, shape=(10,)),
    ):
        assert not np.array_equal(a, other)


def test_uniforms_and_normals_have_the_right_distribution():
    """Kolmogorov-Smirnov: uniforms are U(0,1), normals are N(0,1)."""
    s = Streams(3, np.arange(2000))
    assert stats.kstest(s.uniform("m", "u", shape=(5,)).ravel(), "uniform").pvalue > 1e-3
    assert stats.kstest(s.normal("m", "n", shape=(5,)).ravel(), "norm").pvalue > 1e-3


def test_antithetic_pairs_mirror_each_other():
    """With antithetic draws, replication 2k+1 uses 1 - u of replication 2k."""
    u = Streams(5, np.arange(6), antithetic=True).uniform("m", "s", shape=(3,))
    assert np.allclose(u[1::2], 1.0 - u[0::2])
    z = Streams(5, np.arange(6), antithetic=True).normal("m", "s", shape=(3,))
    assert np.allclose(z[1::2], -z[0::2])


def _blocks(streams: Streams, calls: int, shape=(3, 2)) -> list[np.ndarray]:
    sequence = streams.sequence("activity", "monthly_noise", shape=shape)
    return [sequence.next() for _ in range(calls)]


@given(
    total=st.integers(1, 40),
    start=st.integers(0, 39),
    size=st.integers(1, 40),
    calls=st.integers(1, 4),
)
def test_a_sequence_gives_a_replication_the_same_numbers_in_any_chunk(total, start, size, calls):
    """Each call's rows for replications [start, start+size) equal a run of all replications'."""
    everyone = _blocks(Streams(42, np.arange(start + size + total)), calls)
    chunk = _blocks(Streams(42, np.arange(start, start + size)), calls)
    for whole, part in zip(everyone, chunk, strict=True):
        assert part.shape == (size, 3, 2)
        assert np.array_equal(whole[start : start + size], part)
    # successive calls move on: a month's numbers are not the last month's
    if calls > 1:
        assert not np.array_equal(everyone[0], everyone[1])


def test_a_sequence_of_scattered_replications_and_antithetic_pairs():
    """Scattered replications get their own numbers; antithetic pairs mirror each other."""
    everyone = _blocks(Streams(1, np.arange(20)), 2)
    picked = np.array([3, 4, 9, 17])
    for whole, part in zip(everyone, _blocks(Streams(1, picked), 2), strict=True):
        assert np.array_equal(whole[picked], part)
    paired = _blocks(Streams(5, np.arange(6), antithetic=True), 2)
    for block in paired:
        assert np.array_equal(block[1::2], -block[0::2])
        assert not np.array_equal(block[0], block[2])


def test_sequences_are_standard_normal_and_apart_from_other_sites():
    """Kolmogorov-Smirnov on a sequence's numbers; another site or seed differs."""
    z = np.concatenate(_blocks(Streams(3, np.arange(500)), 3, shape=(7,)))
    assert stats.kstest(z.ravel(), "norm").pvalue > 1e-3
    other = Streams(3, np.arange(500)).sequence("activity", "other", shape=(7,)).next()
    assert not np.array_equal(other, z[:500])
    reseeded = _blocks(Streams(4, np.arange(500)), 1, shape=(7,))[0]
    assert not np.array_equal(reseeded, z[:500])
