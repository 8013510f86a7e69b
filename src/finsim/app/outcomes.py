"""What the explorer shows of a run, read through the public Results API: the headline
figures, the control totals (each body's decision and its probability of meeting its
total), who subsidises whom, the bodies a fan chart can show, and the results workbook.

Each function takes a :class:`finsim.Results` and returns plain data (a pandas table, a
list of :class:`Headline`, bytes), so the page only lays them out and the tests read them
without a browser. Money is GBP million, as everywhere in finsim.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from finsim.results import Results

#: Tables with a row per replication (or per posting): a run's own files hold them
#: (``finsim run --out``); the explorer's workbook holds the summaries over replications.
PER_REPLICATION = ("positions", "flows", "events", "monthly", "journal")
#: Money smaller than this (GBP m) is nobody subsidising anybody.
NOTHING = 0.005


@dataclass(frozen=True)
class Headline:
    """One figure at the top of the results: its label, its value as shown, what it means."""

    label: str
    value: str
    help: str


def acceptance(results: Results) -> pd.DataFrame:
    """Each body's decision on its control total, per year: ``accepting``, the share of
    replications in which it accepted (with the behavioural rule boards decide once, before
    the year: 0 or 1). Read from each replication's positions (kept by default up to 2,000
    replications); empty when the scenario sets no control totals or the run kept no
    positions."""
    columns = ["fy", "org", "name", "system", "accepting"]
    if not results.positions_kept:
        return pd.DataFrame(columns=columns)
    positions = results.positions
    decided = positions[positions["accepted_control_total"].notna()]
    if decided.empty:
        return pd.DataFrame(columns=columns)
    share = (
        decided.assign(accepted=decided["accepted_control_total"].astype(float))
        .groupby(["fy", "org"], sort=False)["accepted"]
        .mean()
        .rename("accepting")
        .reset_index()
    )
    orgs = results.economy.org_table().set_index("org")
    share.insert(2, "name", orgs["name"].reindex(share["org"]).to_numpy())
    share.insert(3, "system", orgs["system"].reindex(share["org"]).to_numpy())
    return share[columns].reset_index(drop=True)


def control_totals(results: Results) -> pd.DataFrame:
    """Per year, each body, system and region with a control total (``org``: its id) and
    its name: the total (before
    incentive funding, GBP m), the probability of meeting it, the mean surplus before
    incentives, and for a body the share of replications in which it accepted its total.
    Empty when the scenario sets none."""
    summary = results.summary(before_incentives=True)
    rows = summary[summary["control_total"].notna()]
    names = results.economy.org_table().set_index("org")["name"]
    table = pd.DataFrame(
        {
            "fy": rows["fy"].to_numpy(),
            "level": rows["level"].to_numpy(),
            "org": rows["name"].to_numpy(),
            "name": names.reindex(rows["name"]).fillna(rows["name"]).to_numpy(),
            "control_total": rows["control_total"].to_numpy(dtype=float),
            "surplus_before_incentives_mean": rows["before_incentives_mean"].to_numpy(dtype=float),
            "p_met_control_total": rows["p_met_control_total"].to_numpy(dtype=float),
        }
    )
    decisions = acceptance(results).set_index(["fy", "org"])["accepting"]
    keys = pd.MultiIndex.from_arrays([table["fy"], table["org"]])
    table["accepting"] = decisions.reindex(keys).to_numpy(dtype=float)
    return table


def headlines(results: Results) -> list[Headline]:
    """The figures at the top: in the last year, how many bodies and systems accept their
    control totals and how likely a body is to meet its total, then England's surplus."""
    fy = results.years[-1]
    out: list[Headline] = []
    decided = acceptance(results)
    decided = decided[decided["fy"] == fy]
    if len(decided):
        accepting = decided["accepting"] >= 0.5
        out.append(
            Headline(
                "Bodies accepting",
                f"{int(accepting.sum())} of {len(decided)}",
                f"Bodies accepting their control totals in {fy}: a body counts when it accepts "
                "in at least half the replications.",
            )
        )
        in_system = decided["system"].notna()  # (a body outside any system is no system)
        systems = accepting[in_system].groupby(decided["system"][in_system]).all()
        out.append(
            Headline(
                "Systems all accepting",
                f"{int(systems.sum())} of {len(systems)}",
                f"Systems each of whose bodies with a control total accepts it in {fy}.",
            )
        )
    totals = control_totals(results)
    bodies = totals[(totals["fy"] == fy) & (totals["level"] == "org")]
    if len(bodies):
        out.append(
            Headline(
                "Chance of meeting",
                f"{bodies['p_met_control_total'].mean():.0%}",
                f"The probability that a body meets its control total in {fy}: the mean over "
                "bodies with a control total of the share of replications in which the body's "
                "surplus before incentive funding meets its total.",
            )
        )
    summary = results.summary()
    england = summary[(summary["level"] == "england") & (summary["fy"] == fy)].iloc[0]
    interval = (
        f" (90%: {_money(england['surplus_p05'])} to {_money(england['surplus_p95'])})"
        if results.replications > 1
        else ""
    )
    out.append(
        Headline(
            "England's surplus, £m",
            _money(england["surplus_mean"]),
            f"England's surplus / (deficit) in {fy}: the mean over "
            f"{results.replications:,} replications{interval}, GBP m.",
        )
    )
    return out


def subsidies(results: Results) -> pd.DataFrame:
    """Who subsidises whom (:meth:`finsim.Results.subsidies`): the bodies that received (+)
    or gave (-) money through top slices, risk shares, re-allocations, savings or extra
    surpluses, with their names, largest givers first. Empty when no money moved so."""
    table = results.subsidies()
    money = ["top_slice", "reallocation", "risk_share", "savings", "extra_surplus", "net_received"]
    money = [c for c in money if c in table]
    moved = table[(table[money].abs() > NOTHING).any(axis=1)]
    names = results.economy.org_table().set_index("org")["name"]
    moved = moved.assign(name=names.reindex(moved["org"]).to_numpy())
    columns = ["fy", "org", "name", "system", "deprivation_quintile", "need_per_head", *money]
    return moved[columns].sort_values(["fy", "net_received"], kind="stable").reset_index(drop=True)


def fan_choices(results: Results) -> dict[str, str]:
    """What a fan chart can show, by id: England, then each region, system and body."""
    orgs = results.economy.org_table()
    out = {"england": "England"}
    for kind in ("region", "system", "commissioner", "provider"):
        for org, name in orgs.loc[orgs["org_type"] == kind, ["org", "name"]].itertuples(
            index=False
        ):
            out[str(org)] = f"{name} ({kind})"
    return out


def default_fan(results: Results) -> str:
    """The fan chart shown first: the first system with a control total (its fan is drawn
    against the total), else England."""
    totals = control_totals(results)
    systems = totals.loc[totals["level"] == "system", "org"]
    return str(systems.iloc[0]) if len(systems) else "england"


def workbook_tables(results: Results) -> list[str]:
    """The tables the explorer's workbook holds: the summaries over replications and the
    run-wide tables (such as each body's acceptance decision), not a row per replication."""
    names = [n for n in results.kept_tables if n not in PER_REPLICATION]
    return [
        n for n in names if n not in results.table_names or "replication" not in results.table(n)
    ]


def workbook(results: Results) -> bytes:
    """The results workbook (:func:`finsim.export.to_excel`) of the tables
    :func:`workbook_tables` names, as the bytes of an ``.xlsx`` file."""
    from finsim.export import to_excel

    with tempfile.TemporaryDirectory(prefix="finsim-app-") as folder:
        path = to_excel(
            results, Path(folder) / "finsim-results.xlsx", tables=workbook_tables(results)
        )
        return path.read_bytes()


def _money(value: float) -> str:
    """GBP m to one decimal place, a deficit in brackets, as NHS accounts show it."""
    shown = round(value, 1) + 0.0  # (a deficit that rounds to nothing shows as 0.0)
    return f"({abs(shown):,.1f})" if shown < 0 else f"{shown:,.1f}"
