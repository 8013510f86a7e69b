"""A scenario document laid out as the sheets of :mod:`finsim.workbook.layout`: header and
rows of plain cell values for each sheet (no openpyxl here; :mod:`finsim.workbook.writer`
writes them).

Every value lands somewhere: a collection that fits its table goes there, anything else is
taken apart into ``path | value`` rows of a settings sheet, down to values that fit in one
cell (a list of names is written ``[a, b]``), so nothing is ever lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from finsim.workbook.layout import Layout, Settings, Table, offered_paths, record_columns
from finsim.workbook.paths import REMOVE, PathKey, flatten, flow_text, is_by_year, path_text
from finsim.workbook.shape import (
    annotation_at,
    choices,
    field_at,
    field_words,
    text_only,
    type_words,
)

#: Columns that name an organisation of one kind: their cells offer that kind's ids.
ORGANISATION_KINDS = {
    "region": "regions",
    "regions": "regions",
    "system": "systems",
    "systems": "systems",
    "commissioner": "commissioners",
    "commissioners": "commissioners",
    "provider": "providers",
    "providers": "providers",
}
ABOUT = ("unit", "description")


@dataclass
class SheetData:
    """What a sheet holds: its header, its rows of cell values, and the help for its cells."""

    spec: Settings | Table
    header: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    #: header position -> (type and unit, default, description), shown as the header's note
    notes: dict[int, tuple[str, str, str]] = field(default_factory=dict)
    #: header position -> the words its cells may hold, or the org sheet whose ids they are
    choices: dict[int, list[str] | str] = field(default_factory=dict)
    #: (row, column) positions (from 0, below the header) -> the words that cell may hold
    cell_choices: dict[tuple[int, int], list[str]] = field(default_factory=dict)


def encode(leaf: Any) -> Any:
    """A value as a cell holds it: numbers, text and TRUE/FALSE as themselves, anything
    else (a list of names, an empty mapping) as one line of YAML."""
    if leaf is None or isinstance(leaf, bool | int | float | str):
        return leaf
    return flow_text(leaf)


def arrange(document: dict[str, Any], layout: Layout) -> list[SheetData]:
    """The sheets of a workbook holding ``document``: for an empty document (the template)
    every sheet; otherwise the sheets holding values, and those of the scenario and its
    organisations."""
    tables = {t.path: t for t in layout.tables()}
    settings: dict[str, list[tuple[PathKey, Any]]] = {}
    in_tables: dict[PathKey, Any] = {}

    def walk(value: Any, path: PathKey) -> None:
        if not path and not value:
            return  # (the template: no values)
        table = tables.get(path)
        if table is not None and _fits(table, value):
            in_tables[path] = value
        elif (
            isinstance(value, dict)
            and value
            and all(isinstance(k, str) for k in value)
            and any(p[: len(path)] == path and len(p) > len(path) for p in tables)
        ):
            for key, item in value.items():
                walk(item, (*path, key))
        else:
            for parts, leaf in flatten(value, path):
                home = layout.home.get(str(parts[0]), layout.sheets[0].name) if parts else ""
                settings.setdefault(home, []).append((parts, leaf))

    walk(document, ())
    out: list[SheetData] = []
    for spec in layout.sheets:
        if isinstance(spec, Settings):
            out.append(_settings(spec, layout, settings.get(spec.name, [])))
        elif spec.kind == "records" or spec.kind == "keyed":
            out.append(_records(spec, layout, in_tables.get(spec.path)))
        else:
            out.append(_values(spec, layout, in_tables.get(spec.path)))
    if not document:
        return out
    core = {layout.sheets[0].name} | {
        t.name for t in layout.tables() if t.path[0] == "organisations"
    }
    return [s for s in out if s.spec.name in core or _holds_values(s)]


def _holds_values(data: SheetData) -> bool:
    last = len(data.header) - (len(ABOUT) if data.header[-len(ABOUT) :] == list(ABOUT) else 0)
    return any(v is not None for row in data.rows for v in row[1:last]) or (
        isinstance(data.spec, Table) and bool(data.rows)
    )


def _fits(table: Table, value: Any) -> bool:
    if table.kind == "records":
        return isinstance(value, list) and all(
            isinstance(i, dict) and i and all(isinstance(k, str) and k for k in i) for i in value
        )
    if not isinstance(value, dict) or not all(isinstance(k, str) and k for k in value):
        return False
    if table.kind in ("keyed", "overlays"):
        return all(isinstance(v, dict) for v in value.values())
    return True


def help_at(model: type[BaseModel], path: PathKey) -> tuple[str, str, str]:
    """(type and unit, default, description) of the value at ``path`` of a document."""
    info = field_at(model, path)
    if info is not None:
        return field_words(info)
    alts = annotation_at(model, path)
    return (" or ".join(dict.fromkeys(type_words(t) for t in alts)), "", "")


def _years(leaves: Iterable[Any]) -> list[str]:
    return sorted({y for leaf in leaves if is_by_year(leaf) for y in leaf})


def _settings(spec: Settings, layout: Layout, leaves: list[tuple[PathKey, Any]]) -> SheetData:
    offered = offered_paths(layout, spec)
    owned: dict[PathKey, list[tuple[PathKey, Any]]] = {p: [] for p in offered}
    rest: list[tuple[PathKey, Any]] = []
    for parts, leaf in leaves:
        owner = next((parts[:k] for k in range(len(parts), 0, -1) if parts[:k] in owned), None)
        (owned[owner] if owner is not None else rest).append((parts, leaf))
    rows: list[tuple[PathKey, Any]] = []
    for path in offered:
        rows.extend(owned[path] or [(path, None)])
    rows.extend(rest)
    years = _years(leaf for _, leaf in rows)
    data = SheetData(spec, ["path", "value", *years, *ABOUT])
    for i, (parts, leaf) in enumerate(rows):
        kind, default, words = help_at(layout.model, parts)
        if default:
            words = f"{words} (default {default})" if words else f"default {default}"
        by_year = leaf if is_by_year(leaf) else {}
        value = None if by_year else encode(leaf)
        data.rows.append([path_text(parts), value, *(by_year.get(y) for y in years), kind, words])
        words_allowed = choices(annotation_at(layout.model, parts))
        if words_allowed:
            data.cell_choices[(i, 1)] = words_allowed
    return data


def _records(spec: Table, layout: Layout, value: Any) -> SheetData:
    assert spec.model is not None
    offered = record_columns(spec.model)
    items: list[tuple[str | None, dict[str, Any]]]
    if value is None:
        items = []
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        items = [(None, item) for item in value]
    flat = [(key, list(flatten(item))) for key, item in items]
    # the columns: those the model offers, each with the data's columns inside it after it
    position = {p: i for i, p in enumerate(offered)}
    found: dict[tuple[PathKey, str | None], tuple[int, int]] = {}
    for _, leaves in flat:
        for parts, leaf in leaves:
            owner = next(
                (position[parts[:k]] for k in range(len(parts), 0, -1) if parts[:k] in position),
                len(offered),
            )
            for year in sorted(leaf) if is_by_year(leaf) else [None]:
                found.setdefault((parts, year), (owner, len(found)))
    used_inside = {parts[:k] for parts, _ in found for k in range(1, len(parts))}
    for i, path in enumerate(offered):
        if path not in used_inside or (path, None) in found:
            found.setdefault((path, None), (i, -1))
    columns = sorted(found, key=lambda c: found[c])
    key_header = [spec.key] if spec.key else []
    data = SheetData(spec, [*key_header, *(path_text(p, y) for p, y in columns)])
    at = {c: j + len(key_header) for j, c in enumerate(columns)}
    example: PathKey = (*spec.path, "x" if spec.key else 0)
    if spec.key:
        kind = ORGANISATION_KINDS.get(str(spec.path[-1]))
        if kind:
            data.choices[0] = kind
        data.notes[0] = ("name", "required", f"the key of each row: {spec.description}")
    for parts, year in columns:
        j = at[(parts, year)]
        data.notes[j] = help_at(layout.model, (*example, *parts))
        alts = annotation_at(layout.model, (*example, *parts))
        words = choices(alts)
        kind = ORGANISATION_KINDS.get(str(parts[-1]))
        if words and year is None:
            data.choices[j] = words
        elif kind and text_only(alts) and year is None:
            data.choices[j] = kind
    for key, leaves in flat:
        row: list[Any] = [None] * len(data.header)
        if spec.key:
            row[0] = key
        for parts, leaf in leaves:
            if is_by_year(leaf):
                for year, number in leaf.items():
                    row[at[(parts, year)]] = number
            else:
                row[at[(parts, None)]] = encode(leaf)
        data.rows.append(row)
    return data


def _values(spec: Table, layout: Layout, value: Any) -> SheetData:
    """A mapping of name to value (``id | value | years``), or the variants' overlays
    (``variant | path | value | years | unit | description``)."""
    overlays = spec.kind == "overlays"
    lines: list[tuple[str, PathKey | None, Any]] = []
    for key, item in (value or {}).items():
        if overlays:
            leaves = list(flatten(item)) if item else []
            lines.extend((key, parts, leaf) for parts, leaf in leaves if parts)
            if not leaves:
                lines.append((key, None, None))
        else:
            lines.append((key, None, item))
    years = _years(leaf for _, _, leaf in lines)
    about = list(ABOUT) if overlays else []
    data = SheetData(
        spec, [str(spec.key), *(["path"] if overlays else []), "value", *years, *about]
    )
    kind = ORGANISATION_KINDS.get(str(spec.path[-1]))
    if kind:
        data.choices[0] = kind
    for i, (key, parts, leaf) in enumerate(lines):
        by_year = leaf if is_by_year(leaf) else {}
        cells = [None if by_year else encode(leaf), *(by_year.get(y) for y in years)]
        if overlays and parts:  # a variant's null (a removed value) is written (remove)
            if by_year:
                cells[1:] = [
                    REMOVE if y in by_year and by_year[y] is None else c
                    for y, c in zip(years, cells[1:], strict=True)
                ]
            elif leaf is None:
                cells[0] = REMOVE
        if overlays:
            words = help_at(layout.model, parts) if parts else ("", "", "")
            data.rows.append([key, path_text(parts) if parts else None, *cells, *words[::2]])
        else:
            data.rows.append([key, *cells])
            words_allowed = choices(annotation_at(layout.model, (*spec.path, key)))
            if words_allowed:
                data.cell_choices[(i, 1)] = words_allowed
    return data
