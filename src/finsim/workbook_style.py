"""How a workbook's sheets look, as a finance analyst reading NHS accounts expects: number
formats by column (money, percentages, indices), a bold, frozen, filterable header, column
widths that show values whole, text kept as text (never a formula) and sheet names Excel
accepts. See :mod:`finsim.export` for the rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

#: Characters an Excel sheet name may have.
SHEET_NAME_LENGTH = 31

MONEY_FORMAT = "#,##0.0_);[Red](#,##0.0);0.0_)"
PERCENT_FORMAT = "0.0%"
INDEX_FORMAT = "0.000"

#: Money columns whose names do not say "income", "surplus"... (see the module docstring).
MONEY_COLUMNS = frozenset(
    (
        "after allocation amount at_stake baseline cost delivered disputed_to_date due earned "
        "forecast gap improvement net_received on_account over_plan_to_date plan_value "
        "planned rapid_savings reallocation reconciliation recurrent redistributed risk_share "
        "savings settlement shortfall system_allocation target top_slice transfer value "
        "variance withheld"
    ).split()
)
_MONEY_NAME = re.compile(
    r"(^|_)(income|expenditure|surplus|control_total|incentive|subsidy|gain)(_|$)|_mean$|_p\d\d$"
)
#: Shares and rates: shown as percentages (as are columns named ``p_*``).
PERCENT_COLUMNS = frozenset(
    {"achievement", "distance_after", "distance_before", "growth", "provider_share"}
)
#: Indices and factors around 1.
INDEX_COLUMNS = frozenset({"case_mix", "need_index", "need_per_head"})


def number_format(column: str, values: pd.Series) -> str | None:
    """The Excel number format for a column: money, percentage, index, or None (General)."""
    if not _is_number(values):
        return None
    if column.startswith("p_") or column in PERCENT_COLUMNS:
        return PERCENT_FORMAT
    if column in INDEX_COLUMNS:
        return INDEX_FORMAT
    if column in MONEY_COLUMNS or _MONEY_NAME.search(column):
        return MONEY_FORMAT
    return None


def _is_number(values: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(values.dtype):
        return False
    if pd.api.types.is_numeric_dtype(values.dtype):
        return True
    # an object column of numbers and gaps, e.g. an event's amount
    return pd.api.types.infer_dtype(values, skipna=True) in {
        "floating",
        "integer",
        "mixed-integer-float",
    }


def _text(ws: Worksheet, row: int, col: int, value: Any) -> Any:
    """Put ``value`` in a cell; text stays text even if it starts with '=' (a scenario name is
    the user's, and must never become a formula)."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def print_on_a4(ws: Worksheet, title_rows: str) -> None:
    """Print the sheet landscape on A4, one page wide, repeating ``title_rows`` ("3:4")."""
    ws.print_title_rows = title_rows
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _format_sheet(ws: Worksheet, frame: pd.DataFrame) -> None:
    """Bold, frozen, filterable header; number formats; column widths; text kept as text."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    for cell in ws[1]:
        cell.font = bold
    if len(frame.columns):
        ws.auto_filter.ref = ws.dimensions
    last = len(frame) + 1
    for j, column in enumerate(frame.columns, start=1):
        values = frame[column]
        fmt = number_format(str(column), values)
        if fmt is not None and last > 1:
            for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=j, max_col=j):
                cell.number_format = fmt
        if _has_formula_text(values):
            for (cell,) in ws.iter_rows(min_row=2, max_row=last, min_col=j, max_col=j):
                if isinstance(cell.value, str):
                    cell.data_type = "s"
        ws.column_dimensions[get_column_letter(j)].width = _width(str(column), values, fmt)


def _has_formula_text(values: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return False
    return bool(values.map(lambda v: isinstance(v, str) and v.startswith("=")).any())


def _width(column: str, values: pd.Series, fmt: str | None) -> float:
    """A column width (in characters) that shows the header and typical values whole."""
    widest = len(column)
    present = values.dropna()
    if len(present):
        if fmt == MONEY_FORMAT:
            largest = float(np.nanmax(np.abs(present.to_numpy(dtype=float))))
            widest = max(widest, len(f"({largest:,.1f})"))
        elif fmt in (PERCENT_FORMAT, INDEX_FORMAT):
            widest = max(widest, 7)
        else:
            widest = max(widest, int(present.iloc[:1000].astype(str).str.len().max()))
    return float(min(widest + 3, 60))


def sheet_names(names: Iterable[str]) -> dict[str, str]:
    """A sheet name for each table name: at most 31 characters, none of ``[]:*?/\\``, and
    unique regardless of case (Excel's rules); a clash gets a ``~2``, ``~3``... suffix."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = re.sub(r"[\[\]:*?/\\]", "_", name).strip("'") or "table"
        sheet, n = base[:SHEET_NAME_LENGTH], 1
        while sheet.casefold() in taken:
            n += 1
            suffix = f"~{n}"
            sheet = base[: SHEET_NAME_LENGTH - len(suffix)] + suffix
        taken.add(sheet.casefold())
        out[name] = sheet
    return out
