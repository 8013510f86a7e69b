"""Mechanism tables: per-organisation figures a mechanism reports besides money flows.

Allocations report each body's baseline, target and distance from target; later
mechanisms report control totals or dispute stages. A mechanism records rows
vectorised: one call for ``n`` organisations gives ``R x n`` rows. They become
``Results.table(name)`` (e.g. ``res.table("allocations")``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from finsim.calendar import fy_label


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
