"""The cells a run's summary is given for: every body (but the external accounts), each system
and region as the sum of its members, and England; and each summed quantity for them, from a
chunk's position arrays (:func:`level_cells`, used by :mod:`finsim.summaries`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from finsim.economy import ORG_TYPES, Economy
from finsim.numeric import row_sum

#: How the summary names a system's or region's own account (``"north_shire (own account)"``),
#: apart from the system or region as a whole (the sum over its members and own account).
OWN_ACCOUNT = " (own account)"
#: Quantities summed over a system's or region's members for the summary.
SUMMABLE = (
    "income",
    "expenditure",
    "surplus",
    "underlying_surplus",
    "incentive_earned",
    "net_subsidy",
)


class Levels:
    """Where the summary's cells come from, worked out once per economy: each level's
    columns (every body but the external accounts; each system; each region), the matrix
    summing a system's or region's members, and the cells' labels."""

    def __init__(self, economy: Economy) -> None:
        self.not_external = np.flatnonzero(economy.org_type != ORG_TYPES.index("external"))
        types = np.array(ORG_TYPES, dtype=object)[economy.org_type]
        ids = np.array(economy.ids, dtype=object)
        self.levels: list[tuple[str, slice | np.ndarray, Any]] = []
        meta = []
        for level in ("org", "system", "region"):
            if level == "org":
                columns, matrix = self.not_external, None
                # a system's or region's own account is not the system or region: named apart,
                # so that a table indexed by name never holds two rows under one name
                names = np.where(
                    np.isin(types[columns], ("system", "region")),
                    ids[columns] + OWN_ACCOUNT,
                    ids[columns],
                )
            else:
                columns = np.flatnonzero(economy.org_type == ORG_TYPES.index(level))
                matrix = economy.membership(level)
                names = ids[columns]
            meta.append(pd.DataFrame({"level": level, "name": names, "org_type": types[columns]}))
            self.levels.append((level, _as_slice(columns), matrix))
        meta.append(
            pd.DataFrame({"level": ["england"], "name": ["England"], "org_type": ["england"]})
        )
        self.meta = pd.concat(meta, ignore_index=True)
        self.cells = len(self.meta)
        self.not_external_columns = _as_slice(self.not_external)


def _as_slice(columns: np.ndarray) -> slice | np.ndarray:
    """Consecutive columns as a slice (accounts are numbered level by level, so each
    level's are), else as they are."""
    if columns.size and int(columns[-1]) - int(columns[0]) == columns.size - 1:
        if columns.size == 1 or bool(np.all(np.diff(columns) == 1)):
            return slice(int(columns[0]), int(columns[-1]) + 1)
    return columns


def level_cells(
    arrays: dict[str, np.ndarray], economy: Economy, levels: Levels | None = None
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """The summary's cells (every body, each system and region as the sum of its members,
    and England) and each quantity for them, shaped ``(R, F, cells)``. ``levels``: the
    economy's :class:`Levels`, if already worked out."""
    levels = levels or Levels(economy)
    R, F, A = arrays["surplus"].shape
    cells = {
        name: np.empty((R, F, levels.cells))
        for name in (*SUMMABLE, "control_total", "before_incentives")
    }
    start = 0
    for level, columns, matrix in levels.levels:
        n = len(range(A)[columns]) if isinstance(columns, slice) else columns.size
        where = slice(start, start + n)
        start += n
        for name in SUMMABLE:
            values = arrays[name]
            if matrix is not None:
                values = np.asarray(values.reshape(-1, A) @ matrix).reshape(R, F, -1)
            cells[name][:, :, where] = values[:, :, columns]
        prefix = "" if matrix is None else f"{level}_"
        cells["control_total"][:, :, where] = arrays[f"{prefix}control_total"][:, :, columns]
        cells["before_incentives"][:, :, where] = arrays[f"{prefix}surplus_before_incentives"][
            :, :, columns
        ]
    # England: every account but the external ones, added left to right
    for name in SUMMABLE:
        cells[name][:, :, -1] = row_sum(arrays[name][:, :, levels.not_external_columns])
    cells["control_total"][:, :, -1] = np.nan
    np.subtract(
        cells["surplus"][:, :, -1],
        cells["incentive_earned"][:, :, -1],
        out=cells["before_incentives"][:, :, -1],
    )
    return levels.meta, cells
