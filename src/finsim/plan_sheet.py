"""The board layouts of a workbook: organisations' names beside their ids, and a sheet of
surplus / (deficit) by organisation and year laid out as an NHS plan template.

The plan layout (:func:`plan_rows`) lists, for each region in file order, its systems, and
in each system its commissioners then its providers, each with its code (finsim id) and
name; then the system's total. A system's or region's own account (a top slice the region
keeps, say) has its own row where it is ever non-zero, so that every total is the sum of
the rows above it. Bodies outside any system come after the region's systems, bodies
outside any region (NHS England's own account, say) after the regions, and the England
total last. The values come from :meth:`finsim.Results.summary`, whose system, region and
England rows are sums over their members in each replication: a mean adds up, a percentile
does not (the 5th percentile of a system is not the sum of its members' 5th percentiles).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from finsim.workbook_style import _text, print_on_a4

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

    from finsim.economy import Economy

#: Money in the board sheets: one decimal, thousands separated, negatives in brackets.
PLAN_FORMAT = "#,##0.0;(#,##0.0)"
#: How a system's or region's own account is named in the summary (``"<id> (own account)"``).
OWN_ACCOUNT = " (own account)"
#: Columns that hold an organisation's id, and get its name beside them.
ID_COLUMNS = ("org", "source", "target", "system", "region", "commissioner", "provider")


def org_names(economy: Economy) -> dict[str, str]:
    """Each account's name by id (an unnamed one by its id)."""
    return {i: (n or i) for i, n in zip(economy.ids, economy.names, strict=True)}


def display_name(key: Any, names: Mapping[str, str]) -> Any:
    """The name of an id, of ``"<id> (own account)"`` or of ``"England"``; None otherwise."""
    if not isinstance(key, str):
        return None
    if key in names:
        return names[key]
    if key.endswith(OWN_ACCOUNT) and key.removesuffix(OWN_ACCOUNT) in names:
        return names[key.removesuffix(OWN_ACCOUNT)] + OWN_ACCOUNT
    return "England" if key == "England" else None


def with_names(frame: pd.DataFrame, names: Mapping[str, str]) -> pd.DataFrame:
    """``frame`` with each id column's names beside it: ``org_name`` after ``org`` (and
    ``source_name``, ``system_name``...); a summary's ``name`` (an id, "<id> (own
    account)" or "England") gets ``organisation``. Columns of numbers are left alone."""
    out = frame
    for column in [*ID_COLUMNS, "name"]:
        if column not in frame or pd.api.types.is_numeric_dtype(frame[column].dtype):
            continue
        label = "organisation" if column == "name" else f"{column}_name"
        if label in frame:
            continue
        values = frame[column].map(lambda key: display_name(key, names))
        if column == "name" and not values.notna().any():
            continue  # a table whose "name" is not an organisation's
        if out is frame:
            out = frame.copy()
        out.insert(list(out.columns).index(column) + 1, label, values.astype(object))
    return out


@dataclass(frozen=True)
class PlanRow:
    """One row of the plan layout: a heading, a body, or a total; ``key`` is its
    (level, name) in the summary (None for a heading)."""

    kind: str  # "region", "system" (headings), "body", "own", "subtotal", "england"
    code: str
    label: str
    type: str
    key: tuple[str, str] | None
    depth: int


def plan_rows(economy: Economy, nonzero_own: Collection[str] = ()) -> list[PlanRow]:
    """The rows of the plan layout (see the module docstring). ``nonzero_own`` names the
    systems and regions whose own account is ever non-zero, and so get a row."""
    table = economy.org_table()
    table = table[table["org_type"] != "external"]
    names = org_names(economy)
    rows: list[PlanRow] = []

    def members(parent: str, field: str) -> list[PlanRow]:
        inside = table[(table[field] == parent) & table["org_type"].isin(_MEMBERS)]
        if field == "region":  # in the region but in no system
            inside = inside[inside["system"].isna()]
        inside = inside.sort_values("org_type", key=lambda s: s.map(_MEMBERS.index), kind="stable")
        return [
            PlanRow("body", org, names[org], kind, ("org", org), 2)
            for org, kind in zip(inside["org"], inside["org_type"], strict=True)
        ]

    def own(org: str, depth: int) -> list[PlanRow]:
        if org not in nonzero_own:
            return []
        label = names[org] + OWN_ACCOUNT
        return [PlanRow("own", org, label, "own account", ("org", org + OWN_ACCOUNT), depth)]

    def system_block(system: str) -> list[PlanRow]:
        kind = "system"
        return [
            PlanRow(kind, system, names[system], "system", None, 1),
            *members(system, "system"),
            *own(system, 2),
            PlanRow(
                "subtotal", system, f"Total {names[system]}", "system total", (kind, system), 1
            ),
        ]

    systems = table[table["org_type"] == "system"]
    for region in table.loc[table["org_type"] == "region", "org"]:
        rows.append(PlanRow("region", region, names[region], "region", None, 0))
        for system in systems.loc[systems["region"] == region, "org"]:
            rows += system_block(system)
        rows += members(region, "region")
        rows += own(region, 1)
        rows.append(
            PlanRow(
                "subtotal", region, f"Total {names[region]}", "region total", ("region", region), 0
            )
        )
    outside: list[PlanRow] = []
    for system in systems.loc[systems["region"].isna(), "org"]:
        outside += system_block(system)
    loose = table[
        table["region"].isna()
        & table["system"].isna()
        & ~table["org_type"].isin(("system", "region"))
    ]
    for org, kind in zip(loose["org"], loose["org_type"], strict=True):
        outside.append(PlanRow("body", org, names[org], kind, ("org", org), 1))
    if outside:
        rows.append(PlanRow("region", "", "Outside the regions", "", None, 0))
        rows += outside
    rows.append(PlanRow("england", "", "England", "England total", ("england", "England"), 0))
    return rows


_MEMBERS = ["commissioner", "provider"]


def own_accounts_in_use(summary: pd.DataFrame, columns: Sequence[str]) -> set[str]:
    """The systems and regions whose own account is non-zero in some year, in ``columns``."""
    own = summary[(summary["level"] == "org") & summary["name"].str.endswith(OWN_ACCOUNT)]
    used = own[(own[list(columns)].fillna(0.0) != 0).any(axis=1)]
    return {name.removesuffix(OWN_ACCOUNT) for name in used["name"]}


def plan_values(
    rows: Sequence[PlanRow], summary: pd.DataFrame, column: str, years: Sequence[str]
) -> list[list[float | None]]:
    """Each row's ``column`` of ``summary`` in each year (None for a heading)."""
    cells = summary.set_index(["level", "name", "fy"])[column]
    out: list[list[float | None]] = []
    for row in rows:
        if row.key is None:
            out.append([None] * len(years))
        else:
            out.append([float(cells.loc[(*row.key, fy)]) for fy in years])
    return out


def write_plan_sheet(
    ws: Worksheet,
    rows: Sequence[PlanRow],
    values: Sequence[Sequence[float | None]],
    columns: Sequence[tuple[str, str]],
    title: str,
    notes: Sequence[str],
) -> None:
    """Write the plan layout: a title and notes, a header of the ``columns`` (group, year):
    a group row above the years when there are several groups (variants), then one row per
    :class:`PlanRow`, totals bold with a rule above, England's with a double rule below.
    Money as ``#,##0.0;(#,##0.0)``; panes frozen below the header and right of the names;
    printed landscape on A4, one page wide, the header repeated."""
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    _text(ws, 1, 1, title).font = Font(bold=True, size=13)
    for i, note in enumerate(notes, start=2):
        _text(ws, i, 1, note).font = Font(italic=True, size=9)
    header = len(notes) + 3
    groups = list(dict.fromkeys(group for group, _ in columns))
    bold = Font(bold=True)
    if len(groups) > 1:
        for j, (group, _) in enumerate(columns, start=4):
            if j == 4 or columns[j - 5][0] != group:
                _text(ws, header - 1, j, group).font = bold
    for j, label in enumerate(("Code", "Organisation", "Type", *[fy for _, fy in columns]), 1):
        cell = _text(ws, header, j, label)
        cell.font = bold
        cell.border = Border(bottom=Side(style="thin"))
        if j > 3:
            cell.alignment = Alignment(horizontal="right")
    thin, double = Side(style="thin"), Side(style="double")
    for i, (row, cells) in enumerate(zip(rows, values, strict=True), start=header + 1):
        total = row.kind in ("subtotal", "england")
        heading = row.kind in ("region", "system")
        _text(ws, i, 1, row.code)
        label = _text(ws, i, 2, row.label)
        label.alignment = Alignment(indent=row.depth)
        _text(ws, i, 3, row.type)
        for j, value in enumerate(cells, start=4):
            cell = ws.cell(row=i, column=j, value=value)
            cell.number_format = PLAN_FORMAT
        if total or heading:
            for j in range(1, 4 + len(cells)):
                ws.cell(row=i, column=j).font = Font(bold=True, italic=heading)
        if total:
            bottom = double if row.kind == "england" else None
            for j in range(1, 4 + len(cells)):
                ws.cell(row=i, column=j).border = Border(top=thin, bottom=bottom)
    ws.freeze_panes = ws.cell(row=header + 1, column=4)
    widths = [len(r.code) for r in rows] + [4]
    ws.column_dimensions["A"].width = min(max(widths) + 2, 40)
    ws.column_dimensions["B"].width = min(max(len(r.label) + 2 * r.depth for r in rows) + 3, 70)
    ws.column_dimensions["C"].width = 15
    for j in range(4, 4 + len(columns)):
        ws.column_dimensions[get_column_letter(j)].width = 12
    print_on_a4(ws, f"{header - 1 if len(groups) > 1 else header}:{header}")


def plan_header_row(notes: Sequence[str]) -> int:
    """The row of a plan sheet's header (the years), below its title and notes."""
    return len(notes) + 3
