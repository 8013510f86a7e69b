"""Reading scenario YAML safely, remembering where each value was written.

Only YAML's safe subset is read (no Python objects). Alongside the data, each
field path is mapped to its line so that errors can point at it. Duplicate keys,
which PyYAML would silently resolve to the last one, are errors, as are files
too large or aliases that would expand a small file into a huge document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from finsim.errors import Problem, ScenarioError, format_path

#: Largest scenario file read, in bytes.
MAX_FILE_BYTES = 20_000_000
#: Most YAML nodes walked in one file, counting each alias expansion.
MAX_NODES = 2_000_000

PathKey = tuple[str | int, ...]


def read_yaml(path: Path) -> tuple[Any, dict[PathKey, int]]:
    """Return (data, line of each field path) for a YAML file.

    Raises ScenarioError naming the file for anything that is not readable YAML.
    """
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScenarioError.single("(file)", f"cannot read the file: {exc.strerror}", name) from None
    if size > MAX_FILE_BYTES:
        raise ScenarioError.single(
            "(file)", f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", name
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single("(file)", f"cannot read the file as UTF-8: {exc}", name) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse YAML text; see :func:`read_yaml`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError.single("(file)", f"not valid YAML: {problem}", name, line) from None
    if node is None:
        raise ScenarioError.single(
            "(file)", "the file is empty: expected a mapping with 'scenario' and 'organisations'", name
        )
    lines: dict[PathKey, int] = {}
    problems: list[Problem] = []
    budget = [MAX_NODES]
    _walk(node, (), lines, problems, name, budget)
    if problems:
        raise ScenarioError(problems)
    try:
        data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    except yaml.YAMLError as exc:  # e.g. a tag the safe loader refuses
        raise ScenarioError.single("(file)", f"not valid YAML: {exc}", name) from None
    return data, lines


def _walk(
    node: yaml.Node,
    path: PathKey,
    lines: dict[PathKey, int],
    problems: list[Problem],
    name: str,
    budget: list[int],
) -> None:
    budget[0] -= 1
    if budget[0] < 0:
        if budget[0] == -1:
            problems.append(
                Problem(
                    "(file)",
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(aliases repeated too often?)",
                    name,
                )
            )
        return
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(
                    Problem(
                        format_path(path + (key,)),
                        f"duplicate key '{key}' (first written on line {seen[key]})",
                        name,
                        key_node.start_mark.line + 1,
                    )
                )
                continue
            seen[key] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, problems, name, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, problems, name, budget)
