"""Reading a scenario workbook back into a scenario document, remembering the cell each value
came from (``contracts!C7``) so that every problem found later can name it.

Problems of the workbook's shape (an unknown sheet or column, a required column missing, a
row given twice, a cell that cannot be a value) are collected and raised together before the
scenario is validated; sheets and columns whose names start with '_' are the analyst's own
and are skipped, as is the README sheet.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from finsim.errors import ScenarioError, did_you_mean
from finsim.scenario.files import read_bytes, shown_path
from finsim.workbook.cells import CellError, Row, at, cell_value, fields_in, get, headers, key_text
from finsim.workbook.hidden import Hidden, hidden_cells, hidden_problems, years_after_the_run
from finsim.workbook.layout import README, Layout, Settings, Table, layout_of
from finsim.workbook.paths import (
    FY,
    REMOVE,
    Clash,
    Node,
    PathError,
    PathKey,
    finish,
    parse_path,
    put,
)
from finsim.workbook.report import Report
from finsim.workbook.shape import annotation_at, fields_of
from finsim.workbook.writer import require_openpyxl

#: Columns of a settings or variants sheet that explain a row and are not read.
ABOUT = frozenset(("unit", "description"))


def read_workbook(path: Path, model: type[BaseModel]) -> tuple[dict[str, Any], dict[PathKey, str]]:
    """(the scenario document, the cell of each of its paths) of a workbook; raise
    ScenarioError naming the sheet and cell of every problem of its shape."""
    name = shown_path(path)
    require_openpyxl(name)
    from openpyxl import load_workbook

    content = read_bytes(path)  # (a regular file, within the size limit)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # a damaged or foreign file: openpyxl raises many kinds
        raise ScenarioError.single(
            "(file)", f"cannot read the file as an Excel workbook (.xlsx): {exc}", name
        ) from None
    try:
        reader = _Reader(layout_of(model), name)
        hidden = hidden_cells(content)
        for ws in book.worksheets:
            reader.sheet(ws.title, ws.iter_rows(values_only=True), hidden.get(ws.title))
    finally:
        book.close()
    return reader.result()


class _Reader(Report):
    def __init__(self, layout: Layout, name: str) -> None:
        super().__init__(name)
        self.layout = layout
        self.sheets = layout.by_name()
        self.doc = Node()
        self.cells: dict[PathKey, str] = {}
        self.variants: dict[str, str] = {}
        self.years: list[tuple[str, str]] = []  # (a year of a header or a path, its cell)

    def result(self) -> tuple[dict[str, Any], dict[PathKey, str]]:
        if not self.problems:
            self.problems.extend(years_after_the_run(self.doc, self.years, self.name))
        if not self.problems:
            try:
                for name, cell in self.variants.items():
                    variants = self.doc.setdefault("variants", Node())
                    if isinstance(variants, Node) and name not in variants:
                        variants[name] = {}
                        self.cells[("variants", name)] = cell
                return finish(self.doc), self.cells
            except Clash as exc:
                self.problem(self.cells.get(exc.path, self.name), str(exc))
        raise ScenarioError(self.problems)

    # -- sheets ----------------------------------------------------------------------------
    def sheet(self, title: str, rows: Iterator[Row], hidden: Hidden | None = None) -> None:
        if title == README or title.startswith("_"):
            return
        spec = self.sheets.get(title)
        if spec is None:
            known = ", ".join(self.sheets)
            self.problem(
                title,
                f"unknown sheet '{title}'; expected one of: {known} (a sheet whose name "
                "starts with '_' is skipped)",
                did_you_mean(title, self.sheets),
            )
            return
        header = next(rows, None)
        if header is None:
            return
        for where, message in hidden_problems(title, header, hidden or Hidden()):
            self.problem(where, message)
        self.cells.setdefault((), f"{title}!A1")
        if isinstance(spec, Settings):
            self.settings(title, header, rows)
        elif spec.kind in ("records", "keyed"):
            self.records(spec, header, rows)
        else:
            self.values(spec, header, rows)

    def columns(
        self, title: str, header: Row, fixed: tuple[str, ...], about: bool
    ) -> tuple[dict[str, int], dict[str, int]] | None:
        """The positions of the ``fixed`` columns and of the year columns of a
        ``path | value | 2019/20`` sheet; None (with a problem) if a header is unknown."""
        named: dict[str, int] = {}
        years: dict[str, int] = {}
        ok = True
        for j, text in headers(header):
            if text in named or text in years:
                self.problem(f"{title}!{at(j, 1)}", f"column '{text}' is given twice")
                ok = False
            elif text in fixed:
                named[text] = j
            elif FY.match(text):
                years[text] = j
                self.years.append((text, f"{title}!{at(j, 1)}"))
            elif not (about and text in ABOUT):
                expected = [*fixed, *(ABOUT if about else ())]
                self.problem(
                    f"{title}!{at(j, 1)}",
                    f"unknown column '{text}'; expected {', '.join(expected)} or a financial "
                    "year such as 2019/20 (a column whose name starts with '_' is skipped)",
                    did_you_mean(text, expected),
                )
                ok = False
        for needed in fixed[:1]:
            if needed not in named:
                self.problem(f"{title}!{at(len(header), 1)}", f"expected a column '{needed}'")
                ok = False
        return (named, years) if ok else None

    def settings(self, title: str, header: Row, rows: Iterator[Row]) -> None:
        found = self.columns(title, header, ("path", "value"), True)
        if found is None:
            return
        named, years = found
        roots = fields_of(self.layout.model)
        for r, row in self.rows(rows, 2):
            self.stray(title, r, row, header)
            where = f"{title}!{at(named['path'], r)}"
            text = get(row, named["path"])
            if text is None:
                self.nothing_else(title, r, row, [named.get("value"), *years.values()])
                continue
            try:
                if not isinstance(text, str):
                    raise PathError(f"expected a path such as tariff.cost_uplift, got {text!r}")
                parts, year = parse_path(text)
            except PathError as exc:
                self.problem(where, str(exc))
                continue
            self.years.extend([(year, where)] if year else [])
            if parts[0] not in roots:
                guess = did_you_mean(str(parts[0]), roots)
                if title in roots and str(parts[0]) in fields_in(roots[title].annotation):
                    guess = f"{title}.{text.strip()}"
                self.problem(
                    where, f"unknown path '{text.strip()}': it starts with no section", guess
                )
                continue
            self.leaf(title, r, row, parts, parts, year, named.get("value"), years, False)

    def records(self, spec: Table, header: Row, rows: Iterator[Row]) -> None:
        assert spec.model is not None
        self.cells.setdefault(spec.path, f"{spec.name}!A2")
        fields = fields_of(spec.model)
        title = spec.name
        key_col: int | None = None
        columns: list[tuple[int, PathKey, str | None]] = []
        seen: dict[tuple[PathKey, str | None], int] = {}
        meant: set[str] = set()  # (a misspelt column is one problem, not two)
        ok = True
        for j, text in headers(header):
            where = f"{title}!{at(j, 1)}"
            if spec.key is not None and text == spec.key and key_col is None:
                key_col = j
                continue
            try:
                parts, year = parse_path(text)
            except PathError as exc:
                self.problem(where, str(exc))
                ok = False
                continue
            if parts[0] not in fields:
                expected = [*([spec.key] if spec.key else []), *fields]
                guess = did_you_mean(text, expected)
                self.problem(
                    where,
                    f"unknown column '{text}'; expected one of: {', '.join(expected)} (a "
                    "column whose name starts with '_' is skipped)",
                    guess,
                )
                meant.add(guess or "")
                ok = False
            elif (parts, year) in seen:
                first = at(seen[(parts, year)], 1)
                self.problem(where, f"column '{text}' is given twice (also {first})")
                ok = False
            else:
                seen[(parts, year)] = j
                columns.append((j, parts, year))
                if year is not None:
                    self.years.append((year, where))
        free = f"{title}!{at(len(header), 1)}"
        if spec.key is not None and key_col is None and spec.key not in meant:
            self.problem(free, f"missing column '{spec.key}': the key of each row")
            ok = False
        given = {parts[0] for _, parts, _ in columns}
        for field_name, info in fields.items():
            if info.is_required() and field_name not in given and field_name not in meant:
                words = f" ({info.description})" if info.description else ""
                self.problem(free, f"missing required column '{field_name}'{words}")
                ok = False
        if not ok:
            return
        read = [j for j, _, _ in columns] + ([key_col] if key_col is not None else [])
        example: PathKey = (*spec.path, "x" if key_col is not None else 0)
        typed = {
            j: annotation_at(self.layout.model, (*example, *parts, *([year] if year else [])))
            for j, parts, year in columns
        }
        keys: dict[str, str] = {}
        index = 0
        for r, row in self.rows(rows, 2):
            self.stray(title, r, row, header)
            if all(get(row, j) is None for j in read):
                self.nothing_else(title, r, row, [])
                continue
            first = f"{title}!{at(min(read), r)}"
            if key_col is not None:
                where = f"{title}!{at(key_col, r)}"
                key = key_text(get(row, key_col))
                if key is None:
                    self.problem(where, f"expected the {spec.key} of this row, got nothing")
                    continue
                if key in keys:
                    self.problem(where, f"'{key}' is given twice (also {keys[key]})")
                    continue
                keys[key] = where
                item: PathKey = (*spec.path, key)
            else:
                item = (*spec.path, index)
                index += 1
            self.cells[item] = first
            given_any = False
            for j, parts, year in columns:
                value = get(row, j)
                where = f"{title}!{at(j, r)}"
                full = (*item, *parts)
                if value is None:
                    if year is None:
                        self.cells.setdefault(full, where)
                    continue
                if year is not None:
                    self.cells.setdefault(full, where)
                    full = (*full, year)
                given_any |= self.place(where, full, value, alts=typed[j])
            if not given_any and key_col is not None:
                self.place(first, item, {}, raw=True)

    def values(self, spec: Table, header: Row, rows: Iterator[Row]) -> None:
        overlays = spec.kind == "overlays"
        key = str(spec.key)
        fixed = (key, "path", "value") if overlays else (key, "value")
        found = self.columns(spec.name, header, fixed, overlays)
        if found is None:
            return
        named, years = found
        if overlays and "path" not in named:
            self.problem(f"{spec.name}!{at(len(header), 1)}", "expected a column 'path'")
            return
        seen: dict[str, str] = {}
        for r, row in self.rows(rows, 2):
            self.stray(spec.name, r, row, header)
            where = f"{spec.name}!{at(named[key], r)}"
            name = key_text(get(row, named[key]))
            if name is None:
                self.nothing_else(spec.name, r, row, [named.get("value"), *years.values()])
                continue
            if not overlays:
                if name in seen:
                    self.problem(where, f"'{name}' is given twice (also {seen[name]})")
                    continue
                seen[name] = where
                full = (*spec.path, name)
                if all(get(row, j) is None for j in [named.get("value"), *years.values()]):
                    cell = f"{spec.name}!{at(named.get('value', len(header)), r)}"
                    self.problem(cell, f"no value for '{name}': give it, or delete the row")
                    continue
                self.leaf(spec.name, r, row, full, full, None, named.get("value"), years, False)
                continue
            self.variants.setdefault(name, where)
            text = get(row, named["path"])
            if text is None:
                self.nothing_else(spec.name, r, row, [named.get("value"), *years.values()])
                continue
            try:
                parts, year = parse_path(str(text))
            except PathError as exc:
                self.problem(f"{spec.name}!{at(named['path'], r)}", str(exc))
                continue
            self.years.extend([(year, f"{spec.name}!{at(named['path'], r)}")] if year else [])
            full = (*spec.path, name, *parts)
            self.leaf(spec.name, r, row, full, parts, year, named.get("value"), years, True)

    # -- values ----------------------------------------------------------------------------
    def leaf(
        self,
        title: str,
        r: int,
        row: Row,
        full: PathKey,
        typed: PathKey,
        year: str | None,
        value_col: int | None,
        years: dict[str, int],
        overlay: bool,
    ) -> None:
        """Place the value of a ``path | value | 2019/20 ...`` row at ``full`` (``typed``:
        the path in the scenario model that says what the value may be); in a variant
        (``overlay``) a value must be given, and ``(remove)`` removes the value."""
        value = get(row, value_col)
        where = f"{title}!{at(value_col if value_col is not None else 0, r)}"
        given = {fy: j for fy, j in years.items() if get(row, j) is not None}
        if given and (value is not None or year is not None):
            self.problem(
                where, "give a value either in column 'value' or in year columns, not both"
            )
        elif overlay and value is None and not given:
            self.problem(where, f"no value: give a value, or write {REMOVE} to remove it")
        elif year is not None:
            self.cells.setdefault(full, where)
            self.place(where, (*full, year), value, typed=(*typed, year), overlay=overlay)
        elif given:
            for fy, j in given.items():
                cell = f"{title}!{at(j, r)}"
                self.cells.setdefault(full, cell)
                self.place(cell, (*full, fy), get(row, j), typed=(*typed, fy), overlay=overlay)
        elif value is not None:
            self.place(where, full, value, typed=typed, overlay=overlay)
        else:
            self.cells.setdefault(full, where)  # where a missing value should be written

    def place(
        self,
        where: str,
        full: PathKey,
        value: Any,
        typed: PathKey | None = None,
        raw: bool = False,
        alts: list[Any] | None = None,
        overlay: bool = False,
    ) -> bool:
        if overlay and isinstance(value, str) and value.strip() == REMOVE:
            value, raw = None, True  # (a variant removing the value: null in YAML)
        try:
            if alts is None and not raw:
                alts = annotation_at(self.layout.model, typed or full)
            leaf = value if raw else cell_value(value, alts or [])
            put(self.doc, full, leaf)
        except CellError as exc:
            self.problem(where, str(exc))
            return False
        except Clash as exc:
            also = self.cells.get(exc.path)
            self.problem(where, f"{exc}" + (f" (also {also})" if also and also != where else ""))
            return False
        self.cells[full] = where
        return True
