"""Each body's totals for a year, reduced from the ledger's flows: the compact form of results.

A run keeps, per replication, year and account, a handful of sums (income,
expenditure, their non-recurrent parts, incentive money, capital, the flows
through which bodies subsidise one another). Positions, summaries and stress
comparisons are built from these; the flow-by-flow table is kept only when asked
(small runs), so a large run's memory grows with organisations, not with flows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finsim.ledger import CATEGORIES, KINDS, RECURRENCE, scatter_add

INCENTIVE_CATEGORIES = ("incentive_payment", "incentive_bonus", "general_distribution")
#: Flows through which bodies subsidise one another (see Results.subsidies).
SUBSIDY_CATEGORIES = ("top_slice", "risk_share", "reallocation", "savings")


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
    keys: pd.DataFrame, amounts: np.ndarray, F: int, A: int
) -> dict[str, np.ndarray]:
    """The per-(replication, year, account) sums every result is built from, ``(R, F, A)``."""
    n = len(keys)
    column = {
        c: keys[c].to_numpy() if n else np.empty(0, np.int64)
        for c in ("kind", "recurrence", "category")
    }
    revenue = column["kind"] == KINDS.index("revenue")
    non_recurrent = column["recurrence"] == RECURRENCE.index("non_recurrent")
    category = column["category"]
    out: dict[str, np.ndarray] = {}
    out["income"], out["expenditure"] = _sums(keys, amounts, revenue, F, A)
    out["nonrecurrent_income"], out["nonrecurrent_expenditure"] = _sums(
        keys, amounts, revenue & non_recurrent, F, A
    )
    incentive = [CATEGORIES.index(c) for c in INCENTIVE_CATEGORIES]
    out["incentive_earned"], _ = _sums(keys, amounts, revenue & np.isin(category, incentive), F, A)
    out["incentive_payment"], _ = _sums(
        keys, amounts, revenue & (category == CATEGORIES.index("incentive_payment")), F, A
    )
    out["capital_income"], out["capital_expenditure"] = _sums(
        keys, amounts, column["kind"] == KINDS.index("capital"), F, A
    )
    for name in SUBSIDY_CATEGORIES:
        got, gave = _sums(keys, amounts, revenue & (category == CATEGORIES.index(name)), F, A)
        out[f"net_{name}"] = got - gave
    return out
