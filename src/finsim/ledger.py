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

The flows are held one row per column, ``(K, R)``: a posting adds to whole rows (a
contract's month is 1,500 of them), which is several times faster than adding to
1,500 scattered columns of an ``(R, K)`` array, and each posting's amounts are
transposed once for the sums by account and by column alike.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from finsim.calendar import Calendar
from finsim.numeric import net_by_account, net_rows_by_account, scatter_add, sum_by_index
from finsim.numeric import sum_rows_by_index as _sum_rows_by_index
from finsim.vocabulary import (
    CATEGORIES,
    CORE_CATEGORIES,
    KINDS,
    MAX_CATEGORIES,
    RECURRENCE,
    ROLES,
    Category,
    vocabulary,
    with_role,
)

__all__ = [
    "CATEGORIES",
    "CORE_CATEGORIES",
    "KINDS",
    "MAX_CATEGORIES",
    "RECURRENCE",
    "ROLES",
    "Category",
    "ConservationError",
    "Ledger",
    "vocabulary",
    "net_by_account",
    "scatter_add",
    "sum_by_index",
    "with_role",
]


_C, _N_REC, _N_KIND = MAX_CATEGORIES, len(RECURRENCE), len(KINDS)


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
        # each account's running sums, held one row per account (A, R): a posting adds to
        # the rows of the accounts it moves, which is faster than to scattered columns; seen
        # (R, A) through the properties below
        self._balance = np.zeros((n_accounts, replications))
        self._unsettled = np.zeros((n_accounts, replications))
        self._revenue = np.zeros((n_accounts, replications))
        self._year_open = np.zeros((n_accounts, replications))
        self._keys = np.empty(0, dtype=np.int64)  # sorted keys
        self._cols = np.empty(0, dtype=np.int64)  # column of each sorted key
        #: the flows, one row per column (``(K, R)``, rows beyond ``_n_cols`` unused)
        self._flows = np.zeros((64, replications))
        self._n_cols = 0
        #: where a posting's sorted unique keys live among the rows of ``_flows`` (a slice
        #: when they are consecutive), by the keys' bytes: the same postings come every month
        self._where: dict[bytes, slice | np.ndarray] = {}
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
        cash: bool = True,
    ) -> None:
        """Move ``amount`` (GBP m) from ``source`` to ``target`` account(s).

        ``source`` and ``target`` are account indices (scalars or arrays of n);
        ``amount`` broadcasts to ``(R, n)``: pass ``(R, 1)`` or ``(R,)`` for one
        pair, ``(R, n)`` or ``(n,)`` for n pairs. ``fy`` is the year whose
        accounts the posting belongs to (default: the current year). If that
        year's accounts have closed, the posting is a prior-year item booked in
        the current year. ``cash=False`` accrues it without paying it: the cash
        moves later, by :meth:`pay` (a contract's income accrued each month and paid on
        account); by default cash moves with the posting.
        """
        src, tgt, amt = self._pairs(source, target, amount, category)
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
        # the amounts one row per pair, (n, R or 1): transposed once for both sums below
        by_pair = np.ascontiguousarray(amt.T)
        # each account's change, in one pass over payees and payers together
        accounts, change = net_rows_by_account(tgt, src, by_pair)
        self._balance[accounts] += change
        if not cash:
            self._unsettled[accounts] += change
        if knd == 0:  # revenue
            self._revenue[accounts] += change
        key = (
            ((((booked * self.A + src) * self.A + tgt) * _C + cat) * _N_REC + rec) * _N_KIND
        ) + knd
        ukeys, sums = _sum_rows_by_index(key, by_pair)
        rows = self._rows(ukeys)  # (first: it may grow the flows)
        self._flows[rows] += sums
        if self.keep_journal:
            whole = np.broadcast_to(amt, (self.R, amt.shape[1])).copy()
            self.journal.append(
                JournalEntry(
                    self.now, booked, prior_year, src.copy(), tgt.copy(), whole, cat, rec, knd
                )
            )

    def pay(
        self, source: int | np.ndarray, target: int | np.ndarray, amount: float | np.ndarray
    ) -> None:
        """Move cash only (GBP m, shaped as for :meth:`post`): settle accruals posted with
        ``cash=False``. A negative amount is cash paid back."""
        src, tgt, amt = self._pairs(source, target, amount, "cash")
        keep = src != tgt
        if not keep.all():
            src, tgt, amt = src[keep], tgt[keep], amt[:, keep]
        if src.size:
            accounts, change = net_rows_by_account(tgt, src, np.ascontiguousarray(amt.T))
            self._unsettled[accounts] -= change

    @property
    def balance(self) -> np.ndarray:
        """Each account's balance, ``(R, A)``: everything received less everything paid
        since the run began, as accrued (a view of the ledger's own sums)."""
        return self._balance.T

    @property
    def unsettled(self) -> np.ndarray:
        """What each account is owed (+) or owes (-) on accruals not yet settled in cash,
        ``(R, A)``: ``balance`` less this is its cash (:attr:`cash`). A view."""
        return self._unsettled.T

    @property
    def revenue_balance(self) -> np.ndarray:
        """Revenue money only, by when it moved, ``(R, A)``: the running sum each year's
        year-to-date position is taken from (a view)."""
        return self._revenue.T

    @property
    def cash(self) -> np.ndarray:
        """Each account's cash, ``(R, A)``: money as paid, where ``balance`` is money as
        accrued (everything received less everything paid since the run began)."""
        return np.ascontiguousarray((self._balance - self._unsettled).T)

    def _pairs(
        self,
        source: int | np.ndarray,
        target: int | np.ndarray,
        amount: float | np.ndarray,
        category: str,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sources, targets ``(n,)`` and amounts ``(R or 1, n)``, checked finite."""
        src = np.atleast_1d(np.asarray(source, dtype=np.int64))
        tgt = np.atleast_1d(np.asarray(target, dtype=np.int64))
        if src.shape != tgt.shape:
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
        return src, tgt, amt

    def _rows(self, ukeys: np.ndarray) -> slice | np.ndarray:
        """The rows of ``_flows`` of sorted unique keys (:meth:`_columns`), remembered by
        the keys: a slice when they are consecutive, as a posting's own new columns are."""
        token = ukeys.tobytes()
        where = self._where.get(token)
        if where is None:
            cols = self._columns(ukeys)
            consecutive = cols.size > 0 and int(cols[-1]) - int(cols[0]) == cols.size - 1
            if consecutive and (cols.size == 1 or bool(np.all(np.diff(cols) == 1))):
                where = slice(int(cols[0]), int(cols[0]) + cols.size)
            else:
                where = cols
            if len(self._where) >= 4096:  # (a run's postings repeat: never reached in practice)
                self._where.clear()
            self._where[token] = where
        return where

    def _columns(self, ukeys: np.ndarray) -> np.ndarray:
        """Columns of the flow array for sorted unique keys, adding columns for new keys."""
        pos = np.searchsorted(self._keys, ukeys)
        known = pos < self._keys.size
        known[known] = self._keys[pos[known]] == ukeys[known]
        if not known.all():
            new = ukeys[~known]
            new_cols = np.arange(self._n_cols, self._n_cols + new.size)
            self._n_cols += new.size
            if self._n_cols > self._flows.shape[0]:
                grown = np.zeros((max(2 * self._flows.shape[0], self._n_cols), self.R))
                grown[: self._flows.shape[0]] = self._flows
                self._flows = grown
            # the new keys are sorted and none is known: each goes in where it sorts
            at = pos[~known]
            self._keys = np.insert(self._keys, at, new)
            self._cols = np.insert(self._cols, at, new_cols)
            pos = np.searchsorted(self._keys, ukeys)
        return self._cols[pos]

    def open_year(self) -> None:
        """Start a new year's year-to-date position (called by the engine after M12)."""
        self._year_open = self._revenue.copy()

    def year_to_date(self) -> np.ndarray:
        """Each body's revenue surplus since the start of the current year, ``(R, A)``.

        Counts money by when it moved (a prior-year settlement paid this year is in it).
        """
        return np.ascontiguousarray((self._revenue - self._year_open).T)

    # -- reading ---------------------------------------------------------------------------
    def flow_table(self) -> tuple[pd.DataFrame, np.ndarray]:
        """(keys, amounts): one key row per column (fy, source, target, category, recurrence,
        kind as integer codes), and the ``(R, K)`` amounts, ordered by key (a transposed view
        of the flows gathered in key order: Fortran-ordered)."""
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
        return table, self._flows[self._cols].T

    # -- checks ----------------------------------------------------------------------------
    def check_conservation(self, label: str, rtol: float = 1e-9) -> None:
        """Raise ConservationError unless money balances in every replication.

        Three checks: the running balances sum to zero across all accounts (nothing
        created or destroyed), each account's running balance equals its net
        flow recomputed from the aggregated flow table (the two accumulators agree), and
        cash sums to zero across all accounts too (cash, like accruals, is only moved).
        """
        # the flows as held, one row per column (in the order the columns were made: sums
        # here only need to agree within the tolerance, not to the bit)
        flows = self._flows[: self._n_cols]
        magnitude = np.zeros(self.R)
        for start in range(0, flows.shape[0], 4096):  # (no temporary the size of the flows)
            magnitude += np.abs(flows[start : start + 4096]).sum(axis=0)
        scale = magnitude + np.abs(self._unsettled).sum(axis=0) + 1.0
        # what is owed to some is owed by others: unsettled sums to zero, and so does cash
        owed = self._unsettled.sum(axis=0)
        bad = np.abs(owed) > rtol * scale
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ConservationError(
                f"{label}: cash does not balance in replication {r}: accounts' cash sums to "
                f"{-owed[r]:.6g}"
            )
        total = self._balance.sum(axis=0)
        bad = np.abs(total) > rtol * scale
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise ConservationError(
                f"{label}: money does not balance in replication {r}: accounts sum to {total[r]:.6g}"
            )
        # each account's net flow: what every column brings it less what it pays
        key = np.empty(self._n_cols, dtype=np.int64)
        key[self._cols] = self._keys
        pair = key // (_C * _N_REC * _N_KIND)
        tgt, src = pair % self.A, (pair // self.A) % self.A
        n = key.size
        incidence = sparse.csr_array(
            (np.repeat([1.0, -1.0], n), (np.concatenate([tgt, src]), np.tile(np.arange(n), 2))),
            shape=(self.A, n),
        )
        net = incidence @ flows
        bad = np.abs(net - self._balance) > rtol * scale
        if bad.any():
            r, a = (int(x[0]) for x in np.nonzero(bad.T))
            raise ConservationError(
                f"{label}: account {a} in replication {r} holds {self._balance[a, r]:.6g} but its "
                f"flows net to {net[a, r]:.6g}"
            )
