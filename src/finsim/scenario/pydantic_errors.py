"""pydantic's validation errors as problems in a scenario writer's words."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ValidationError

from finsim.errors import did_you_mean
from finsim.scenario.models import ID_PATTERN

PathKey = tuple[str | int, ...]


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types a field annotation may hold (unions and Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _keys_at(model: type[BaseModel], loc: PathKey) -> list[str]:
    """The field names allowed at ``loc`` (a path whose last part is a key) in ``model``."""
    candidates: list[Any] = [model]
    for part in loc[:-1]:
        following: list[Any] = []
        for cand in candidates:
            for t in _unwrap(cand):
                origin = typing.get_origin(t)
                if isinstance(part, str) and isinstance(t, type) and issubclass(t, BaseModel):
                    if part in t.model_fields:
                        following.append(t.model_fields[part].annotation)
                elif origin in (list, tuple) and isinstance(part, int):
                    following.extend(typing.get_args(t)[:1])
                elif origin is dict:
                    following.append(typing.get_args(t)[1])
        candidates = following
    keys: list[str] = []
    for cand in candidates:
        for t in _unwrap(cand):
            if isinstance(t, type) and issubclass(t, BaseModel):
                keys.extend(t.model_fields)
    return keys


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: pydantic's phrases, in a scenario writer's words (applied in order).
_PHRASES = (
    ("Input should be", "expected"),
    ("Value error, ", ""),
    ("Assertion failed, ", ""),
    (r"expected a valid dictionary or instance of \w+", "expected a mapping"),
    ("expected a valid dictionary", "expected a mapping"),
    ("expected a valid list", "expected a list"),
    ("expected a valid integer", "expected a whole number"),
    ("expected a valid number", "expected a number"),
    ("expected a valid string", "expected text"),
    ("expected a valid boolean", "expected true or false"),
    ("expected greater than or equal to", "expected a number >="),
    ("expected greater than", "expected a number >"),
    ("expected less than or equal to", "expected a number <="),
    ("expected less than", "expected a number <"),
    ("String should have", "expected text with"),
    ("List should have", "expected a list with"),
)
_ID_HINT = "expected an id: letters, digits, '_', '-' or '.', starting with a letter or digit"


def _in_words(err: Any) -> str:
    if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == ID_PATTERN:
        return _ID_HINT
    msg = str(err["msg"])
    for phrase, words in _PHRASES:
        msg = re.sub(phrase, words, msg)
    return msg


def problems_from_validation(
    exc: ValidationError, model: type[BaseModel], data: Any = None
) -> Iterator[tuple[PathKey, str, str | None]]:
    """Turn pydantic's errors into (path, message, suggestion), in the domain's words.

    When a value fits none of the forms a field allows (``ByYear | 'floor'``), pydantic
    reports one error per form; they are joined into one problem. ``data``, the document
    validated, tells the names pydantic gives those forms from keys written in the file.
    """
    union_messages: dict[PathKey, list[str]] = {}
    out: list[tuple[PathKey, str, str | None]] = []
    for err in exc.errors(include_url=False):
        loc = _data_path(err["loc"], data)
        kind = err["type"]
        if kind == "extra_forbidden" and loc:
            allowed = _keys_at(model, loc)
            key = str(loc[-1])
            message = f"unknown key '{key}'"
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
            out.append((loc, message, did_you_mean(key, allowed)))
            continue
        if kind == "missing":
            out.append((loc, "required field is missing", None))
            continue
        if kind == "by_year" and "key" in err.get("ctx", {}):
            loc = (*loc, err["ctx"]["key"])  # the year written, so the line is that year's
        msg = _in_words(err)
        if "input" in err and not isinstance(err["input"], dict):
            got = _describe(err["input"])
            if "got " not in msg and got not in msg:  # our own messages say what they got
                msg += f", got {got}"
        if len(loc) < len(err["loc"]):  # one form of a union
            if loc in union_messages:
                union_messages[loc].append(msg)
                continue
            union_messages[loc] = [msg]
        out.append((loc, msg, None))
    for loc, message, suggestion in out:
        forms = union_messages.get(loc)
        if forms and len(forms) > 1 and message == forms[0]:
            message = "; or ".join(dict.fromkeys(forms))
        yield loc, message, suggestion


def _data_path(loc: tuple[Any, ...], data: Any) -> PathKey:
    """The parts of pydantic's ``loc`` that are keys or positions in ``data``: the names of
    union members that pydantic inserts are dropped, and a key written in the file is kept
    even if it looks like one (a key ``int``, or ``a[b]``)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and _has_key(node, part):
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif _is_union_tag(part):
            continue
        else:  # a field that is missing, or past a value that is not what was expected
            node = None
        out.append(part)
    return tuple(out)


def _has_key(mapping: dict[Any, Any], key: Any) -> bool:
    try:
        return key in mapping
    except TypeError:
        return False


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the union member's name (e.g. 'function-plain[...]') into loc
    return isinstance(part, str) and ("[" in part or part in {"str", "float", "int", "bool"})
