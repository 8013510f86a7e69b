"""Reading scenario YAML safely, remembering where each value was written.

Only YAML's safe subset is read (no Python objects). Alongside the data, each
field path is mapped to its line (for a mapping entry, the line of its key) so
that errors can point at it. Duplicate keys, which PyYAML would silently
resolve to the last one, are errors, as are files too large or aliases that
would expand a small file into a huge document.
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
        raise ScenarioError.single(
            "(file)", f"cannot read the file: {exc.strerror}", name
        ) from None
    if size > MAX_FILE_BYTES:
        raise ScenarioError.single(
            "(file)", f"file is {size:,} bytes; the limit is {MAX_FILE_BYTES:,}", name
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single(
            "(file)", f"cannot read the file as UTF-8: {exc}", name
        ) from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse YAML text; see :func:`read_yaml`."""
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _not_yaml(exc, name) from None
        if node is None:
            raise ScenarioError.single(
                "(file)",
                "the file is empty: expected a mapping with 'scenario' and 'organisations'",
                name,
            )
        lines: dict[PathKey, int] = {}
        problems: list[Problem] = []
        budget = [MAX_NODES]
        _walk(loader, node, (), lines, problems, name, budget)
        if problems:
            raise ScenarioError(problems)
        try:
            data = loader.construct_document(node)
        except yaml.YAMLError as exc:  # e.g. a tag the safe loader refuses
            raise _not_yaml(exc, name) from None
    finally:
        loader.dispose()
    return data, lines


def _not_yaml(exc: yaml.YAMLError, name: str) -> ScenarioError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else None
    parts = [getattr(exc, "context", None), getattr(exc, "problem", None)]
    problem = ", ".join(str(p) for p in parts if p) or str(exc)
    return ScenarioError.single("(file)", f"not valid YAML: {problem}", name, line)


_KEY_KINDS = {yaml.SequenceNode: "a list", yaml.MappingNode: "a mapping"}


def _key(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """The key a mapping key node stands for (``2018`` is the number, as in the data)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    try:
        return loader.construct_object(node)
    except yaml.YAMLError:  # the merge key '<<', or a tag refused later anyway
        return node.value


def _walk(
    loader: yaml.SafeLoader,
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
    # a mapping entry was recorded at its key's line, where a reader looks for it
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = _key(loader, key_node)
            line = key_node.start_mark.line + 1
            try:
                hash(key)
            except TypeError:
                key = None
            if key is None:
                got = _KEY_KINDS.get(type(key_node), "an empty key")
                problems.append(
                    Problem(
                        format_path(path),
                        f"expected a plain key (a name, number or year), got {got}",
                        name,
                        line,
                    )
                )
                continue
            if key in seen:
                problems.append(
                    Problem(
                        format_path(path + (key,)),
                        f"duplicate key '{key}' (first written on line {seen[key]})",
                        name,
                        line,
                    )
                )
                continue
            seen[key] = line
            lines[path + (key,)] = line
            _walk(loader, value_node, path + (key,), lines, problems, name, budget)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(loader, item, path + (i,), lines, problems, name, budget)
