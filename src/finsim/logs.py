"""The row logs a chunk keeps besides its money: events, mechanism tables and the journal.

* :class:`EventLog`: what happened and when (decisions, disputes, interventions).
  Events are recorded vectorised, like money: one call records an event for an
  organisation (or several) in the replications where a mask holds, with an optional
  amount per replication. They become ``Results.events``.
* :class:`TableLog`: per-organisation figures a mechanism reports besides money flows.
  Allocations report each body's baseline, target and distance from target; later
  mechanisms report control totals or dispute stages. A mechanism records rows
  vectorised: one call for ``n`` organisations gives ``R x n`` rows. They become
  ``Results.table(name)`` (e.g. ``res.table("allocations")``).

Each log turns its batches into rows once, at the end of a chunk (``to_frame`` /
``to_frames``), with text columns as pandas' string dtype. :func:`journal_frame` turns
the ledger's journal (every posting, kept for small runs) into rows the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finsim.calendar import fy_label
from finsim.ledger import KINDS, RECURRENCE

if TYPE_CHECKING:
    from finsim.economy import Economy
    from finsim.ledger import Ledger

__all__ = ["EventBatch", "EventLog", "RecordBatch", "TableLog", "journal_frame"]


# -- events ----------------------------------------------------------------------------------
@dataclass
class EventBatch:
    tick: int
    org: np.ndarray  # (n,)
    event: str
    detail: np.ndarray  # (n,) one detail per organisation
    mask: np.ndarray  # (R, n) bool
    amount: np.ndarray  # (R, n) float, NaN where not given


class EventLog:
    """Events of a chunk of replications."""

    def __init__(self, replications: int, keep_detail: bool = True) -> None:
        self.R = replications
        self.keep_detail = keep_detail
        self.batches: list[EventBatch] = []
        self.now = 0

    def record(
        self,
        org: int | np.ndarray,
        event: str,
        detail: str | list[str] | np.ndarray = "",
        mask: np.ndarray | bool = True,
        amount: np.ndarray | float | None = None,
        detailed: bool = False,
    ) -> None:
        """Record ``event`` for account(s) ``org`` in the replications where ``mask`` holds.

        ``mask`` and ``amount`` broadcast to ``(R, n)``; pass ``(R, 1)`` for one org.
        ``detail`` is one text, or one per organisation (e.g. the contract concerned).
        A ``detailed`` event (one per contract and stage, or a decision the same in every
        replication) is kept only in runs small enough to keep tables (see ``finsim.run``):
        in a large run it would outweigh every other result.
        """
        if detailed and not self.keep_detail:
            return
        orgs = np.atleast_1d(np.asarray(org, dtype=np.int64))
        shape = (self.R, orgs.size)
        m = np.asarray(mask, dtype=bool)
        if m.ndim == 1 and orgs.size == 1:
            m = m[:, None]
        m = np.broadcast_to(m, shape)
        if not m.any():
            return
        a = np.full(shape, np.nan) if amount is None else np.asarray(amount, dtype=np.float64)
        if a.ndim == 1 and orgs.size == 1 and a.shape[0] == self.R:
            a = a[:, None]
        self.batches.append(
            EventBatch(
                self.now,
                orgs,
                event,
                np.broadcast_to(np.asarray(detail, dtype=object), (orgs.size,)),
                m.copy(),
                np.broadcast_to(a, shape).copy(),
            )
        )

    def to_frame(
        self, replications: np.ndarray, ids: tuple[str, ...], start_year: int
    ) -> pd.DataFrame:
        """Rows (replication, fy, month, org, event, detail, amount) ordered by time."""
        names = ["replication", "fy", "month", "org", "event", "detail", "amount"]
        if not self.batches:
            return pd.DataFrame({c: [] for c in names})
        id_array = np.array(ids, dtype=object)
        columns: dict[str, list[np.ndarray]] = {c: [] for c in [*names, "_tick", "_seq"]}
        for seq, b in enumerate(self.batches):
            r, j = np.nonzero(b.mask)
            columns["replication"].append(replications[r])
            columns["fy"].append(np.full(r.size, fy_label(start_year + b.tick // 12), dtype=object))
            columns["month"].append(np.full(r.size, b.tick % 12 + 1))
            columns["org"].append(id_array[b.org[j]])
            columns["event"].append(np.full(r.size, b.event, dtype=object))
            columns["detail"].append(np.asarray(b.detail, dtype=object)[j])
            columns["amount"].append(b.amount[r, j])
            columns["_tick"].append(np.full(r.size, b.tick))
            columns["_seq"].append(np.full(r.size, seq))
        frame = pd.DataFrame({k: _column(np.concatenate(v)) for k, v in columns.items()})
        frame = frame.sort_values(["replication", "_tick", "_seq"], kind="stable")
        return frame[
            ["replication", "fy", "month", "org", "event", "detail", "amount"]
        ].reset_index(drop=True)


# -- mechanism tables -------------------------------------------------------------------------
@dataclass
class RecordBatch:
    tick: int
    org: np.ndarray  # (n,)
    labels: dict[str, Any]  # scalar or (n,) columns, e.g. {"stream": "core"}
    values: dict[str, np.ndarray]  # (R, n) columns
    keep: np.ndarray  # (R, n) rows to keep


def _tile(value: Any, n: int, R: int) -> Any:
    """A label column: a scalar as it is, an array of n (one per organisation) tiled over R."""
    if isinstance(value, np.ndarray | list | tuple):
        return np.tile(np.asarray(value, dtype=object), R)
    return value


class TableLog:
    """Rows of named tables for a chunk of replications."""

    def __init__(self, replications: int, enabled: bool = True) -> None:
        self.R = replications
        self.enabled = enabled  # large runs keep no per-replication tables
        self.now = 0
        self.batches: dict[str, list[RecordBatch]] = {}

    def record(
        self,
        table: str,
        org: np.ndarray,
        labels: dict[str, Any] | None = None,
        mask: np.ndarray | None = None,
        **values: Any,
    ) -> None:
        """Add rows to ``table`` for accounts ``org`` (n,); each value broadcasts to ``(R, n)``.

        ``mask`` (broadcast to ``(R, n)``) keeps only some rows, e.g. the replications in
        which a dispute happened: a table must not depend on which replications share a chunk.
        """
        if not self.enabled:
            return
        orgs = np.atleast_1d(np.asarray(org, dtype=np.int64))
        shape = (self.R, orgs.size)
        columns = {
            k: np.broadcast_to(np.asarray(v, dtype=np.float64), shape).copy()
            for k, v in values.items()
        }
        keep = (
            np.ones(shape, bool)
            if mask is None
            else np.broadcast_to(np.asarray(mask, bool), shape).copy()
        )
        self.batches.setdefault(table, []).append(
            RecordBatch(self.now, orgs, dict(labels or {}), columns, keep)
        )

    def to_frames(
        self, replications: np.ndarray, ids: tuple[str, ...], start_year: int
    ) -> dict[str, pd.DataFrame]:
        """Each table as rows (replication, fy, month, org, labels..., values...).

        Columns are assembled as arrays and the frame built once, not per batch.
        """
        id_array = np.array(ids, dtype=object)
        out = {}
        for name, batches in self.batches.items():
            columns: dict[str, list[np.ndarray]] = {}
            for seq, b in enumerate(batches):
                R, n = self.R, b.org.size
                keep = b.keep.reshape(-1)
                rows = int(keep.sum())
                parts: dict[str, np.ndarray] = {
                    "replication": np.repeat(replications, n)[keep],
                    "fy": np.full(rows, fy_label(start_year + b.tick // 12), dtype=object),
                    "month": np.full(rows, b.tick % 12 + 1),
                    "org": np.tile(id_array[b.org], R)[keep],
                }
                for k, v in b.labels.items():
                    tiled = _tile(v, n, R)
                    parts[k] = (
                        tiled[keep]
                        if isinstance(tiled, np.ndarray)
                        else np.full(rows, tiled, dtype=object)
                    )
                for k, v in b.values.items():
                    parts[k] = v.reshape(-1)[keep]
                parts["_seq"] = np.full(rows, seq)
                for k, v in parts.items():
                    columns.setdefault(k, []).append(v)
            frame = pd.DataFrame({k: _column(np.concatenate(v)) for k, v in columns.items()})
            frame = frame.sort_values(["replication", "_seq"], kind="stable")
            out[name] = frame.drop(columns="_seq").reset_index(drop=True)
        return out


def _column(values: np.ndarray) -> object:
    """Text as pandas' string dtype (as every other table has it); numbers as they are."""
    if values.dtype == object and all(isinstance(v, str) for v in values[:1]):
        return pd.array(values, dtype="str")
    return values


# -- journal ------------------------------------------------------------------------------


def journal_frame(ledger: Ledger, economy: Economy, replications: np.ndarray) -> pd.DataFrame:
    """Every posting as a row per replication (only kept when the journal is on).

    A posting's columns that move nothing in a replication are left out of that
    replication's rows: the ledger drops a column only when it is zero in every replication
    of the chunk, so keeping zeros would make a replication's journal depend on its chunk.
    """

    ids = np.array(economy.ids, dtype=object)
    start = economy.calendar.start_year
    parts = []
    for seq, e in enumerate(ledger.journal):
        R, n = e.amount.shape
        r = np.repeat(np.arange(R), n)
        j = np.tile(np.arange(n), R)
        parts.append(
            pd.DataFrame(
                {
                    "replication": replications[r],
                    "fy": fy_label(start + e.booked_fy),
                    "posted_fy": fy_label(start + e.tick // 12),
                    "posted_month": e.tick % 12 + 1,
                    "source": ids[e.source[j]],
                    "target": ids[e.target[j]],
                    "category": ledger.categories[e.category],
                    "recurrence": RECURRENCE[e.recurrence],
                    "kind": KINDS[e.kind],
                    "prior_year": e.prior_year,
                    "amount": e.amount.reshape(-1),
                    "_seq": seq,
                }
            )
        )
    if not parts:
        return pd.DataFrame()
    frame = pd.concat(parts, ignore_index=True)
    frame = frame[frame["amount"].to_numpy() != 0.0]
    frame = frame.sort_values(["replication", "_seq"], kind="stable").drop(columns="_seq")
    return frame.reset_index(drop=True)
