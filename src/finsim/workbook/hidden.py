"""What a workbook's values do not show, read from its sheets' XML: formulas that were never
calculated (a file written by a program, not saved by Excel, holds no result for them, so
they would read as empty cells) and merged cells (whose value is in their first cell only,
so the other rows would silently take the default)."""

from __future__ import annotations

import io
import posixpath
import zipfile
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from finsim.errors import Problem
from finsim.workbook.paths import FY

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_RELS = "{http://schemas.openxmlformats.org/package/2006/relationships}Relationship"


@dataclass
class Hidden:
    """A sheet's formulas without a calculated value (cells such as 'F2') and merged
    ranges ('B2:B3')."""

    formulas: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)


def hidden_cells(content: bytes) -> dict[str, Hidden]:
    """For each sheet (by title) of the .xlsx ``content``, what its values do not show; an
    empty mapping if the file's parts cannot be found (openpyxl has read it already)."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return {title: _sheet(archive, part) for title, part in _sheet_parts(archive)}
    except (KeyError, zipfile.BadZipFile, ET.ParseError, OSError):
        return {}


def _sheet_parts(archive: zipfile.ZipFile) -> list[tuple[str, str]]:
    book = ET.fromstring(archive.read("xl/workbook.xml"))
    rels = ET.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target", "") for r in rels.iter(_RELS)}
    out = []
    for sheet in book.iter(f"{_MAIN}sheet"):
        target = targets.get(sheet.get(_REL_ID))
        if target:
            part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            out.append((sheet.get("name", ""), posixpath.normpath(part)))
    return out


def _sheet(archive: zipfile.ZipFile, part: str) -> Hidden:
    found = Hidden()
    with archive.open(part) as source:
        for _, element in ET.iterparse(source):
            if element.tag == f"{_MAIN}c":
                formula = element.find(f"{_MAIN}f")
                value = element.find(f"{_MAIN}v")
                calculated = value is not None and (
                    bool(value.text) or element.get("t") == "str"  # (a formula giving "")
                )
                if formula is not None and not calculated:
                    found.formulas.append(element.get("r", ""))
                element.clear()
            elif element.tag == f"{_MAIN}mergeCell":
                found.merged.append(element.get("ref", ""))
            elif element.tag == f"{_MAIN}row":
                element.clear()
    return found


def hidden_problems(title: str, header: tuple[object, ...], found: Hidden) -> list[tuple[str, str]]:
    """(cell, message) for each formula without a value and each merged range of a sheet
    read, but not in a column of the analyst's own (named '_...')."""
    from openpyxl.utils.cell import range_boundaries

    def yours(ref: str) -> bool:
        try:
            j = int(range_boundaries(ref)[0] or 1) - 1
        except (ValueError, TypeError):
            return False
        name = header[j] if j < len(header) else None
        return isinstance(name, str) and name.strip().startswith("_")

    out = [
        (
            f"{title}!{ref}",
            "a formula with no calculated value (open and save the file in Excel, or type "
            "the value)",
        )
        for ref in found.formulas
        if not yours(ref)
    ]
    out.extend(
        (f"{title}!{ref}", f"merged cells {ref}: unmerge them; each row needs its own value")
        for ref in found.merged
        if not yours(ref)
    )
    return out


def years_after_the_run(
    doc: dict[str, Any], years: list[tuple[str, str]], name: str
) -> list[Problem]:
    """A problem for each year (of a column's header or a path, with its cell) after the
    last year simulated by the scenario or any of its variants, whose value would never
    apply: one beyond a gap (2091/92 on a run to 2019/20, a typing slip). Years that
    continue the run without a gap are what a scenario cut short from a longer one (its
    'extends' resolved) holds, and are kept; a year before the first may hold the value of
    the first, and is kept."""
    last = _last_year(doc)
    if last is None:
        return []
    given = {int(fy[:4]) for fy, _ in years}
    while last + 1 in given:
        last += 1
    return [
        Problem(
            where,
            f"the year {fy} is after the last year simulated ({fy_text(last)}): its value "
            "would never apply; correct the year, or simulate more years (scenario.years)",
            name,
        )
        for fy, where in years
        if int(fy[:4]) > last
    ]


def _last_year(doc: dict[str, Any]) -> int | None:
    """The last year simulated by the scenario or any variant; None if a start or a number
    of years is not (yet) valid: validation names it."""
    base = doc.get("scenario")
    runs = [base]
    variants = doc.get("variants")
    for overlay in variants.values() if isinstance(variants, dict) else []:
        mine = overlay.get("scenario") if isinstance(overlay, dict) else None
        if isinstance(mine, dict) and isinstance(base, dict):
            runs.append({**base, **mine})
    ends = []
    for run in runs:
        if not isinstance(run, dict):
            return None
        start, count = run.get("start"), run.get("years")
        if not (isinstance(start, str) and FY.match(start.strip())) or type(count) is not int:
            return None
        ends.append(int(start.strip()[:4]) + count - 1)
    return max(ends)


def fy_text(year: int) -> str:
    """The financial year starting in ``year``: 2019 -> '2019/20'."""
    return f"{year}/{(year + 1) % 100:02d}"
