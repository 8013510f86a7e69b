"""Which sheets a scenario workbook has, worked out from the scenario model.

* ``scenario``: settings, one row per value (``path | value | 2019/20 ... | unit |
  description``): the scenario's name and years, the national body, ``extends``, and any
  value of a section that has no sheet of its own.
* a **settings sheet per section** whose section is a record (``tariff``, ``activity``,
  ``control_totals``...): the same layout, for the section's numbers, words and small
  nested settings.
* a **table per list of records** (``contracts``, ``regions``, ``providers``,
  ``savings.programmes``, ``capital.bids``): one row per record, one column per field;
  nested settings and small mappings as dotted columns (``at.fy``, ``plan.elective``), a
  value by year as a column per year (``growth[2019/20]``).
* a **table per mapping of id to record** (``costs.providers``, ``allocations.streams``):
  the same, keyed by an ``id`` column.
* a **table per mapping of name to number** (``tariff.prices``, ``control_totals.organisations``):
  ``id | value | 2019/20 ...``.
* ``variants``: ``variant | path | value | 2019/20 ...``: each row sets one value in one
  variant.

A sheet's name is its path, without ``organisations.``; a name longer than Excel's 31
characters keeps the section and the last part (``control_totals.overrides``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, cast

from pydantic import BaseModel

from finsim.scenario.models import BaseScenarioModel
from finsim.workbook.paths import PathKey
from finsim.workbook.shape import fields_of, shape_of

README = "README"
SCENARIO = "scenario"
SHEET_NAME_LENGTH = 31

TableKind = Literal["records", "keyed", "map", "overlays"]


@dataclass(frozen=True)
class Table:
    """A sheet holding the collection at ``path``: records (a list), keyed records, a
    mapping of name to value, or the variants' overlays."""

    name: str
    path: PathKey
    kind: TableKind
    model: type[BaseModel] | None
    description: str

    @property
    def key(self) -> str | None:
        """The header of the column naming each row's key (None for a list)."""
        if self.kind == "records":
            return None
        if self.kind == "overlays":
            return "variant"
        return "key" if self.model is not None and "id" in fields_of(self.model) else "id"


@dataclass(frozen=True)
class Settings:
    """A sheet of ``path | value`` rows for the values of ``sections`` outside any table."""

    name: str
    sections: tuple[str, ...]
    description: str


@dataclass
class Layout:
    """Every sheet a workbook of one scenario model may have, in the order they are written."""

    model: type[BaseModel]
    sheets: list[Settings | Table] = field(default_factory=list)
    #: the settings sheet that receives each top-level key's rows
    home: dict[str, str] = field(default_factory=dict)

    def by_name(self) -> dict[str, Settings | Table]:
        return {s.name: s for s in self.sheets}

    def tables(self) -> list[Table]:
        return [s for s in self.sheets if isinstance(s, Table)]

    def table_at(self, path: PathKey) -> Table | None:
        return next((t for t in self.tables() if t.path == path), None)


def layout_of(model: type[BaseModel]) -> Layout:
    """The sheets of a workbook for scenarios of ``model`` (see the module docstring)."""
    layout = Layout(model)
    names = _Names()
    first: list[Settings | Table] = [
        Settings(
            names.take(SCENARIO),
            ("scenario", "organisations"),
            "the scenario's name, its financial years, the national body, and any value "
            "of a section without a sheet of its own",
        )
    ]
    mechanisms: list[Settings | Table] = []
    last: list[Settings | Table] = []
    for key, info in fields_of(model).items():
        place = first if key in ("scenario", "organisations") else mechanisms
        if key in BaseScenarioModel.model_fields and key not in ("scenario", "organisations"):
            place = last
        shape = shape_of(info.annotation)
        words = info.description or ""
        if shape.kind == "record" and shape.model is not None:
            if key in ("scenario", "organisations"):
                layout.home[key] = SCENARIO
            else:
                place.append(Settings(names.take(key), (key,), words))
                layout.home[key] = place[-1].name
            place.extend(_tables_in(shape.model, (key,), names))
        elif shape.kind != "leaf":
            layout.home[key] = SCENARIO
            kind = cast(TableKind, shape.kind)
            place.append(Table(names.take(_name((key,))), (key,), kind, shape.model, words))
        else:
            layout.home[key] = SCENARIO
    layout.sheets = first + mechanisms + last
    return layout


def _tables_in(model: type[BaseModel], path: PathKey, names: _Names) -> list[Settings | Table]:
    """The tables for the collections inside a record at ``path`` (not inside other tables)."""
    out: list[Settings | Table] = []
    for key, info in fields_of(model).items():
        shape = shape_of(info.annotation)
        here = (*path, key)
        if shape.kind == "record" and shape.model is not None:
            out.extend(_tables_in(shape.model, here, names))
        elif shape.kind != "leaf":
            words = info.description or ""
            kind = cast(TableKind, shape.kind)
            out.append(Table(names.take(_name(here)), here, kind, shape.model, words))
    return out


def _name(path: PathKey) -> str:
    parts = [str(p) for p in path]
    if parts[0] == "organisations" and len(parts) > 1:
        parts = parts[1:]
    name = ".".join(parts)
    if len(name) > SHEET_NAME_LENGTH and len(parts) > 2:
        name = f"{parts[0]}.{parts[-1]}"
    if len(name) > SHEET_NAME_LENGTH and len(parts) > 1 and "_" in parts[0]:
        name = "".join(word[:1] for word in parts[0].split("_")) + f".{parts[-1]}"
    return name


class _Names:
    """Sheet names as Excel takes them: at most 31 characters, unique whatever the case."""

    def __init__(self) -> None:
        self.taken = {README.casefold()}

    def take(self, wanted: str) -> str:
        base = wanted[:SHEET_NAME_LENGTH]
        name, n = base, 1
        while name.casefold() in self.taken:
            n += 1
            name = f"{base[: SHEET_NAME_LENGTH - len(str(n)) - 1]}~{n}"
        self.taken.add(name.casefold())
        return name


# -- the rows and columns a sheet offers before any data ------------------------------------


def setting_paths(model: type[BaseModel], path: PathKey, layout: Layout) -> list[PathKey]:
    """The path of every value a settings sheet offers for the record at ``path``: its
    fields, and those of its nested records, but not the collections that have tables."""
    out: list[PathKey] = []
    for key, info in fields_of(model).items():
        here = (*path, key)
        if layout.table_at(here) is not None:
            continue
        shape = shape_of(info.annotation)
        if shape.kind == "record" and shape.model is not None:
            out.extend(setting_paths(shape.model, here, layout))
        else:
            out.append(here)
    return out


def record_columns(model: type[BaseModel], prefix: PathKey = ()) -> list[PathKey]:
    """The columns a table of records offers: a column per field, a dotted column per field
    of a nested record (``at.fy``)."""
    out: list[PathKey] = []
    for key, info in fields_of(model).items():
        shape = shape_of(info.annotation)
        if shape.kind == "record" and shape.model is not None:
            out.extend(record_columns(shape.model, (*prefix, key)))
        else:
            out.append((*prefix, key))
    return out


def offered_paths(layout: Layout, spec: Settings) -> list[PathKey]:
    """The rows a settings sheet offers: the path of each value of its sections outside the
    tables, and each top-level value (``extends``) it is the home of."""
    out: list[PathKey] = []
    for key, info in fields_of(layout.model).items():
        if layout.home.get(key) != spec.name:
            continue
        shape = shape_of(info.annotation)
        if shape.kind == "record" and shape.model is not None:
            out.extend(setting_paths(shape.model, (key,), layout))
        elif shape.kind == "leaf":
            out.append((key,))
    return out
