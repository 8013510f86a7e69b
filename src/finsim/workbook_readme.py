"""A workbook's README sheet: what was run (scenario, seed, replications, units...), how
its numbers are formatted, and what each sheet holds; and the sheets of surplus by
organisation and year in the plan layout (:mod:`finsim.plan_sheet`) that open a
results workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from finsim.plan_sheet import (
    own_accounts_in_use,
    plan_rows,
    plan_values,
    write_plan_sheet,
)
from finsim.workbook_style import _text

if TYPE_CHECKING:
    from openpyxl.workbook import Workbook
    from openpyxl.worksheet.worksheet import Worksheet

    from finsim.results import Results

README = "README"
UNITS = "money in GBP million; tariff prices in GBP per unit"
#: The sheet of mean surplus by organisation and year.
MEAN_SHEET = "Surplus (mean)"
NUMBER_FORMATS = (
    "long tables: money #,##0.0 with negatives red in brackets (each cell holds the full "
    "value), probabilities and rates as percentages; surplus by organisation and year: "
    "#,##0.0;(#,##0.0), a deficit in brackets"
)

#: What each table holds, for the README sheet.
DESCRIPTIONS = {
    "positions": "One row per replication, year and organisation: income, expenditure, surplus "
    "and underlying surplus, control totals (own, system, region) and whether each was met.",
    "flows": "Money moved between accounts, per replication and year, by category, "
    "recurrence and kind (revenue or capital).",
    "events": "What happened and when: decisions, disputes, interventions; amount in GBP m "
    "where the event concerns money.",
    "event_counts": "How often each event happened, per year, body and kind of event: events "
    "and replications with at least one.",
    "summary": "Per organisation, system, region and England, and year: mean surplus, its "
    "quantiles across replications, probability of a deficit and of meeting the control total. "
    "One row per level, name and year: a system's or region's own account is the org row "
    "'<id> (own account)', apart from its total (level system or region).",
    "subsidies": "Who subsidises whom: per body and year, mean net money received (+) or "
    "given (-) through top slices, risk shares, re-allocations and extra surpluses.",
    "monthly": "Each body's year-to-date revenue surplus at every month end.",
    "journal": "Every posting of the ledger, per replication (kept in small runs only).",
    "allocations": "Commissioners' allocations per stream and year: baseline, target, "
    "allocation, growth and distance from target before and after.",
    "places": "Allocations to places within systems, with their need index.",
    "contracts": "Each contract's year: plan value, money due, paid on account, withheld and "
    "the year-end reconciliation.",
    "cquin": "CQUIN: money at stake, achievement and money earned per contract.",
    "disputes": "Contract challenges: activity over plan, money disputed and at stake.",
    "disputes_settled": "How disputes ended: money withheld, the provider's share and the "
    "settlement.",
    "risk_share": "System risk shares: each member's variance, its share after pooling and the "
    "transfer.",
    "control_totals": "Control totals set for each body and year.",
    "acceptance": "Control total offers: expected surplus, the improvement asked, expected "
    "gain and whether the body accepted.",
    "incentives": "Incentive funds: allocation, whether the control total was accepted, money "
    "earned and redistributed.",
    "interventions": "Regional interventions: forecast, gap to the regional control total and "
    "what each step (extra surplus, top slice, rapid savings) closed.",
    "savings": "Savings programmes: planned, delivered, recurrent and shortfall.",
    "capital": "Capital bids: amount, score and whether funded.",
}
NAMES = (
    "each id column of a table has the organisation's name beside it: org_name after org, "
    "source_name after source, system_name after system...; the summary's name (an id) has "
    "organisation after it"
)


def percentile_sheet(q: float) -> str:
    """The sheet name of surplus at quantile ``q``: "Surplus (5th percentile)"."""
    p = round(q * 100, 1)
    n = int(p) if p == int(p) else p
    suffix = "th"
    if isinstance(n, int) and n % 100 not in (11, 12, 13):
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"Surplus ({n:g}{suffix} percentile)"


def write_plan_sheets(
    book: Workbook, results: Results, percentiles: Sequence[float]
) -> list[tuple[str, str]]:
    """The sheets of surplus / (deficit) by organisation and year: the mean, then one per
    percentile (none with one replication); returns (sheet, what it holds) for the README."""
    quantiles = tuple(sorted({0.05, 0.5, 0.95, *percentiles}))
    summary = results.summary(quantiles)
    n = results.replications
    shown = ["surplus_mean"] + [f"surplus_p{round(q * 100):02d}" for q in percentiles]
    rows = plan_rows(results.economy, own_accounts_in_use(summary, shown))
    years = list(results.years)
    of = f"{results.scenario_name}, variant {results.variant}, seed {results.seed}"
    sheets: list[tuple[str, str, str, list[str]]] = [
        (
            MEAN_SHEET,
            "surplus_mean",
            "Surplus / (deficit), GBP m: "
            + ("one replication" if n == 1 else f"mean over {n:,} replications"),
            [of, "System, region and England totals are the sums of the rows above them."],
        )
    ]
    if n > 1:
        for q, column in zip(percentiles, shown[1:], strict=True):
            name = percentile_sheet(q)
            sheets.append(
                (
                    name,
                    column,
                    f"Surplus / (deficit), GBP m: {name.removeprefix('Surplus (')[:-1]} "
                    f"over {n:,} replications",
                    [
                        of,
                        "Each total is the percentile of the total, not the sum of the rows "
                        "above it: percentiles do not add.",
                    ],
                )
            )
    described = []
    for name, column, title, notes in sheets:
        values = plan_values(rows, summary, column, years)
        write_plan_sheet(
            book.create_sheet(name), rows, values, [("", fy) for fy in years], title, notes
        )
        described.append(
            (
                name,
                f"{title}, by organisation (rows: regions, systems, their "
                "commissioners and providers) and financial year (columns), with "
                "system and region subtotals and the England total.",
            )
        )
    return described


def run_about(results: Results) -> list[tuple[str, Any]]:
    """What was run, for the README sheet of a run's workbook."""
    meta = results.metadata()
    years = meta["years"]
    return [
        ("Scenario", meta["scenario"]),
        ("Source file", meta["source"] or "(not from a file)"),
        ("Variant", meta["variant"]),
        ("Seed", meta["seed"]),
        ("Replications", meta["replications"]),
        ("Financial years", f"{years[0]} to {years[-1]}" if years else ""),
        ("finsim version", meta["finsim_version"]),
        ("Units", UNITS),
        ("Number formats", NUMBER_FORMATS),
        ("Organisation names", NAMES),
        ("Summary quantiles", _quantiles(meta.get("summary"))),
        ("Created", created()),
    ]


def created() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def write_readme(
    ws: Worksheet,
    title: str,
    about: Sequence[tuple[str, Any]],
    sheets: Sequence[tuple[str, str, int | None]],
) -> None:
    """The README: a title, what was run (label, value), then each sheet, what it holds and
    its rows (None: not a table)."""
    from openpyxl.styles import Alignment, Font

    _text(ws, 1, 1, title).font = Font(bold=True, size=14)
    row = 2
    for label, value in about:
        _text(ws, row, 1, label).font = Font(bold=True)
        _text(ws, row, 2, value).alignment = Alignment(wrap_text=True, vertical="top")
        row += 1
    row += 1
    for col, heading in enumerate(("Sheet", "What it holds", "Rows"), start=1):
        _text(ws, row, col, heading).font = Font(bold=True)
    _text(ws, row + 1, 1, README)
    _text(ws, row + 1, 2, "This sheet: what was run and what each sheet holds.")
    row += 2
    for sheet, what, rows in sheets:
        _text(ws, row, 1, sheet)
        _text(ws, row, 2, what).alignment = Alignment(wrap_text=True, vertical="top")
        if rows is not None:
            _text(ws, row, 3, rows).number_format = "#,##0"
        row += 1
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 100
    ws.column_dimensions["C"].width = 12


def _quantiles(described: Any) -> str:
    """How the summary's quantiles were computed, from ``metadata()["summary"]``."""
    if not isinstance(described, dict):
        return "exact"
    accuracy = described.get("relative_accuracy")
    if described.get("quantiles") == "exact" or accuracy is None:
        return "exact"
    return f"estimated, within {accuracy:.1%} of the exact value"
