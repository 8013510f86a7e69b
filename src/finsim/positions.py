"""Each body's totals for a year, reduced from the ledger's flows, and the position columns
built from them: the compact form of results.

A run keeps, per replication, year and account, a handful of sums (income,
expenditure, their non-recurrent parts, incentive money, capital, the flows
through which bodies subsidise one another). Positions, summaries and stress
comparisons are built from these; the flow-by-flow table is kept only when asked
(small runs), so a large run's memory grows with organisations, not with flows.

Which flows are incentive money and which are subsidies between bodies is not known here:
each mechanism says so of the categories it declares (:class:`finsim.ledger.Category`'s
``role``). The columns of ``Results.positions`` beyond the core ones (:data:`CORE_COLUMNS`)
come from the mechanisms too: each declares its :class:`PositionColumn`\\ s and fills them in
:meth:`finsim.mechanisms.base.Mechanism.positions` from a :class:`PositionView`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from finsim.economy import ORG_TYPES, Economy
from finsim.ledger import KINDS, RECURRENCE, ROLES, scatter_add

#: Arrays named ``net_<component>`` are the parts of what a body receives from (+) or gives to
#: (-) other bodies: each is a column of ``Results.subsidies``, and ``net_subsidy`` their sum.
SUBSIDY_PREFIX = "net_"


class PositionColumn(NamedTuple):
    """A column of ``Results.positions``: its name, where it is placed (lower first: the core
    columns are ranked 10-50 and 100-140), its meaning, and whether it is money (GBP m) or a
    flag (stored as 1.0, 0.0 or NaN, shown as a nullable boolean)."""

    name: str
    rank: int
    meaning: str
    flag: bool = False


#: The columns every run has, whatever its mechanisms.
CORE_COLUMNS = (
    PositionColumn("income", 10, "revenue received, GBP m"),
    PositionColumn("expenditure", 20, "revenue paid, GBP m"),
    PositionColumn("surplus", 30, "income less expenditure, GBP m"),
    PositionColumn("underlying_surplus", 40, "surplus less net non-recurrent income, GBP m"),
    PositionColumn("surplus_before_incentives", 50, "surplus less incentive funding, GBP m"),
    PositionColumn("incentive_earned", 100, "incentive funding received, GBP m"),
    PositionColumn("nonrecurrent_income", 110, "one-off revenue received, GBP m"),
    PositionColumn("nonrecurrent_expenditure", 120, "one-off revenue paid, GBP m"),
    PositionColumn("capital_income", 130, "capital received, GBP m"),
    PositionColumn("capital_expenditure", 140, "capital paid, GBP m"),
)


@dataclass
class PositionView:
    """What :meth:`~finsim.mechanisms.base.Mechanism.positions` sees: one run's (or chunk's)
    position arrays, ``(R, F, A)`` each, which it may add to, and the mechanisms' outputs
    (the ``output.*`` slots they published, by name without the prefix; absent when the
    mechanism did not run)."""

    arrays: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    economy: Economy

    @property
    def shape(self) -> tuple[int, int, int]:
        R, F, A = self.arrays["surplus"].shape
        return R, F, A

    def full(self, name: str) -> np.ndarray:
        """The output ``name`` broadcast to ``(R, F, A)``; NaN throughout if there is none."""
        value = self.outputs.get(name)
        return np.full(self.shape, np.nan) if value is None else np.broadcast_to(value, self.shape)

    def summed(self, values: np.ndarray, level: str) -> np.ndarray:
        """Each ``level`` account ("system" or "region") given the sum of its members'
        ``values``; other accounts 0. ``(R, F, A)``."""
        shape = values.shape
        summed = values.reshape(-1, shape[2]) @ self.economy.membership(level)
        return np.asarray(summed).reshape(shape)

    def of_parent(self, values: np.ndarray, level: str) -> np.ndarray:
        """Each account given the value of its ``level`` ("system" or "region"): its own for
        the level's accounts, NaN where it has none. ``(R, F, A)``."""
        economy = self.economy
        parent = economy.system if level == "system" else economy.region
        own = economy.org_type == ORG_TYPES.index(level)
        column = np.where(own, np.arange(values.shape[2]), parent)
        valid = column >= 0
        return np.where(valid, values[:, :, np.maximum(column, 0)], np.nan)


def _sums(
    keys: pd.DataFrame, amounts: np.ndarray, mask: np.ndarray, F: int, A: int
) -> tuple[np.ndarray, np.ndarray]:
    R = amounts.shape[0]
    inflow = np.zeros((R, F * A))
    outflow = np.zeros((R, F * A))
    if mask.any():
        fy = keys["fy"].to_numpy()[mask]
        selected = amounts[:, mask]
        scatter_add(inflow, fy * A + keys["target"].to_numpy()[mask], selected)
        scatter_add(outflow, fy * A + keys["source"].to_numpy()[mask], selected)
    return inflow.reshape(R, F, A), outflow.reshape(R, F, A)


def account_totals(
    keys: pd.DataFrame,
    amounts: np.ndarray,
    F: int,
    A: int,
    categories: Sequence[str],
    incentive: Sequence[str] = (),
    subsidy: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """The per-(replication, year, account) sums every result is built from, ``(R, F, A)``.

    ``categories`` is the run's vocabulary (category names by code); ``incentive`` and
    ``subsidy`` the names with those roles (:func:`finsim.ledger.with_role`). Each incentive
    category's receipts are kept as ``received_<name>``, their sum as ``incentive_earned``;
    each subsidy category's net receipt as ``net_<name>``.
    """
    n = len(keys)
    column = {
        c: keys[c].to_numpy() if n else np.empty(0, np.int64)
        for c in ("kind", "recurrence", "category")
    }
    revenue = column["kind"] == KINDS.index("revenue")
    non_recurrent = column["recurrence"] == RECURRENCE.index("non_recurrent")
    category = column["category"]
    codes = {name: code for code, name in enumerate(categories)}
    out: dict[str, np.ndarray] = {}
    out["income"], out["expenditure"] = _sums(keys, amounts, revenue, F, A)
    out["nonrecurrent_income"], out["nonrecurrent_expenditure"] = _sums(
        keys, amounts, revenue & non_recurrent, F, A
    )
    incentive_codes = [codes[c] for c in incentive]
    out["incentive_earned"], _ = _sums(
        keys, amounts, revenue & np.isin(category, incentive_codes), F, A
    )
    for name in incentive:
        out[f"received_{name}"], _ = _sums(keys, amounts, revenue & (category == codes[name]), F, A)
    out["capital_income"], out["capital_expenditure"] = _sums(
        keys, amounts, column["kind"] == KINDS.index("capital"), F, A
    )
    for name in subsidy:
        got, gave = _sums(keys, amounts, revenue & (category == codes[name]), F, A)
        out[f"{SUBSIDY_PREFIX}{name}"] = got - gave
    return out


def subsidy_components(arrays: dict[str, np.ndarray]) -> list[str]:
    """The names of the subsidy components among position arrays (``net_<name>``, in order)."""
    return [
        name.removeprefix(SUBSIDY_PREFIX)
        for name in arrays
        if name.startswith(SUBSIDY_PREFIX) and name != "net_subsidy"
    ]


def columns(mechanisms: Iterable[type]) -> list[PositionColumn]:
    """The columns of ``Results.positions`` with these mechanism classes: the core ones and
    those the mechanisms declare (``columns``), by rank (ties in mechanism order). A name
    declared twice, or a role a category may not have, is an error naming the mechanism."""
    out = list(CORE_COLUMNS)
    owner = {c.name: "finsim.positions (core)" for c in CORE_COLUMNS}
    for cls in mechanisms:
        for column in getattr(cls, "columns", ()):
            if not isinstance(column, PositionColumn):
                raise TypeError(
                    f"{cls.__name__}.columns must hold finsim.positions.PositionColumn, "
                    f"got {column!r}"
                )
            if column.name in owner:
                raise ValueError(
                    f"{cls.__name__} declares the position column {column.name!r}, already "
                    f"declared by {owner[column.name]}"
                )
            owner[column.name] = cls.__name__
            out.append(column)
        for category in getattr(cls, "categories", ()):
            role = getattr(category, "role", "")
            if role not in ROLES:
                raise ValueError(
                    f"{cls.__name__} declares category {category.name!r} with role {role!r}; "
                    f"roles are {ROLES[1:]} or none"
                )
    return sorted(out, key=lambda c: c.rank)
