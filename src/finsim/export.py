"""Results for people who work in spreadsheets and notebooks: a workbook and HTML summaries.

:func:`to_excel` writes every table of a run (``Results.tables()``) to one Excel
workbook, one sheet per table, after a ``README`` sheet that says what was run
(scenario, source file, variant, seed, replications, finsim version), the units
and what each sheet holds, and the sheets a board reads: surplus / (deficit) by
organisation and year in the layout of an NHS plan template, the mean over
replications and chosen percentiles (:mod:`finsim.plan_sheet`). Every id column
of a table has the organisation's name beside it (``org_name`` after ``org``...). :func:`results_html` and :func:`scenario_html` are the
short summaries a Jupyter notebook shows for a Results or a Scenario.

Number formats, as a finance analyst reading NHS accounts expects:

* money (GBP million): ``#,##0.0_);[Red](#,##0.0);0.0_)``, one decimal place,
  thousands separated, negatives red and in brackets; the cell holds the full value
  (the plan-layout sheets: ``#,##0.0;(#,##0.0)``);
* probabilities and rates (``p_deficit``, allocation ``growth``...): ``0.0%``;
* indices and factors (``case_mix``, ``need_index``...): ``0.000``.

A column is money when its name says so: a name in :data:`MONEY_COLUMNS`, one
with the word income, expenditure, surplus, control_total, incentive, subsidy or
gain in it, or a summary statistic (``*_mean``, ``*_pNN``). Other numbers
(replication, month, score) keep Excel's General format.

An Excel sheet holds 1,048,576 rows. A table longer than that is refused with a
:class:`~finsim.errors.ResultsError` rather than cut across numbered sheets, which
no pivot table or filter could use whole: leave it out with ``tables=`` or write it
with ``Results.to_parquet``.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from finsim.errors import ResultsError
from finsim.plan_sheet import org_names, with_names
from finsim.results_io import atomic_write
from finsim.workbook_readme import (
    DESCRIPTIONS,
    README,
    UNITS,
    percentile_sheet,
    run_about,
    write_plan_sheets,
    write_readme,
)
from finsim.workbook_style import (
    INDEX_COLUMNS,
    INDEX_FORMAT,
    MONEY_COLUMNS,
    MONEY_FORMAT,
    PERCENT_COLUMNS,
    PERCENT_FORMAT,
    SHEET_NAME_LENGTH,
    _format_sheet,
    number_format,
    sheet_names,
)

if TYPE_CHECKING:
    from finsim.results import Results
    from finsim.scenario.loader import Scenario

__all__ = [  # the number formats live in finsim.workbook_style, importable here as before
    "DESCRIPTIONS",
    "EXCEL_MAX_ROWS",
    "HTML_ROWS",
    "INDEX_COLUMNS",
    "INDEX_FORMAT",
    "JOURNAL_DEFAULT_ROWS",
    "MONEY_COLUMNS",
    "MONEY_FORMAT",
    "PERCENT_COLUMNS",
    "PERCENT_FORMAT",
    "README",
    "SHEET_NAME_LENGTH",
    "UNITS",
    "number_format",
    "results_html",
    "scenario_html",
    "sheet_names",
    "to_excel",
]

#: Rows an Excel sheet holds, the header included.
EXCEL_MAX_ROWS = 1_048_576
#: The percentiles of surplus that get a sheet of their own (a run of 2 replications or more).
PERCENTILES = (0.05, 0.95)

#: At most this many system, region and England rows in a notebook's summary of a run.
HTML_ROWS = 12


# -- Excel ---------------------------------------------------------------------------------
#: The journal goes in a workbook by default only up to this many postings.
JOURNAL_DEFAULT_ROWS = 50_000


def to_excel(
    results: Results,
    path: str | Path,
    *,
    tables: Sequence[str] | None = None,
    percentiles: Sequence[float] = PERCENTILES,
    plan: bool = True,
) -> Path:
    """Write a run's tables to one Excel workbook at ``path`` (``.xlsx``); return the path.

    ``tables`` names the tables to write, in order (default: every table of
    ``results.tables()``, the journal only up to :data:`JOURNAL_DEFAULT_ROWS` postings:
    openpyxl writes some 20,000 cells a second, so name it to have a longer one). Unless
    ``plan=False``, the tables follow the sheets of surplus / (deficit) by organisation and
    year in the layout of a plan template: the mean, then one sheet per whole percentile in
    ``percentiles`` (default the 5th and 95th; none for a single replication). The workbook
    is written beside ``path`` and renamed into place, so an existing file is replaced whole
    or, if anything fails, left as it was.
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise ResultsError(f"{path}: an Excel workbook's name should end in .xlsx")
    for q in percentiles:
        if not 0 < q < 1 or abs(q * 100 - round(q * 100)) > 1e-9:
            raise ValueError(
                f"percentiles are whole percents between 0 and 1, e.g. 0.05, got {q!r}"
            )
    _require_openpyxl()
    available = results.tables()
    if tables is None:
        chosen = {
            name: frame
            for name, frame in available.items()
            if name != "journal" or len(frame) <= JOURNAL_DEFAULT_ROWS
        }
    else:
        unknown = [name for name in tables if name not in available]
        if unknown:
            raise ResultsError(
                f"no table {unknown[0]!r} in this run; it has: {', '.join(available)}"
            )
        chosen = {name: available[name] for name in tables}
    for name, frame in chosen.items():
        if len(frame) + 1 > EXCEL_MAX_ROWS:  # the header takes a row
            raise ResultsError(
                f"table {name!r} has {len(frame):,} rows but an Excel sheet holds "
                f"{EXCEL_MAX_ROWS - 1:,} below its header: leave it out with "
                f"to_excel(..., tables=[...]) or write it with to_parquet"
            )
    reserved = [percentile_sheet(q) for q in percentiles] if plan else []
    sheets = sheet_names([README, *reserved, *chosen])
    path.parent.mkdir(parents=True, exist_ok=True)
    shown = tuple(percentiles) if plan else None
    atomic_write(path, lambda tmp: _write_workbook(tmp, results, chosen, sheets, shown))
    return path


def _require_openpyxl() -> None:
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise ImportError(
            "Excel export needs the 'excel' extra: pip install 'finsim[excel]'"
        ) from None


def _write_workbook(
    tmp: Path,
    results: Results,
    tables: Mapping[str, pd.DataFrame],
    sheets: Mapping[str, str],
    percentiles: Sequence[float] | None,
) -> None:
    names = org_names(results.economy)
    described: list[tuple[str, str, int | None]] = []
    # pandas picks the writer by the file's extension, and the temporary file has none
    with open(tmp, "wb") as handle, pd.ExcelWriter(handle, engine="openpyxl") as writer:
        book = writer.book
        readme = book.create_sheet(sheets[README])  # filled in once the sheets are written
        if percentiles is not None:
            described += [
                (sheet, what, None) for sheet, what in write_plan_sheets(book, results, percentiles)
            ]
        for name, frame in tables.items():
            named = with_names(frame, names)
            named.to_excel(writer, sheet_name=sheets[name], index=False)
            _format_sheet(writer.sheets[sheets[name]], named)
            what = DESCRIPTIONS.get(name, f"A table recorded by a mechanism: res.table({name!r}).")
            if sheets[name] != name:
                what = f"Table {name!r}. {what}"
            described.append((sheets[name], what, len(frame)))
        write_readme(readme, "finsim results", run_about(results), described)
        book.properties.title = results.scenario_name
        book.properties.creator = f"finsim {results.metadata()['finsim_version']}"


# -- HTML ----------------------------------------------------------------------------------
def results_html(results: Results) -> str:
    """A compact HTML summary of a run for a notebook: what was run and kept, and the last
    year's surplus of England, each region and each system."""
    tables = results.kept_tables
    years = results.years
    rows = [
        ("Variant", results.variant),
        ("Seed", str(results.seed)),
        ("Replications", f"{results.replications:,}"),
        ("Years", f"{years[0]} to {years[-1]}" if years else "(none)"),
        ("Tables", ", ".join(tables)),
    ]
    if results.source:
        rows.insert(0, ("Source", results.source))
    parts = [
        '<div class="finsim-results">',
        f"<strong>finsim results: {_e(results.scenario_name)}</strong>",
        _key_values(rows),
    ]
    if years and "summary" in tables:
        parts.append(_summary_table(results, results.summary(), years[-1]))
    parts.append("</div>")
    return "\n".join(parts)


def _summary_table(results: Results, summary: pd.DataFrame, year: str) -> str:
    order = {"england": 0, "region": 1, "system": 2}
    rows = summary[(summary["fy"] == year) & summary["level"].isin(list(order))]
    rows = rows.sort_values("level", key=lambda s: s.map(order), kind="stable")
    names = dict(zip(results.economy.ids, results.economy.names, strict=True))
    head = ["Level", "Name", "Mean surplus", "5% to 95%", "P(deficit)", "P(met control total)"]
    lines = [
        f"<table><caption>{_e(year)}, GBP m, across replications</caption>",
        "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>",
    ]
    for _, row in rows.iloc[:HTML_ROWS].iterrows():
        ident = str(row["name"])
        interval = (
            f"{_money(row['surplus_p05'])} to {_money(row['surplus_p95'])}"
            if "surplus_p05" in row and "surplus_p95" in row
            else "&ndash;"
        )
        cells = [
            _e(str(row["level"])),
            f'<span title="{_e(ident)}">{_e(names.get(ident, ident))}</span>',
            _money(row["surplus_mean"]),
            interval,
            _percent(row["p_deficit"]),
            _percent(row["p_met_control_total"]),
        ]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    lines.append("</table>")
    if len(rows) > HTML_ROWS:
        lines.append(f"<small>{len(rows) - HTML_ROWS:,} more rows: res.summary()</small>")
    return "\n".join(lines)


def scenario_html(scenario: Scenario) -> str:
    """A compact HTML summary of a scenario for a notebook: its years, organisations,
    contracts, the mechanisms switched on and its variants."""
    model: Any = scenario.model
    orgs = model.organisations
    labels = scenario.calendar.labels
    description = scenario.description
    if len(description) > 300:
        description = description[:297] + "..."
    on = [
        section
        for section in scenario.system.mechanisms
        if getattr(model, section, None) is not None
    ]
    counts = ", ".join(
        f"{len(group)} {kind if len(group) == 1 else kind + 's'}"
        for kind, group in (
            ("region", orgs.regions),
            ("system", orgs.systems),
            ("commissioner", orgs.commissioners),
            ("provider", orgs.providers),
        )
    )
    rows = [
        ("Source", scenario.source),
        ("Years", f"{labels[0]} to {labels[-1]} ({len(labels)})"),
        ("Organisations", counts),
        ("Regions", _names(orgs.regions)),
        ("Systems", _names(orgs.systems)),
        ("Contracts", str(len(getattr(model, "contracts", None) or ()))),
        ("Mechanisms", ", ".join(on) or "(none)"),
        ("Variants", ", ".join(scenario.variants) or "(none)"),
    ]
    if scenario.variant != "baseline":
        rows.insert(1, ("Variant applied", scenario.variant))
    parts = [
        '<div class="finsim-scenario">',
        f"<strong>finsim scenario: {_e(scenario.name)}</strong>",
    ]
    if description:
        parts.append(f"<p>{_e(description)}</p>")
    parts += [_key_values(rows), "</div>"]
    return "\n".join(parts)


def _names(orgs: Sequence[Any], limit: int = 8) -> str:
    """Organisations' names (or ids), the first ``limit`` of them."""
    shown = [org.name or org.id for org in orgs[:limit]]
    more = f" and {len(orgs) - limit} more" if len(orgs) > limit else ""
    return ", ".join(shown) + more


def _key_values(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table of labels and (escaped) values."""
    left = ' style="text-align:left"'
    body = "".join(
        f"<tr><th{left}>{_e(label)}</th><td{left}>{_e(value)}</td></tr>" for label, value in rows
    )
    return f"<table>{body}</table>"


def _e(text: str) -> str:
    return html.escape(str(text), quote=True)


def _money(value: Any) -> str:
    return "&ndash;" if pd.isna(value) else f"{float(value):,.1f}"


def _percent(value: Any) -> str:
    return "&ndash;" if pd.isna(value) else f"{float(value):.0%}"
