"""Writing a scenario workbook with openpyxl: the README sheet, then each sheet of
:func:`finsim.workbook.arrange.arrange` with a bold, frozen header whose notes say what each
column holds, drop-down lists for words and organisation ids, and text kept as text."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsim.errors import ScenarioError
from finsim.workbook.arrange import SheetData
from finsim.workbook.layout import README, Settings, Table

if TYPE_CHECKING:
    from openpyxl.worksheet.worksheet import Worksheet

#: Drop-down lists reach this many rows below the last one written.
SPARE_ROWS = 500
_WIDEST = 60

INSTALL = "pip install 'finsim[excel]'"


def require_openpyxl(name: str) -> None:
    """Raise ScenarioError saying how to install openpyxl, if it is missing."""
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        raise ScenarioError.single(
            "(file)", f"reading and writing workbooks needs openpyxl: {INSTALL}", name
        ) from None


def save(sheets: list[SheetData], readme: list[list[str]], title: str) -> Callable[[Path], None]:
    """A function writing the workbook of ``sheets`` (and its README) to a path."""

    def write(path: Path) -> None:
        from openpyxl import Workbook

        book = Workbook()
        book.remove(book.active)  # type: ignore[arg-type]
        _readme(book.create_sheet(README), readme)
        ids = {s.spec.path: s for s in sheets if isinstance(s.spec, Table)}
        for data in sheets:
            _sheet(book.create_sheet(data.spec.name), data, ids)
        book.properties.title = title
        from finsim._version import __version__

        book.properties.creator = f"finsim {__version__}"
        with open(path, "wb") as handle:  # (openpyxl names the format from a path's suffix)
            book.save(handle)

    return write


def _text(ws: Worksheet, row: int, col: int, value: Any) -> Any:
    """Put ``value`` in a cell; text stays text even if it starts with '='."""
    cell = ws.cell(row=row, column=col, value=value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"
    return cell


def _readme(ws: Worksheet, rows: list[list[str]]) -> None:
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    wrap = Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = _text(ws, r, c, value)
            if r == 1:
                cell.font = Font(bold=True, size=14)
            elif len(row) > 2 and row[0] == "Sheet":
                cell.font = bold
            elif c == len(row) and len(value) > 50:
                cell.alignment = wrap
    for letter, width in zip("ABCDEF", (30, 34, 30, 16, 80, 10), strict=False):
        ws.column_dimensions[letter].width = width


def _sheet(ws: Worksheet, data: SheetData, ids: dict[Any, SheetData]) -> None:
    from openpyxl.comments import Comment
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    ws.append(data.header)
    formulas: list[tuple[int, int]] = []
    for r, row in enumerate(data.rows, start=2):
        ws.append(row)
        formulas.extend(
            (r, c)
            for c, value in enumerate(row, start=1)
            if isinstance(value, str) and value.startswith("=")
        )
    for r, c in formulas:  # a name such as '=1' is the user's text, never a formula
        ws.cell(row=r, column=c).data_type = "s"
    bold = Font(bold=True)
    for j, cell in enumerate(ws[1]):
        cell.font = bold
        note = data.notes.get(j)
        if note is not None:
            kind, default, words = note
            text = "\n".join(
                x for x in (words, kind, f"default: {default}" if default else "") if x
            )
            if text:
                cell.comment = Comment(text, "finsim", width=300, height=120)
    ws.freeze_panes = "A2" if isinstance(data.spec, Table) else "B2"
    last = len(data.rows) + 1 + SPARE_ROWS
    for j, allowed in data.choices.items():
        letter = get_column_letter(j + 1)
        _validation(ws, allowed, f"{letter}2:{letter}{last}", ids)
    for (i, j), allowed in data.cell_choices.items():
        _validation(ws, allowed, f"{get_column_letter(j + 1)}{i + 2}", ids)
    for j, header in enumerate(data.header, start=1):
        widest = max([len(str(header))] + [_width(row[j - 1]) for row in data.rows[:200]])
        ws.column_dimensions[get_column_letter(j)].width = min(widest + 2, _WIDEST)
    if isinstance(data.spec, Settings) and data.header[-1] == "description":
        ws.column_dimensions[get_column_letter(len(data.header))].width = 90


def _width(value: Any) -> int:
    return 0 if value is None else len(str(value))


def _validation(ws: Worksheet, allowed: list[str] | str, cells: str, ids: dict[Any, Any]) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    if isinstance(allowed, str):  # the ids of an organisation sheet
        source = ids.get(("organisations", allowed))
        if source is None or not source.header or source.header[0] != "id":
            return
        rows = len(source.rows) + 1 + SPARE_ROWS
        formula = f"'{source.spec.name}'!$A$2:$A${rows}"
        # an id not (yet) in the list is allowed: finsim says which, with what was meant
        check = DataValidation(type="list", formula1=formula, allow_blank=True)
        check.showErrorMessage = False
    else:
        formula = '"' + ",".join(allowed) + '"'
        if len(formula) > 255:  # Excel's limit on a list written in the validation
            return
        check = DataValidation(type="list", formula1=formula, allow_blank=True)
        check.error = f"expected one of: {', '.join(allowed)}"
        check.showErrorMessage = True
    ws.add_data_validation(check)
    check.add(cells)
