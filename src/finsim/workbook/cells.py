"""One cell's value as a scenario value: typed by what the scenario model allows there."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

from finsim.errors import ScenarioError
from finsim.scenario.yamlio import parse_yaml
from finsim.workbook.shape import (
    admits_container,
    alternatives,
    fields_of,
    is_model,
    numbers_only,
    text_only,
)

#: What Excel shows in a cell whose formula failed.
EXCEL_ERRORS = frozenset(
    ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA")
)
_NUMBER = re.compile(r"^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$")
_WHOLE = re.compile(r"^\s*[+-]?\d+\s*$")


class CellError(ValueError):
    """A cell whose value cannot be a scenario value; the message says what was expected."""


def cell_value(value: Any, alts: list[Any]) -> Any:
    """The scenario value a cell holds: its number, text or TRUE/FALSE; a list or mapping
    written in YAML (``[a, b]``) where the model allows one; a number where only text is
    allowed as its text (an id or a name typed as digits), and digits typed as text where
    only a number is allowed as the number."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return number_text(value) if text_only(alts) else value
    if isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        raise CellError(
            f"the cell holds a date or time ({value}); finsim reads numbers, text and "
            "TRUE/FALSE: format the cell as text (a financial year is written 2019/20)"
        )
    if not isinstance(value, str):
        raise CellError(f"cannot read the cell's value {value!r}")
    if value.strip() in EXCEL_ERRORS:
        raise CellError(f"the cell holds the Excel error {value.strip()}: fix its formula")
    stripped = value.strip()
    if stripped[:1] in ("[", "{") and admits_container(alts):
        try:
            data, _ = parse_yaml(stripped, "(cell)")
        except ScenarioError as exc:
            raise CellError(
                f"cannot read {_short(stripped)} as a list or mapping: {exc.problems[0].message}"
            ) from None
        return data
    if numbers_only(alts) and _NUMBER.match(stripped):
        return int(stripped) if _WHOLE.match(stripped) else float(stripped)
    if alts and all(t is bool for t in alts) and stripped.upper() in ("TRUE", "FALSE"):
        return stripped.upper() == "TRUE"
    return value


def number_text(value: int | float) -> str:
    """A number typed where text is expected, as the text that was typed (2019 -> '2019')."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def key_text(value: Any) -> str | None:
    """A row's key (an id, a variant's name) as text; None if the cell is not text or a
    number."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value)
    return None


def _short(text: str, most: int = 40) -> str:
    return repr(text if len(text) <= most else text[: most - 3] + "...")


Row = tuple[Any, ...]


def headers(header: Row) -> Iterator[tuple[int, str]]:
    """The read columns of a header row: (position, name), skipping '_' and empty ones."""
    for j, cell in enumerate(header):
        if cell is None:
            continue
        text = key_text(cell) or str(cell)
        text = text.strip()
        if text and not text.startswith("_"):
            yield j, text


def get(row: Row, j: int | None) -> Any:
    """The value of column ``j`` of a row (None: empty, or text of blanks only)."""
    if j is None or j >= len(row):
        return None
    value = row[j]
    return None if isinstance(value, str) and not value.strip() else value


def at(j: int, r: int) -> str:
    """The name of the cell in column ``j`` (from 0) of row ``r`` (from 1): 'C7'."""
    from openpyxl.utils import get_column_letter

    return f"{get_column_letter(j + 1)}{r}"


def fields_in(annotation: Any) -> set[str]:
    """The keys a record of ``annotation`` may have."""
    return {f for t in alternatives(annotation) if is_model(t) for f in fields_of(t)}
