"""A stress test's Excel workbook (``StressResults.to_excel``, ``finsim stress --excel``).

Sheets, in order:

* ``README``: what was run (scenario, variants, the baseline they are paired against,
  seed, replications, antithetic or not, years), the units (GBP m), the definitions of the
  comparison's measures and what each sheet holds;
* ``Comparison``: the board's comparison (:func:`finsim.comparison.comparison`) of England,
  each region and each system, one row per body, year and variant;
* ``Surplus (mean)``: mean surplus / (deficit) by organisation and year in the layout of a
  plan template (:mod:`finsim.plan_sheet`), the variants side by side;
* the long comparison tables (``meeting``, ``incentives``, ``system_risk``,
  ``acceptance``, ``subsidies``, ``underlying``, as ``finsim stress --out`` writes them)
  and ``differences`` (each body's surplus, each variant minus the baseline, paired by
  replication), with organisations' names beside their ids.

The file is written beside ``path`` and renamed into place, as :func:`finsim.export.to_excel`
does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from finsim.comparison import clean, comparison, definitions, stress_tables, tail_column
from finsim.errors import ResultsError
from finsim.plan_sheet import (
    PLAN_FORMAT,
    org_names,
    own_accounts_in_use,
    plan_rows,
    plan_values,
    with_names,
    write_plan_sheet,
)
from finsim.results_io import atomic_write
from finsim.workbook_readme import (
    MEAN_SHEET,
    NAMES,
    NUMBER_FORMATS,
    README,
    UNITS,
    created,
    write_readme,
)
from finsim.workbook_style import (
    PERCENT_FORMAT,
    _format_sheet,
    _text,
    print_on_a4,
    sheet_names,
)

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from finsim.stress import StressResults

COMPARISON = "Comparison"
SE_FORMAT = "#,##0.00"
DIFF_FORMAT = "#,##0.00;(#,##0.00);0.00"
DIFF_PERCENT_FORMAT = "+0.0%;-0.0%;0.0%"


def _columns(
    tail: float, baseline: str, confidence: float = 0.95
) -> list[tuple[str, str, str | None]]:
    """The comparison sheet's columns: (column of the comparison, header, number format)."""
    worst = f"{tail:.0%}" if tail * 100 == round(tail * 100) else f"{tail:.1%}"
    level = (
        f"{confidence:.0%}" if confidence * 100 == round(confidence * 100) else f"{confidence:.1%}"
    )
    versus = f"vs {baseline}"
    return [
        ("level", "Level", None),
        ("name", "Code", None),
        ("organisation", "Organisation", None),
        ("fy", "Year", None),
        ("variant", "Variant", None),
        ("control_total", "Control total", PLAN_FORMAT),
        ("p_met", "P(meet control total)", PERCENT_FORMAT),
        ("p_met_low", f"{level} interval: low", PERCENT_FORMAT),
        ("p_met_high", f"{level} interval: high", PERCENT_FORMAT),
        ("surplus_before_incentives_mean", "Surplus before incentive funding", PLAN_FORMAT),
        (tail_column(tail), f"Expected shortfall: mean of worst {worst}", PLAN_FORMAT),
        ("ct_shortfall_mean", "Expected shortfall against control total", PLAN_FORMAT),
        ("incentive_allocation", "Incentive allocation", PLAN_FORMAT),
        ("incentive_earned_mean", "Incentive earned on the tests", PLAN_FORMAT),
        ("incentive_lost_mean", "Incentive lost on the tests", PLAN_FORMAT),
        ("surplus_mean", "Surplus after incentive funding", PLAN_FORMAT),
        ("surplus_before_incentives_diff", f"Δ surplus before incentives {versus}", DIFF_FORMAT),
        ("surplus_before_incentives_diff_se", "se", SE_FORMAT),
        ("p_met_diff", f"Δ P(meet) {versus}", DIFF_PERCENT_FORMAT),
        ("p_met_diff_se", "se", "0.0%"),
        ("incentive_earned_diff", f"Δ incentive earned {versus}", DIFF_FORMAT),
        ("incentive_earned_diff_se", "se", SE_FORMAT),
        ("surplus_diff", f"Δ surplus after incentives {versus}", DIFF_FORMAT),
        ("surplus_diff_se", "se", SE_FORMAT),
    ]


def stress_to_excel(
    stress: StressResults, path: str | Path, *, baseline: str | None = None, tail: float = 0.05
) -> Path:
    """Write a stress test's workbook at ``path`` (``.xlsx``); return the path."""
    from finsim.export import EXCEL_MAX_ROWS, _require_openpyxl

    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ResultsError(f"{path}: an Excel workbook's name should end in .xlsx")
    _require_openpyxl()
    table = comparison(stress, baseline, tail=tail)
    baseline = str(table.attrs["baseline"])
    tables = stress_tables(stress)
    tables["differences"] = _differences(stress, baseline)
    for name, frame in tables.items():
        if len(frame) + 1 > EXCEL_MAX_ROWS:
            raise ResultsError(
                f"table {name!r} has {len(frame):,} rows but an Excel sheet holds "
                f"{EXCEL_MAX_ROWS - 1:,} below its header: write the tables with "
                "finsim stress --out instead"
            )
    sheets = sheet_names([README, COMPARISON, MEAN_SHEET, *tables])
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: _write(tmp, stress, table, tables, sheets, tail))
    return path


def _differences(stress: StressResults, baseline: str) -> pd.DataFrame:
    """Each body's surplus after incentive funding, each variant minus the baseline."""
    frames = [stress.difference(baseline, v) for v in stress.variants if v != baseline]
    if not frames:
        return pd.DataFrame(columns=["fy", "org", "mean", "se", "replications"])
    frame = pd.concat(frames, ignore_index=True)
    frame = frame.rename(columns={"mean": "surplus_diff", "se": "surplus_diff_se"})
    return clean(frame, 9)


def _write(
    tmp: Path,
    stress: StressResults,
    table: pd.DataFrame,
    tables: dict[str, pd.DataFrame],
    sheets: dict[str, str],
    tail: float,
) -> None:
    first = next(iter(stress.results.values()))
    names = org_names(first.economy)
    baseline = str(table.attrs["baseline"])
    with open(tmp, "wb") as handle, pd.ExcelWriter(handle, engine="openpyxl") as writer:
        book = writer.book
        readme = book.create_sheet(sheets[README])
        described: list[tuple[str, str, int | None]] = []
        _comparison_sheet(book.create_sheet(sheets[COMPARISON]), stress, table, baseline, tail)
        described.append(
            (
                sheets[COMPARISON],
                "The comparison: England, each region and each system, one row per year and "
                f"variant: probability of meeting the control total ({stress.confidence:.0%} "
                "interval), surplus "
                "before incentive funding, expected shortfalls, incentive funding allocated, "
                f"earned and lost, surplus after it, and each variant minus {baseline} paired "
                "by replication with its standard error.",
                len(table),
            )
        )
        _surplus_sheet(book.create_sheet(sheets[MEAN_SHEET]), stress)
        described.append(
            (
                sheets[MEAN_SHEET],
                "Mean surplus / (deficit) by organisation (rows: regions, systems, their "
                "commissioners and providers, with system and region subtotals and the England "
                "total) and financial year (columns), each variant side by side.",
                None,
            )
        )
        for name, frame in tables.items():
            named = with_names(frame, names)
            named.to_excel(writer, sheet_name=sheets[name], index=False)
            _format_sheet(writer.sheets[sheets[name]], named)
            described.append((sheets[name], _ABOUT[name], len(frame)))
        write_readme(readme, "finsim stress test", _about(stress, baseline, tail), described)
        book.properties.title = first.scenario_name
        book.properties.creator = f"finsim {first.metadata()['finsim_version']}"


_ABOUT = {
    "meeting": "Probability of meeting the control total with its Wilson interval, per "
    "variant, organisation, system and region, and year.",
    "incentives": "Incentive funding per variant, body and year: allocation, whether the body "
    "accepted, earned (mean and percentiles), redistributed and lost.",
    "system_risk": "Value at risk and expected shortfall (97.5%) of each system's and region's "
    "deficit before incentive funding, per variant and year.",
    "acceptance": "Each body's decision on its control total under each variant.",
    "subsidies": "Net money received (+) or given (-) per variant, body and year.",
    "underlying": "Mean reported and underlying surplus per variant, body and year.",
    "differences": "Each body's surplus after incentive funding, variant_b minus variant_a "
    "(the baseline), paired by replication: mean and standard error.",
}


def _about(stress: StressResults, baseline: str, tail: float) -> list[tuple[str, Any]]:
    first = next(iter(stress.results.values()))
    meta = first.metadata()
    years = meta["years"]
    about: list[tuple[str, Any]] = [
        ("Scenario", meta["scenario"]),
        ("Source file", meta["source"] or "(not from a file)"),
        ("Variants compared", ", ".join(stress.variants)),
        ("Baseline", f"{baseline} (the variant the others are paired against)"),
        ("Seed", meta["seed"]),
        ("Replications", meta["replications"]),
        ("Antithetic", "yes" if stress.antithetic else "no"),
        ("Financial years", f"{years[0]} to {years[-1]}" if years else ""),
        ("finsim version", meta["finsim_version"]),
        ("Units", UNITS),
        ("Number formats", NUMBER_FORMATS),
        ("Organisation names", NAMES),
    ]
    about += definitions(stress, baseline, tail)
    return [*about, ("Created", created())]


def _comparison_sheet(
    ws: Worksheet, stress: StressResults, table: pd.DataFrame, baseline: str, tail: float
) -> None:
    """The comparison, one row per body, year and variant, grouped by body and year."""
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    columns = _columns(tail, baseline, stress.confidence)
    if not (table["incentive_allocation"] != 0).any():  # no incentive scheme: no columns
        columns = [c for c in columns if not c[0].startswith("incentive")]
    n = next(iter(stress.results.values())).replications
    _text(ws, 1, 1, "Scheme variants compared").font = Font(bold=True, size=13)
    notes = [
        f"{', '.join(stress.variants)} on common random numbers, {n:,} replications each; "
        f"GBP m; differences are each variant minus {baseline}, paired by replication.",
        "Definitions of each measure: see the README sheet.",
    ]
    for i, note in enumerate(notes, start=2):
        _text(ws, i, 1, note).font = Font(italic=True, size=9)
    header = len(notes) + 3
    for j, (_, label, _) in enumerate(columns, start=1):
        cell = _text(ws, header, j, label)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="bottom")
        cell.border = Border(bottom=Side(style="thin"))
    previous = None
    records: list[dict[Any, Any]] = table.to_dict("records")
    for i, row in enumerate(records, start=header + 1):
        group = (row["level"], row["name"], row["fy"])
        for j, (column, _, fmt) in enumerate(columns, start=1):
            value = row[column]
            value = None if pd.isna(value) else value
            cell = _text(ws, i, j, value) if fmt is None else ws.cell(row=i, column=j, value=value)
            if fmt is not None:
                cell.number_format = fmt
            if group != previous and previous is not None:
                cell.border = Border(top=Side(style="thin"))
        previous = group
    ws.freeze_panes = ws.cell(row=header + 1, column=6)
    last = get_column_letter(len(columns))
    ws.auto_filter.ref = f"A{header}:{last}{header + len(table)}"
    ws.row_dimensions[header].height = 45
    for j, (column, label, fmt) in enumerate(columns, start=1):
        values = table[column].astype(str) if fmt is None else pd.Series([label])
        widest = max(int(values.str.len().max()) if len(values) else 0, 6)
        ws.column_dimensions[get_column_letter(j)].width = (
            min(widest + 3, 40) if fmt is None else 13
        )
    print_on_a4(ws, f"{header}:{header}")


def _surplus_sheet(ws: Worksheet, stress: StressResults) -> None:
    """Mean surplus by organisation and year, each variant's years side by side."""
    runs = stress.results
    first = next(iter(runs.values()))
    summaries = {name: res.summary() for name, res in runs.items()}
    used: set[str] = set()
    for summary in summaries.values():
        used |= own_accounts_in_use(summary, ["surplus_mean"])
    rows = plan_rows(first.economy, used)
    years = list(first.years)
    per_variant = [plan_values(rows, s, "surplus_mean", years) for s in summaries.values()]
    values = [sum((v[i] for v in per_variant), []) for i in range(len(rows))]
    columns = [(name, fy) for name in runs for fy in years]
    title = f"Surplus / (deficit), GBP m: mean over {first.replications:,} replications"
    notes = [
        f"{first.scenario_name}; variants {', '.join(runs)} on common random numbers, seed "
        f"{first.seed}",
        "System, region and England totals are the sums of the rows above them.",
    ]
    write_plan_sheet(ws, rows, values, columns, title, notes)
