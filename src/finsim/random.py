"""Named random streams, identical for a replication whatever the chunk it runs in.

Every random draw in finsim comes from a *draw site*: a mechanism name, a site
name, and integer indices (usually the year and month). Each site has its own
PCG64 stream seeded by ``SeedSequence(seed, spawn_key=(mechanism, site,
*indices))``. Replication ``r`` takes the ``r``-th block of ``n`` uniforms of
that stream, reached by jumping the generator ahead (``PCG64.advance``), so a
chunk of replications ``[r0, r1)`` draws exactly the numbers those replications
would draw in a run of any other size: results do not depend on chunk size,
worker count or backend, and every scheme variant sees the same numbers
(common random numbers) without any effort.

Uniforms are built from the raw 64-bit outputs (one per number), and normals
by the inverse normal CDF, so the count of raw draws per number is exactly one.

One site is different: a *sequence* (:meth:`Streams.sequence`), for numbers drawn
again and again in every month of a run, such as the monthly noise of every
contract and point of delivery, the bulk of all the numbers finsim draws. There
the inverse CDF costs too much (``ndtri`` is ~16 ns a number against ~9 ns for
numpy's ziggurat). A sequence gives each replication its own generator (SFC64,
seeded by ``SeedSequence(seed, spawn_key=(mechanism, site, SEQUENCE, replication))``)
that the replication keeps for the whole run, and draws each month's normals by
numpy's ziggurat, one C call per replication drawing all the site's numbers. A
replication's numbers still depend on nothing but the seed, the site and its
number; an antithetic pair shares a generator, the odd one taking ``-z``.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy import special

_TWO_POW_53 = float(2**53)
_INV_TWO_POW_53 = 1.0 / _TWO_POW_53
_HALF_ULP = 0.5 * _INV_TWO_POW_53


def stable_hash(name: str) -> int:
    """A 64-bit integer for a name, the same in every process and Python version."""
    return int.from_bytes(hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest(), "little")


class Streams:
    """Random numbers for a chunk of replications.

    ``replications`` are the global replication numbers of the chunk's rows.
    ``antithetic`` pairs replications (0,1), (2,3)...: the odd one of each pair
    uses ``1 - u`` for every uniform ``u`` of the even one.
    """

    def __init__(self, seed: int, replications: np.ndarray, antithetic: bool = False) -> None:
        self.seed = int(seed)
        self.replications = np.asarray(replications, dtype=np.int64)
        self.antithetic = antithetic

    @property
    def R(self) -> int:
        return int(self.replications.size)

    def uniform(
        self, mechanism: str, site: str, *index: int, shape: tuple[int, ...] = ()
    ) -> np.ndarray:
        """Uniforms on (0, 1), shaped ``(R, *shape)``; row i belongs to ``replications[i]``."""
        n = int(np.prod(shape, dtype=np.int64)) if shape else 1
        key = (stable_hash(mechanism), stable_hash(site), *(int(i) for i in index))
        seq = np.random.SeedSequence(self.seed, spawn_key=key)
        unique, inverse, odd = self._blocks()
        drawn = np.empty((unique.size, n))
        # Blocks are drawn in runs of consecutive numbers: one jump per run, not per row.
        breaks = np.flatnonzero(np.diff(unique) != 1) + 1
        for start, stop in zip(np.r_[0, breaks], np.r_[breaks, unique.size], strict=True):
            bitgen = np.random.PCG64(seq)
            bitgen.advance(int(unique[start]) * n)
            # (raw >> 11) / 2^53 from each raw output, then + 2^-54: the correctly rounded
            # ((raw >> 11) + 0.5) / 2^53, never 0 or 1
            block = drawn[start:stop].reshape(-1)
            np.random.Generator(bitgen).random(out=block)
            block += _HALF_ULP
        out = drawn if inverse is None else drawn[inverse]
        if odd is not None:
            out[odd] = 1.0 - out[odd]
        return out.reshape((self.R, *shape))

    def _blocks(self) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """The distinct blocks the chunk draws (an antithetic pair shares one), sorted; each
        replication's row among them (None when the rows are the blocks, in order); and
        which replications mirror their pair's draws (None without antithetic pairs)."""
        blocks = self.replications // 2 if self.antithetic else self.replications
        unique, inverse = np.unique(blocks, return_inverse=True)
        in_order = unique.size == self.R and np.array_equal(unique, blocks)
        odd = (self.replications % 2) == 1 if self.antithetic else None
        return unique, None if in_order else inverse, odd

    def normal(
        self, mechanism: str, site: str, *index: int, shape: tuple[int, ...] = ()
    ) -> np.ndarray:
        """Standard normals shaped ``(R, *shape)``, by the inverse CDF of :meth:`uniform`."""
        u = self.uniform(mechanism, site, *index, shape=shape)
        return special.ndtri(u, out=u)

    def sequence(self, mechanism: str, site: str, shape: tuple[int, ...]) -> NormalSequence:
        """Standard normals shaped ``(R, *shape)``, drawn afresh at each call (see the module)."""
        return NormalSequence(self, mechanism, site, shape)

    def for_mechanism(self, mechanism: str) -> MechanismStreams:
        """The streams a mechanism may draw from, named after it."""
        return MechanismStreams(self, mechanism)


#: Marks a sequence's seed apart from the draw sites' (whose keys carry year and month).
SEQUENCE = stable_hash("finsim.sequence")


class NormalSequence:
    """A run-long sequence of standard normals per replication, drawn by the ziggurat.

    Each call of :meth:`next` gives the next ``(R, *shape)`` block. Replication ``r``'s
    blocks come from its own SFC64 generator, so they are the same in a chunk of any
    size; its ``k``-th block is the ``k``-th call's, so every run must draw the
    sequence at the same points (every month, as the engine's calendar does).
    """

    def __init__(self, streams: Streams, mechanism: str, site: str, shape: tuple[int, ...]) -> None:
        self.shape = tuple(int(n) for n in shape)
        self.n = int(np.prod(self.shape, dtype=np.int64))
        self.R = streams.R
        unique, self._inverse, self._odd = streams._blocks()
        key = (stable_hash(mechanism), stable_hash(site), SEQUENCE)
        self._generators = [
            np.random.Generator(
                np.random.SFC64(np.random.SeedSequence(streams.seed, spawn_key=(*key, int(b))))
            )
            for b in unique
        ]

    def next(self) -> np.ndarray:
        """The next block of normals, ``(R, *shape)``."""
        drawn = np.empty((len(self._generators), self.n))
        if self.n:
            for row, generator in zip(drawn, self._generators, strict=True):
                generator.standard_normal(out=row)
        out = drawn if self._inverse is None else drawn[self._inverse]
        if self._odd is not None:
            out[self._odd] *= -1.0
        return out.reshape((self.R, *self.shape))


class MechanismStreams:
    """A mechanism's view of :class:`Streams`: draw sites are prefixed by its name."""

    def __init__(self, streams: Streams, mechanism: str) -> None:
        self._streams = streams
        self.mechanism = mechanism

    def uniform(self, site: str, *index: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        return self._streams.uniform(self.mechanism, site, *index, shape=shape)

    def normal(self, site: str, *index: int, shape: tuple[int, ...] = ()) -> np.ndarray:
        return self._streams.normal(self.mechanism, site, *index, shape=shape)

    def sequence(self, site: str, shape: tuple[int, ...]) -> NormalSequence:
        return self._streams.sequence(self.mechanism, site, shape)
