"""The tables of :class:`finsim.Results` built from its arrays: positions, flows, monthly
year-to-date surpluses and who subsidises whom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.calendar import fy_label
from finsim.economy import ORG_TYPES
from finsim.errors import ResultsError
from finsim.ledger import KINDS, RECURRENCE
from finsim.positions import SUBSIDY_PREFIX

if TYPE_CHECKING:
    from finsim.results import Results


def positions_frame(results: Results) -> pd.DataFrame:
    """One row per (variant, replication, fy, org); money in GBP m."""
    arrays = results._position_arrays
    R, F, A = arrays["surplus"].shape
    orgs = np.flatnonzero(results.economy.org_type != ORG_TYPES.index("external"))
    table = results.economy.org_table().iloc[orgs]
    n = orgs.size
    frame = pd.DataFrame(
        {
            "variant": results.variant,
            "replication": np.repeat(results.replication_ids, F * n),
            "fy": np.tile(np.repeat(np.array(results.years, dtype=object), n), R),
            "org": np.tile(table["org"].to_numpy(), R * F),
            "org_type": np.tile(table["org_type"].to_numpy(), R * F),
            "system": np.tile(table["system"].to_numpy(), R * F),
            "region": np.tile(table["region"].to_numpy(), R * F),
        }
    )
    for column in results.position_columns:
        values = arrays[column.name][:, :, orgs].reshape(-1)
        if column.flag:
            flag = pd.Series(values, index=frame.index)
            frame[column.name] = (flag > 0.5).astype("boolean").mask(flag.isna())
        else:
            frame[column.name] = values
    return frame


def flows_frame(results: Results) -> pd.DataFrame:
    """Money moved, per replication and year; amounts in GBP m (zero flows omitted).

    Large runs keep only each body's totals; run with ``keep_flows=True`` for this table.
    """
    if not results._flows_kept:
        raise ResultsError(
            "this run kept each body's totals, not every flow (keep_flows=False, the default "
            "above 1,000 replications): run with keep_flows=True (finsim run --keep-flows) "
            "for the flows table"
        )
    K = len(results._keys)
    ids = np.array(results.economy.ids, dtype=object)
    r, k = np.nonzero(results._amounts) if K else (np.empty(0, int), np.empty(0, int))
    start = results.economy.calendar.start_year
    fy_labels = np.array(
        [fy_label(start + i) for i in range(results.economy.calendar.n_years)], dtype=object
    )
    return pd.DataFrame(
        {
            "variant": results.variant,
            "replication": results.replication_ids[r],
            "fy": fy_labels[results._key("fy")[k]],
            "source": ids[results._key("source")[k]],
            "target": ids[results._key("target")[k]],
            "category": np.array(results.categories, dtype=object)[results._key("category")[k]],
            "recurrence": np.array(RECURRENCE, dtype=object)[results._key("recurrence")[k]],
            "kind": np.array(KINDS, dtype=object)[results._key("kind")[k]],
            "amount": results._amounts[r, k],
        }
    )


def monthly_frame(results: Results) -> pd.DataFrame | None:
    """Each body's year-to-date surplus at every month end, GBP m (revenue, accrued), and its
    cash balance (everything it has been paid less everything it has paid since the run
    began, revenue and capital: the difference from its accruals is what it is owed or owes):
    one row per (variant, replication, fy, month, org). None unless kept."""
    if results._monthly is None:
        return None
    R, T, A = results._monthly.shape
    orgs = np.flatnonzero(results.economy.org_type != ORG_TYPES.index("external"))
    ids = np.array(results.economy.ids, dtype=object)[orgs]
    years = np.repeat(np.array(results.years, dtype=object), 12)
    months = np.tile(np.arange(1, 13), T // 12)
    n = orgs.size
    return pd.DataFrame(
        {
            "variant": results.variant,
            "replication": np.repeat(results.replication_ids, T * n),
            "fy": np.tile(np.repeat(years, n), R),
            "month": np.tile(np.repeat(months, n), R),
            "org": np.tile(ids, R * T),
            "surplus_ytd": results._monthly[:, :, orgs].reshape(-1),
            **(
                {"cash": results._monthly_cash[:, :, orgs].reshape(-1)}
                if results._monthly_cash is not None
                else {}
            ),
        }
    )


def subsidies_frame(results: Results) -> pd.DataFrame:
    """Who subsidises whom: per body and year, the mean net money received (+) or given (-)
    through each subsidy component (a column each: top slices, risk shares, re-allocations,
    savings moved, extra surpluses asked of it...: see :mod:`finsim.positions`), with its
    deprivation quintile and need per head (weighted / registered population).
    """
    mean = results._accumulator.body_mean
    economy = results.economy
    bodies = np.flatnonzero(
        np.isin(economy.org_type, [ORG_TYPES.index("commissioner"), ORG_TYPES.index("provider")])
    )
    table = economy.org_table().iloc[bodies]
    F, n = len(results.years), bodies.size
    out = pd.DataFrame(
        {
            "fy": np.repeat(np.array(results.years, dtype=object), n),
            "org": np.tile(table["org"].to_numpy(), F),
            "org_type": np.tile(table["org_type"].to_numpy(), F),
            "system": np.tile(table["system"].to_numpy(), F),
            "region": np.tile(table["region"].to_numpy(), F),
            "deprivation_quintile": np.tile(table["deprivation_quintile"].to_numpy(), F),
            "need_per_head": np.tile(need_per_head(results)[bodies], F),
        }
    )
    total = np.zeros((F, n))
    for component in results._accumulator.subsidy_components:
        received = mean(f"{SUBSIDY_PREFIX}{component}")[:, bodies]
        out[component] = received.reshape(-1)
        total += received
    out["net_received"] = total.reshape(-1)
    return out


def need_per_head(results: Results) -> np.ndarray:
    values = np.full(results.economy.n_accounts, np.nan)
    for org, weighted, population in results._need:
        if population > 0:
            values[results.economy.index(org)] = weighted / population
    return values
