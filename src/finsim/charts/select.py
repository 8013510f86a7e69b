"""What a chart reads from results: the year, the accounts of a body, system, region or
England, and yearly quantiles of a surplus (before incentive funding against a control
total). Errors name what the results hold.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.charts.style import BANDS, ChartError
from finsim.economy import ORG_TYPES
from finsim.errors import did_you_mean

if TYPE_CHECKING:
    from finsim.results import Results


def _fy(results: Results, fy: str | None) -> str:
    if fy is None:
        return results.years[-1]
    if fy not in results.years:
        raise ChartError(f"no financial year '{fy}' in this run; it has {', '.join(results.years)}")
    return fy


def _selection(results: Results, name: str) -> tuple[np.ndarray, str, str]:
    """Accounts whose money adds up to ``name``, its summary level and a label.

    ``name`` is an organisation id, a system or region id (its members and its own
    account, as :meth:`Results.summary` sums them) or ``"england"`` (every body).
    """
    economy = results.economy
    types = np.array(ORG_TYPES, dtype=object)[economy.org_type]
    inside = types != "external"
    if name.lower() == "england":
        return np.flatnonzero(inside), "england", "England"
    if name not in economy.ids or not inside[economy.index(name)]:
        known = [i for i, t in zip(economy.ids, types, strict=True) if t != "external"]
        guess = did_you_mean(name, [*known, "england"])
        raise ChartError(
            f"no organisation, system or region '{name}' in this run"
            + (f" (did you mean '{guess}'?)" if guess else "")
        )
    a = economy.index(name)
    kind = str(types[a])
    if kind in ("system", "region"):
        parent = economy.system if kind == "system" else economy.region
        accounts = np.flatnonzero((parent == a) | (np.arange(economy.n_accounts) == a))
        return accounts, kind, f"{name} ({kind} total)"
    return np.array([a]), "org", name


def _table(
    results: Results, name: str, fy: str, replication: int | None = None
) -> pd.DataFrame | None:
    if name not in results.table_names:
        return None
    table = results.table(name)
    table = table[table["fy"] == fy]
    if replication is not None and "replication" in table:
        table = table[table["replication"] == replication]
    return table


def _quantile_levels() -> list[float]:
    return sorted({0.5, *(0.5 - b / 2 for b in BANDS), *(0.5 + b / 2 for b in BANDS)})


def _has_control_total(results: Results, org: str) -> bool:
    _, level, _ = _selection(results, org)
    if level == "england":
        return False
    summary = results.summary(quantiles=())
    rows = summary[(summary["level"] == level) & (summary["name"] == org)]
    return bool(rows["control_total"].notna().any())


def _yearly(
    results: Results, org: str, before_incentives: bool
) -> tuple[dict[float, np.ndarray], np.ndarray, bool]:
    """Each year's quantiles of a body's surplus (before incentive funding, or after), its
    control total (NaN where none; only with ``before_incentives``) and whether the run paid
    any incentive funding to it."""
    _, level, _ = _selection(results, org)
    quantiles = _quantile_levels()
    summary = results.summary(quantiles=quantiles, before_incentives=before_incentives)
    key = "England" if level == "england" else org
    rows = summary[(summary["level"] == level) & (summary["name"] == key)]
    rows = rows.set_index("fy").loc[results.years]
    prefix = "before_incentives" if before_incentives else "surplus"
    q = {p: rows[f"{prefix}_p{round(p * 100):02d}"].to_numpy() for p in quantiles}
    control = rows["control_total"].to_numpy(dtype=float)
    if not before_incentives:
        control = np.full_like(control, np.nan)
    paid = bool((rows["incentive_mean"].abs() > 1e-9).any())
    return q, control, paid


def _measure(before_incentives: bool, incentives_paid: bool) -> str:
    """What a fan of surplus measures, in words, for its title."""
    if before_incentives:
        return "surplus / (deficit) before incentive funding"
    return "surplus / (deficit)" + (" after incentive funding" if incentives_paid else "")
