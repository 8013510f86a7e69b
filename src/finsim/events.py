"""What happened and when: decisions, disputes, interventions.

Events are recorded vectorised, like money: one call records an event for an
organisation (or several) in the replications where a mask holds, with an
optional amount per replication. They become ``Results.events``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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
        from finsim.calendar import fy_label

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


def _column(values: np.ndarray) -> object:
    """Text as pandas' string dtype (as every other table has it); numbers as they are."""
    if values.dtype == object and all(isinstance(v, str) for v in values[:1]):
        return pd.array(values, dtype="str")
    return values
