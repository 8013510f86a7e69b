"""Sums whose bits do not depend on how many replications share an array.

``np.sum`` adds pairwise, with SIMD lanes whose grouping depends on the array's
shape and on where it starts in memory; the same row can then sum to different
last bits in a chunk of 1 and in a chunk of 256. A replication must give the
same result whatever chunk it runs in, so the mechanisms total across
organisations with :func:`row_sum`, which adds left to right.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from scipy import sparse


def row_sum(values: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Sum over the last axis, strictly left to right (vectorised over the other axes)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] == 0:
        out = np.zeros(values.shape[:-1])
    else:
        out = np.add.accumulate(values, axis=-1)[..., -1]
    return out[..., None] if keepdims else out


# -- sums by index: scatter-adds through cached sparse plans (used by the ledger) ---------


@dataclass(frozen=True)
class _Plan:
    unique: np.ndarray  # the distinct indices, sorted
    order: np.ndarray | None  # when none repeats: the columns in index order
    matrix: sparse.csr_array | None  # else row i lists index i's columns, in order


class _PlanCache:
    """Plans by key, least recently used first, within a memory budget: the contracts' plans
    are used every month, while a year end's flow table makes plans one chunk uses once.
    Locked, because a Dask worker may run chunks in several threads."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.nbytes = 0
        self._plans: OrderedDict[bytes, tuple[_Plan, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._plans)

    def keys(self) -> list[bytes]:
        return list(self._plans)

    def get(self, key: bytes) -> _Plan | None:
        with self._lock:
            cached = self._plans.get(key)
            if cached is None:
                return None
            self._plans.move_to_end(key)
            return cached[0]

    def put(self, key: bytes, plan: _Plan) -> None:
        size = _size(plan) + len(key)
        with self._lock:
            if key not in self._plans:
                self._plans[key] = (plan, size)
                self.nbytes += size
            while self.nbytes > self.budget and len(self._plans) > 1:
                _, (_, freed) = self._plans.popitem(last=False)
                self.nbytes -= freed


def _size(plan: _Plan) -> int:
    size = plan.unique.nbytes
    if plan.order is not None:
        size += plan.order.nbytes
    if plan.matrix is not None:
        m = plan.matrix
        size += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
    return size


_PLANS = _PlanCache(budget=64 * 2**20)


def _plan(idx: np.ndarray, columns: np.ndarray, signs: np.ndarray, key: bytes) -> _Plan:
    """How to add up the columns ``columns`` (times ``signs``) sharing an index ``idx``,
    cached by ``key``: the same index arrays (contracts' payers and payees) come every month.

    The sums are a sparse matrix product, ``matrix @ values.T``: scipy's CSR kernel adds
    each row's entries strictly in the order they are stored (here: the columns' order)
    for every replication alike, so a replication's sums are the same bits whatever the
    number of rows beside it, unlike numpy's pairwise ``sum`` or a BLAS product.
    """
    cached = _PLANS.get(key)
    if cached is not None:
        return cached
    unique, inverse, counts = np.unique(idx, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    if unique.size == idx.size and np.all(signs == 1.0):
        plan = _Plan(unique, columns[order], None)
    else:
        indptr = np.r_[0, np.cumsum(counts)]
        matrix = sparse.csr_array(
            (signs[order], columns[order], indptr),
            shape=(unique.size, int(columns.max(initial=-1)) + 1),
        )
        plan = _Plan(unique, None, matrix)
    _PLANS.put(key, plan)
    return plan


def _apply(plan: _Plan, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if plan.order is not None:  # nothing to add up
        return plan.unique, values[:, plan.order]
    assert plan.matrix is not None
    return plan.unique, (plan.matrix @ np.ascontiguousarray(values.T)).T


def _apply_by_column(plan: _Plan, by_column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_apply` for values laid out one row per column, ``(n, R)`` and C-contiguous:
    the sums come back the same way, ``(m, R)``, with no transposed copy either side (the
    same kernel on the same numbers: the same bits)."""
    if plan.order is not None:
        return plan.unique, by_column[plan.order]
    assert plan.matrix is not None
    return plan.unique, plan.matrix @ by_column


def sum_by_index(idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the columns of ``values`` (R, n) that share an index; return (unique idx, (R, m)).

    Columns sharing an index are added strictly in their order, never pairwise, so a
    replication's sums are the same bits whatever the number of rows beside it.
    """
    if idx.size <= 1:
        return idx, values
    return _apply(_sum_plan(idx), values)


def _sum_plan(idx: np.ndarray) -> _Plan:
    """The plan adding the columns that share an index (cached by the index)."""
    return _plan(idx, np.arange(idx.size), np.ones(idx.size), b"sum" + idx.tobytes())


def _net_plan(target: np.ndarray, source: np.ndarray) -> _Plan:
    """The plan netting each account's receipts, then its payments (cached by both)."""
    n = target.size
    columns = np.tile(np.arange(n), 2)
    signs = np.repeat([1.0, -1.0], n)
    key = b"net" + target.tobytes() + b"|" + source.tobytes()
    return _plan(np.concatenate([target, source]), columns, signs, key)


def net_by_account(
    target: np.ndarray, source: np.ndarray, amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each account's net change when ``amount[:, j]`` moves from ``source[j]`` to
    ``target[j]``: (accounts, (R, m)). An account adds what it receives, in order, then
    takes away what it pays, in order."""
    return _apply(_net_plan(target, source), amount)


def sum_rows_by_index(idx: np.ndarray, by_column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`sum_by_index` with the values transposed: ``by_column`` is ``(n, R)``
    (C-contiguous), the sums ``(m, R)``; the same bits."""
    if idx.size <= 1:
        return idx, by_column
    return _apply_by_column(_sum_plan(idx), by_column)


def net_rows_by_account(
    target: np.ndarray, source: np.ndarray, by_column: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`net_by_account` with the amounts transposed: ``by_column`` is ``(n, R)``
    (C-contiguous), each account's change ``(m, R)``; the same bits."""
    return _apply_by_column(_net_plan(target, source), by_column)


def scatter_add(dest: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """``dest[:, idx] += values`` that is correct when ``idx`` repeats."""
    unique, sums = sum_by_index(idx, values)
    dest[:, unique] += sums
