"""What the scenario model says about a place in a scenario: the types a value there may take,
whether it is a record, a list or mapping of records, or a mapping of numbers, and how to
describe it in words (unit, default, description) for the README sheet.

Everything here is read from the pydantic models, so a section added by a new mechanism gets
its sheets, columns and descriptions without any change to the workbook code.
"""

from __future__ import annotations

import functools
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from finsim.scenario.models import ID_PATTERN
from finsim.scenario.params import ByYear
from finsim.scenario.units import Unit

PathKey = tuple[str | int, ...]

Kind = Literal["record", "records", "keyed", "map", "overlays", "leaf"]


def alternatives(annotation: Any) -> list[Any]:
    """The concrete types ``annotation`` allows (Annotated, Optional and unions unwrapped;
    None left out)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return alternatives(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in alternatives(arg)]
    if annotation is type(None):
        return []
    return [annotation]


@functools.cache
def fields_of(model: type[BaseModel]) -> dict[str, FieldInfo]:
    """A model's fields by the key a scenario document writes (its alias: ``from``)."""
    return {(info.alias or name): info for name, info in model.model_fields.items()}


def is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def is_by_year(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, ByYear)


@dataclass(frozen=True)
class Shape:
    """How a value of a field is laid out: ``kind`` and, for records and collections of
    records, the record's model; for a mapping, the annotation of its values."""

    kind: Kind
    model: type[BaseModel] | None = None
    values: Any = None


def shape_of(annotation: Any) -> Shape:
    """A record (a model), records (a list of models), keyed (a mapping of id to model),
    map (a mapping of name to numbers or text), overlays (a mapping of name to free-form
    mappings: variants), or a leaf (anything else: a number, text, a list of them, a union)."""
    alts = alternatives(annotation)
    if len(alts) != 1:
        return Shape("leaf")
    (t,) = alts
    if is_model(t):
        return Shape("record", t)
    origin, args = typing.get_origin(t), typing.get_args(t)
    if origin is list and args:
        items = alternatives(args[0])
        if len(items) == 1 and is_model(items[0]):
            return Shape("records", items[0])
    if origin is dict and len(args) == 2:
        values = alternatives(args[1])
        if len(values) == 1 and is_model(values[0]):
            return Shape("keyed", values[0])
        if len(values) == 1 and (
            values[0] is Any or typing.get_origin(values[0]) is dict or values[0] is dict
        ):
            return Shape("overlays")
        return Shape("map", values=args[1])
    return Shape("leaf")


def annotation_at(root: type[BaseModel], path: PathKey) -> list[Any]:
    """The types a value at ``path`` (keys and positions of a document) may take; [] for a
    path the model does not know, [Any] below a free-form mapping."""
    candidates: list[Any] = [root]
    for part in path:
        following: list[Any] = []
        for cand in candidates:
            for t in alternatives(cand):
                origin, args = typing.get_origin(t), typing.get_args(t)
                if t is Any:
                    following.append(Any)
                elif is_model(t) and isinstance(part, str) and part in fields_of(t):
                    following.append(fields_of(t)[part].annotation)
                elif origin in (list, tuple) and isinstance(part, int) and args:
                    following.append(args[0])
                elif origin is dict and len(args) == 2:
                    following.append(args[1])
                elif is_by_year(t) and isinstance(part, str):
                    following.append(float)
        candidates = following
    return [t for cand in candidates for t in alternatives(cand)]


def field_at(root: type[BaseModel], path: PathKey) -> FieldInfo | None:
    """The pydantic field that ``path`` ends in, if its last part names a field."""
    if not path or not isinstance(path[-1], str):
        return None
    for t in annotation_at(root, path[:-1]):
        if is_model(t) and path[-1] in fields_of(t):
            return fields_of(t)[path[-1]]
    return None


def admits_container(alts: list[Any]) -> bool:
    """Whether a value here may be a list or a mapping (so '[a, b]' in a cell is one)."""
    for t in alts:
        origin = typing.get_origin(t)
        if t is Any or is_model(t) or is_by_year(t) or origin in (list, tuple, dict):
            return True
        if t in (list, dict):
            return True
    return False


def _is_text(t: Any) -> bool:
    if t is str:
        return True
    if typing.get_origin(t) is Literal:
        return all(isinstance(a, str) for a in typing.get_args(t))
    return False


def text_only(alts: list[Any]) -> bool:
    """Whether a value here can only be text (a name, an id, a year, one of some words)."""
    return bool(alts) and all(_is_text(t) for t in alts)


def numbers_only(alts: list[Any]) -> bool:
    """Whether a value here is a number (of some unit), never text other than a percentage."""
    return bool(alts) and all(t in (int, float) or is_by_year(t) for t in alts)


def choices(alts: list[Any]) -> list[str] | None:
    """The words a value here may be, when it can only be one of a few words."""
    if not alts or not all(typing.get_origin(t) is Literal for t in alts):
        return None
    words = [a for t in alts for a in typing.get_args(t)]
    return [str(w) for w in words] if all(isinstance(w, str) for w in words) else None


# -- words ----------------------------------------------------------------------------------


def _metadata(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) is typing.Annotated:
        return list(typing.get_args(annotation)[1:])
    return []


def type_words(annotation: Any, metadata: list[Any] | None = None) -> str:
    """What a value of ``annotation`` is, in a few words: its unit, its form."""
    meta = list(metadata or []) + _metadata(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return type_words(typing.get_args(annotation)[0], meta)
    if origin in (typing.Union, types.UnionType):
        parts = [type_words(a) for a in typing.get_args(annotation) if a is not type(None)]
        return " or ".join(dict.fromkeys(parts))
    unit = next((m for m in meta if isinstance(m, Unit)), None)
    if unit is not None:
        return _unit_words(unit)
    if is_by_year(annotation):
        kind = _unit_words(annotation.unit) if annotation.unit is not None else "number"
        return f"{kind}, or by year"
    if origin is Literal:
        return "one of: " + ", ".join(str(a) for a in typing.get_args(annotation))
    if origin in (list, tuple):
        args = typing.get_args(annotation)
        return f"list of {type_words(args[0]) if args else 'values'}, written [a, b]"
    if origin is dict:
        args = typing.get_args(annotation)
        return f"mapping of name to {type_words(args[1]) if len(args) == 2 else 'value'}"
    if is_model(annotation):
        return annotation.__name__
    if annotation is str:
        if any(getattr(m, "pattern", None) == ID_PATTERN for m in meta):
            return "id"
        if any("_check_fy" in repr(m) for m in meta):
            return "financial year, e.g. 2019/20"
        return "text"
    return {bool: "TRUE or FALSE", int: "whole number", float: "number"}.get(annotation, "value")


def _unit_words(unit: Unit) -> str:
    words = {"money": "money, GBP m", "price": "price, GBP"}.get(unit.name, unit.name)
    return f"{words} (whole number)" if unit.whole and unit.name != "month" else words


def field_words(field: FieldInfo) -> tuple[str, str, str]:
    """(type and unit, default, description) of a field, for the README and settings sheets."""
    kind = type_words(field.annotation, list(field.metadata))
    if field.is_required():
        default = "required"
    elif field.default_factory is not None:
        default = _shown(field.default_factory())  # type: ignore[call-arg]
    elif field.default is PydanticUndefined or field.default is None:
        default = ""
    else:
        default = _shown(field.default)
    return kind, default, field.description or ""


def _shown(value: Any) -> str:
    if isinstance(value, BaseModel):
        return "(see its rows)"
    if isinstance(value, ByYear):
        value = value.to_data()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, list | tuple | dict):
        from finsim.workbook.paths import flow_text

        return flow_text(value)
    return str(value)
