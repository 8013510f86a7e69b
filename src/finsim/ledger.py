"""The double-entry ledger every money movement goes through.

A *posting* moves an amount per replication from a source account to a target
account. It carries the financial year whose accounts it belongs to, the month
it happened, a ``category`` from the run's vocabulary (:func:`vocabulary`: the built-in
categories, then those the System's plug-in mechanisms declare), a ``recurrence``
(recurrent money changes the recipient's baseline and carries into next year;
non-recurrent money is one-off) and a ``kind`` (revenue or capital, which are
separate limits).

Money is conserved by construction: each posting adds to one account exactly
what it takes from another, and the only doors in and out of the modelled NHS
are the external accounts ``treasury`` and ``external``. The ledger still
checks this at every year end, against two independent accumulators (running
balances and aggregated flows), and raises :class:`ConservationError` if they
disagree: a scatter-add that drops a duplicate index is exactly the kind of bug
this catches.

Postings are aggregated as they arrive into one column per
(booked year, source, target, category, recurrence, kind), an ``(R, K)`` array,
so memory does not grow with the number of months or contracts posted. A full
journal of every posting is kept as well when asked (small R, readable traces).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse

from finsim.calendar import Calendar


class Category(NamedTuple):
    """A flow category a mechanism posts (``Mechanism.categories``): its name, meaning and role.

    ``role`` says how results read the category: ``"incentive"`` is incentive funding (summed
    in ``incentive_earned``, left out of the surplus before incentives that control totals
    are tested on), ``"subsidy"`` is money bodies move between one another (each such
    category is a column of ``Results.subsidies`` and part of ``net_subsidy``), ``""`` neither.
    """

    name: str
    meaning: str
    role: str = ""


#: The roles a category may have (see :class:`Category`).
ROLES = ("", "incentive", "subsidy")


#: The built-in categories of ``flows.category``, by integer code (codes never change; a
#: plug-in's declared categories are numbered after them: see :func:`vocabulary`).
CATEGORIES = (
    "funding",  # treasury -> centre
    "allocation",  # centre (or region) -> commissioner
    "top_slice",  # commissioner -> region / centre
    "reallocation",  # year-end re-allocation between bodies
    "capital_to_revenue",
    "teaching_uplift",
    "contract_payment",  # commissioner -> provider
    "cquin",
    "dispute_settlement",
    "dispute_costs",  # -> external
    "incentive_payment",
    "incentive_bonus",
    "general_distribution",
    "risk_share",
    "loan",
    "loan_repayment",
    "capital_allocation",
    "operating_cost",  # -> external: staff, suppliers
    "other_income",  # external -> provider / commissioner
    "savings",  # extra surplus asked of a body, moved to where it is needed
)
RECURRENCE = ("recurrent", "non_recurrent")
KINDS = ("revenue", "capital")

#: The categories of the ledger itself, posted by more than one mechanism (every other
#: category is declared by the mechanism that posts it, in ``Mechanism.categories``).
CORE_CATEGORIES = (
    Category("funding", "treasury to the centre"),
    Category("allocation", "centre (or region) to a commissioner"),
    Category("capital_allocation", "capital limits allocated"),
    Category("operating_cost", "a body's own costs, to external: staff, suppliers"),
    Category("other_income", "external to a provider or commissioner"),
)

#: The most categories a run may have (the integer codes' range): the built-ins and up to
#: 44 declared by plug-ins.
MAX_CATEGORIES = 64

_C, _N_REC, _N_KIND = MAX_CATEGORIES, len(RECURRENCE), len(KINDS)


def vocabulary(mechanisms: Iterable[type]) -> tuple[str, ...]:
    """The category names a run with these mechanism classes posts, by integer code: the
    built-in :data:`CATEGORIES` (their codes never change), then each name a mechanism declares
    in ``categories`` that is not among them, in the order the mechanisms come."""
    names = list(CATEGORIES)
    for cls in mechanisms:
        for category in getattr(cls, "categories", ()):
            name = category.name if isinstance(category, Category) else str(category)
            if name not in names:
                names.append(name)
    if len(names) > MAX_CATEGORIES:
        raise ValueError(f"a run may have at most {MAX_CATEGORIES} flow categories, got {names}")
    return tuple(names)


def with_role(mechanisms: Iterable[type], role: str) -> tuple[str, ...]:
    """The category names these mechanism classes declare with ``role``, in the order of
    :func:`vocabulary` (a category counts if any mechanism declaring it gives it the role)."""
    if role not in ROLES or not role:
        raise ValueError(f"unknown category role {role!r}; roles are {ROLES[1:]}")
    classes = list(mechanisms)
    tagged = {
        category.name
        for cls in classes
        for category in getattr(cls, "categories", ())
        if isinstance(category, Category) and category.role == role
    }
    return tuple(name for name in vocabulary(classes) if name in tagged)


class ConservationError(RuntimeError):
    """Money was created or destroyed inside the modelled NHS: a bug, never a user error."""


@dataclass
class JournalEntry:
    """One posting call, kept whole when the journal is on."""

    tick: int
    booked_fy: int
    prior_year: bool
    source: np.ndarray  # (n,)
    target: np.ndarray  # (n,)
    amount: np.ndarray  # (R, n)
    category: int
    recurrence: int
    kind: int


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


def sum_by_index(idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum the columns of ``values`` (R, n) that share an index; return (unique idx, (R, m)).

    Columns sharing an index are added strictly in their order, never pairwise, so a
    replication's sums are the same bits whatever the number of rows beside it.
    """
    if idx.size <= 1:
        return idx, values
    columns = np.arange(idx.size)
    plan = _plan(idx, columns, np.ones(idx.size), b"sum" + idx.tobytes())
    return _apply(plan, values)


def net_by_account(
    target: np.ndarray, source: np.ndarray, amount: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each account's net change when ``amount[:, j]`` moves from ``source[j]`` to
    ``target[j]``: (accounts, (R, m)). An account adds what it receives, in order, then
    takes away what it pays, in order."""
    n = target.size
    columns = np.tile(np.arange(n), 2)
    signs = np.repeat([1.0, -1.0], n)
    key = b"net" + target.tobytes() + b"|" + source.tobytes()
    plan = _plan(np.concatenate([target, source]), columns, signs, key)
    return _apply(plan, amount)


def scatter_add(dest: np.ndarray, idx: np.ndarray, values: np.ndarray) -> None:
    """``dest[:, idx] += values`` that is correct when ``idx`` repeats."""
    unique, sums = sum_by_index(idx, values)
    dest[:, unique] += sums


class Ledger:
    """Double-entry postings between accounts, vectorised over R replications."""

    def __init__(
        self,
        calendar: Calendar,
        n_accounts: int,
        replications: int,
        keep_journal: bool = False,
        categories: tuple[str, ...] = CATEGORIES,
    ) -> None:
        self.calendar = calendar
        #: The category names postable, by integer code (:func:`vocabulary`).
        self.categories = categories
        self._category_code = {name: code for code, name in enumerate(categories)}
        self.A = n_accounts
        self.R = replications
        self.now = 0  # clock tick, set by the engine
        self.balance = np.zeros((replications, n_accounts))
        #: revenue money only, by when it moved: the year-to-date position of every body
        self.revenue_balance = np.zeros((replications, n_accounts))
        self._year_open = np.zeros((replications, n_accounts))
        self._keys = np.empty(0, dtype=np.int64)  # sorted keys
        self._cols = np.empty(0, dtype=np.int64)  # column of each sorted key
        self._amounts = np.zeros((replications, 64))
        self._n_cols = 0
        self.keep_journal = keep_journal
        self.journal: list[JournalEntry] = []

    # -- posting ---------------------------------------------------------------------------
    def post(
        self,
        source: int | np.ndarray,
        target: int | np.ndarray,
        amount: float | np.ndarray,
        category: str,
        recurrence: str = "recurrent",
        kind: str = "revenue",
        fy: int | None = None,
    ) -> None:
        """Move ``amount`` (GBP m) from ``source`` to ``target`` account(s).

        ``source`` and ``target`` are account indices (scalars or arrays of n);
        ``amount`` broadcasts to ``(R, n)``: pass ``(R, 1)`` or ``(R,)`` for one
        pair, ``(R, n)`` or ``(n,)`` for n pairs. ``fy`` is the year whose
        accounts the posting belongs to (default: the current year). If that
        year's accounts have closed, the posting is a prior-year item booked in
        the current year.
        """
        src = np.atleast_1d(np.asarray(source, dtype=np.int64))
        tgt = np.atleast_1d(np.asarray(target, dtype=np.int64))
        src, tgt = np.broadcast_arrays(src, tgt)
        n = src.size
        amt = np.asarray(amount, dtype=np.float64)
        if amt.ndim == 1 and amt.shape[0] == self.R and n == 1:
            amt = amt[:, None]
        # the same amounts in every replication (a plan paid on account, an allocation):
        # worked out once, as one row, and added to every replication's accounts
        rows = self.R if amt.ndim == 2 and amt.shape[0] != 1 else 1
        amt = np.broadcast_to(amt, (rows, n))
        # one sum finds any inf or nan (and a sum past 1e308 GBP m is no less an error)
        if not np.isfinite(np.sum(amt)):
            raise ConservationError(f"a non-finite amount was posted as '{category}'")
        cat = self._category_code.get(category)
        if cat is None:
            raise ValueError(
                f"unknown posting label: flow category {category!r} is declared by no mechanism "
                "of the run "
                "(a mechanism lists the categories it posts in its 'categories'); categories "
                f"are {self.categories}"
            )
        try:
            rec = RECURRENCE.index(recurrence)
            knd = KINDS.index(kind)
        except ValueError:
            raise ValueError(
                f"unknown posting label ({category!r}, {recurrence!r}, {kind!r}); categories are "
                f"{self.categories}, recurrence {RECURRENCE}, kind {KINDS}"
            ) from None
        now_fy, _ = self.calendar.split(self.now)
        booked = now_fy if fy is None else fy
        if booked > now_fy:
            raise ValueError(
                f"cannot book to a future year (year index {booked} at tick {self.now})"
            )
        prior_year = booked < now_fy and not self.calendar.is_open(booked, self.now)
        if prior_year:
            booked = now_fy
        # columns moving nothing are dropped; most postings have none, seen from one row
        moves = amt[0] != 0.0
        if not moves.all():
            moves = np.any(amt != 0.0, axis=0)
        keep = (src != tgt) & moves
        if not keep.all():
            src, tgt, amt = src[keep], tgt[keep], amt[:, keep]
        if src.size == 0:
            return
        # each account's change, in one pass over payees and payers together
        accounts, change = net_by_account(tgt, src, amt)
        self.balance[:, accounts] += change
        if knd == 0:  # revenue
            self.revenue_balance[:, accounts] += change
        key = (
            ((((booked * self.A + src) * self.A + tgt) * _C + cat) * _N_REC + rec) * _N_KIND
        ) + knd
        ukeys, sums = sum_by_index(key, amt)
        cols = self._columns(ukeys)
        self._amounts[:, cols] += sums
        if self.keep_journal:
            whole = np.broadcast_to(amt, (self.R, amt.shape[1])).copy()
            self.journal.append(
                JournalEntry(
                    self.now, booked, prior_year, src.copy(), tgt.copy(), whole, cat, rec, knd
                )
            )

    def _columns(self, ukeys: np.ndarray) -> np.ndarray:
        """Columns of the flow array for sorted unique keys, adding columns for new keys."""
        pos = np.searchsorted(self._keys, ukeys)
        known = pos < self._keys.size
        known[known] = self._keys[pos[known]] == ukeys[known]
        if not known.all():
            new = ukeys[~known]
            new_cols = np.arange(self._n_cols, self._n_cols + new.size)
            self._n_cols += new.size
            if self._n_cols > self._amounts.shape[1]:
                grown = np.zeros((self.R, max(2 * self._amounts.shape[1], self._n_cols)))
                grown[:, : self._amounts.shape[1]] = self._amounts
                self._amounts = grown
            keys = np.concatenate([self._keys, new])
            cols = np.concatenate([self._cols, new_cols])
            order = np.argsort(keys, kind="stable")
            self._keys, self._cols = keys[order], cols[order]
            pos = np.searchsorted(self._keys, ukeys)
        return self._cols[pos]

    def open_year(self) -> None:
        """Start a new year's year-to-date position (called by the engine after M12)."""
        self._year_open = self.revenue_balance.copy()

    def year_to_date(self) -> np.ndarray:
        """Each body's revenue surplus since the start of the current year, ``(R, A)``.

        Counts money by when it moved (a prior-year settlement paid this year is in it).
        """
        return self.revenue_balance - self._year_open

    # -- reading ---------------------------------------------------------------------------
    def flow_table(self) -> tuple[pd.DataFrame, np.ndarray]:
        """(keys, amounts): one key row per column (fy, source, target, category, recurrence,
        kind as integer codes), and the ``(R, K)`` amounts, ordered by key."""
        keys = self._keys
        rest, kind = np.divmod(keys, _N_KIND)
        rest, rec = np.divmod(rest, _N_REC)
        rest, cat = np.divmod(rest, _C)
        rest, tgt = np.divmod(rest, self.A)
        fy, src = np.divmod(rest, self.A)
        table = pd.DataFrame(
            {
                "fy": fy,
                "source": src,
                "target": tgt,
                "category": cat,
                "recurrence": rec,
                "kind": kind,
            }
        )
        return table, self._amounts[:, self._cols]

    # -- checks ----------------------------------------------------------------------------
    def check_conservation(self, label: str, rtol: float = 1e-9) -> None:
        """Raise ConservationError unless money balances in every replication.

        Two checks: the running balances sum to zero across all accounts (nothing
        created or destroyed), and each account's running balance equals its net
        flow recomputed from the aggregated flow table (the two accumulators agree).
        """
        table, amounts = self.flow_table()
        scale = np.abs(amounts).sum(axis=1) + 1.0
        total = self.balance.sum(axis=1)
        bad = np.abs(total) > rtol * scale
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ConservationError(
                f"{label}: money does not balance in replication {r}: accounts sum to {total[r]:.6g}"
            )
        net = np.zeros_like(self.balance)
        scatter_add(net, table["target"].to_numpy(), amounts)
        scatter_add(net, table["source"].to_numpy(), -amounts)
        diff = np.abs(net - self.balance)
        bad = diff > rtol * scale[:, None]
        if bad.any():
            r, a = (int(x[0]) for x in np.nonzero(bad))
            raise ConservationError(
                f"{label}: account {a} in replication {r} holds {self.balance[r, a]:.6g} but its "
                f"flows net to {net[r, a]:.6g}"
            )
