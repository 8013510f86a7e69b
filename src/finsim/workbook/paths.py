"""Paths as a workbook writes them, and a document taken apart into cells and put back.

A path names a value of the scenario the way finsim's messages do: ``tariff.cost_uplift``,
``allocations.streams.core.pace.bands[0].cap``. A key that is not a plain name (one holding a
'.', a space, a quote) is written in double quotes: ``opening."rdr.1"``. In a table's
header, ``growth[2019/20]`` is the value of ``growth`` for one financial year.

A value too small for rows or columns of its own (a list of names, an empty section) is
written in its cell as YAML in one line: ``[non_elective, elective]``, ``{}``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import yaml

PathKey = tuple[str | int, ...]

FY = re.compile(r"^\d{4}/\d{2}$")
#: A variant's value that removes the base's value (null in a YAML file).
REMOVE = "(remove)"
_PLAIN = re.compile(r"[A-Za-z0-9_\-]+")


class PathError(ValueError):
    """A path or column name that cannot be read; the message says why."""


def path_text(parts: PathKey, year: str | None = None) -> str:
    """``parts`` written as a path (and ``[year]`` after it, for one year's value)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            segment = part if _PLAIN.fullmatch(part) else '"' + part.replace('"', '""') + '"'
            out += f".{segment}" if out else segment
    return out + (f"[{year}]" if year is not None else "")


def parse_path(text: str) -> tuple[PathKey, str | None]:
    """The parts of a path, and the financial year of a trailing ``[2019/20]`` (or None)."""
    s = text.strip()
    parts: list[str | int] = []
    year: str | None = None
    pos = 0
    while pos < len(s):
        if year is not None:
            raise PathError(f"nothing may follow the year [{year}] in '{s}'")
        char = s[pos]
        if char == "[":
            end = s.find("]", pos)
            if end < 0:
                raise PathError(f"'[' without ']' in '{s}'")
            inside = s[pos + 1 : end].strip()
            if inside.isdigit():
                parts.append(int(inside))
            elif FY.match(inside):
                year = inside
            else:
                raise PathError(
                    f"expected a position [0] or a financial year [2019/20] in '{s}', "
                    f"got [{inside}]"
                )
            pos = end + 1
            continue
        if char == ".":
            if not parts:
                raise PathError(f"'{s}' starts with '.'")
            pos += 1
            if pos >= len(s):
                raise PathError(f"'{s}' ends with '.'")
            char = s[pos]
        elif parts:
            raise PathError(f"expected '.' or '[' at '{s[pos:]}' in '{s}'")
        if char == '"':
            segment, pos = _quoted(s, pos)
            parts.append(segment)
            continue
        found = _PLAIN.match(s, pos)
        if found is None:
            raise PathError(
                f"unexpected {char!r} in '{s}' (write a key holding it in double quotes)"
            )
        parts.append(found.group())
        pos = found.end()
    if not parts:
        raise PathError("the path is empty")
    return tuple(parts), year


def _quoted(s: str, pos: int) -> tuple[str, int]:
    out = ""
    pos += 1
    while pos < len(s):
        if s[pos] == '"':
            if s[pos + 1 : pos + 2] == '"':
                out += '"'
                pos += 2
                continue
            return out, pos + 1
        out += s[pos]
        pos += 1
    raise PathError(f"a quote '\"' is not closed in '{s}'")


def flow_text(value: Any) -> str:
    """A list or mapping as one line of YAML (the form a cell holds it in)."""
    text = yaml.safe_dump(
        value, default_flow_style=True, sort_keys=False, width=10**9, allow_unicode=True
    )
    return text.strip().removesuffix("...").strip()


def is_by_year(value: Any) -> bool:
    """Whether ``value`` is written as a value per financial year: {2019/20: 0.02, ...}."""
    return (
        isinstance(value, dict)
        and bool(value)
        and all(isinstance(k, str) and FY.match(k) for k in value)
        and all(not isinstance(v, dict | list) for v in value.values())
    )


def _is_records(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and item and _plain_keys(item) for item in value)
    )


def _plain_keys(value: dict[Any, Any]) -> bool:
    return all(isinstance(k, str) and k for k in value)


def flatten(value: Any, prefix: PathKey = ()) -> Iterator[tuple[PathKey, Any]]:
    """The leaves of ``value``: (path, leaf) for each number, text, value per year, list of
    names and empty or odd mapping, in document order. Mappings are taken apart key by key,
    lists of records item by item; :func:`build` puts them back."""
    if isinstance(value, dict) and value and _plain_keys(value) and not is_by_year(value):
        for key, item in value.items():
            yield from flatten(item, (*prefix, key))
    elif _is_records(value):
        for i, item in enumerate(value):
            yield from flatten(item, (*prefix, i))
    else:
        yield prefix, value


class Items(dict[int, Any]):
    """The items of a list while it is being built from its cells, by position."""


class Node(dict[str, Any]):
    """A mapping being built from its cells (a mapping given whole in one cell is a dict)."""


class Clash(ValueError):
    """Two cells give the same value, or a value and values inside it."""

    def __init__(self, path: PathKey, message: str) -> None:
        super().__init__(message)
        self.path = path


def put(document: Node, path: PathKey, leaf: Any) -> None:
    """Set ``path`` of ``document`` (being built) to ``leaf``; raise Clash when a cell has
    already given it, or given a value where this path needs a mapping or a list."""
    node: Any = document
    for i, part in enumerate(path):
        if isinstance(node, Items) != isinstance(part, int):
            where = path_text(path[:i]) or "the top level"
            raise Clash(path[:i], f"'{where}' is given both as a list and as a mapping")
        if i == len(path) - 1:
            break
        child = node.get(part, _MISSING)
        kind = Items if isinstance(path[i + 1], int) else Node
        if child is _MISSING:
            child = node[part] = kind()
        elif type(child) is not kind:
            raise Clash(path[: i + 1], f"'{path_text(path[: i + 1])}' is given whole elsewhere")
        node = child
    if path[-1] in node:
        raise Clash(path, f"'{path_text(path)}' is given twice")
    node[path[-1]] = leaf


_MISSING = object()


def finish(value: Any, path: PathKey = ()) -> Any:
    """``value`` with its Items turned into lists; raise Clash for a gap in the positions."""
    if isinstance(value, Items):
        out = []
        for n, i in enumerate(sorted(value)):
            if n != i:
                raise Clash(
                    (*path, i),
                    f"'{path_text((*path, i))}' follows no '{path_text((*path, n))}': number "
                    "the items of a list from 0 without gaps",
                )
            out.append(finish(value[i], (*path, i)))
        return out
    if isinstance(value, Node):
        return {k: finish(v, (*path, k)) for k, v in value.items()}
    return value
