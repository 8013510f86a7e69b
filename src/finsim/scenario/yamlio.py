"""Reading scenario YAML safely, remembering where each value was written.

Only YAML's safe subset is read (no Python objects). Alongside the data, each
field path is mapped to its line (for a mapping entry, the line of its key) so
that errors can point at it. Duplicate keys, which PyYAML would silently
resolve to the last one, are errors, as are files too large, too deeply nested,
holding too many values, or with aliases that would expand a small file into a
huge document (a "billion laughs") or into itself.

The limits are the module's ``MAX_*`` constants; an environment variable of the
same name prefixed ``FINSIM_`` (``FINSIM_MAX_FILE_BYTES=50000000``) overrides one
(see docs/reliability.md). Each is checked before the work it guards is done, so
a hostile file is refused in bounded time and memory.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml

from finsim.errors import Problem, ScenarioError, format_path

#: Largest scenario file read, in bytes.
MAX_FILE_BYTES = 20_000_000
#: Most YAML values (keys, scalars, lists and mappings) in one file, counting each alias
#: expansion: the largest shipped example, England-sized, has about 50,000.
MAX_NODES = 500_000
#: Deepest nesting of mappings and lists, aliases expanded (scenarios need about 10).
MAX_DEPTH = 50

PathKey = tuple[str | int, ...]


def limit(name: str, default: int) -> int:
    """The limit ``name`` (``"MAX_NODES"``): ``FINSIM_<name>`` from the environment if set,
    else ``default`` (the module constant, read when the limit is checked)."""
    variable = f"FINSIM_{name}"
    text = os.environ.get(variable)
    if text is None or not text.strip():
        return default
    written = text.strip().replace("_", "")
    try:
        value = int(written)
    except ValueError:  # 1e12, or not a number at all
        try:
            number = float(written)
            value = int(number) if number.is_integer() else -1
        except (ValueError, OverflowError):
            value = -1
    if value < 1:
        raise ScenarioError.single(
            variable, f"expected a whole number >= 1, got {text!r}", "(environment)"
        )
    return value


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
    _check_size(size, name)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError.single(
            "(file)", f"cannot read the file as UTF-8: {exc}", name
        ) from None
    return parse_yaml(text, name)


def _check_size(size: int, name: str) -> None:
    most = limit("MAX_FILE_BYTES", MAX_FILE_BYTES)
    if size > most:
        raise ScenarioError.single(
            "(file)",
            f"file is {size:,} bytes; the limit is {most:,} (FINSIM_MAX_FILE_BYTES)",
            name,
        )


class _Loader(yaml.SafeLoader):
    """The safe loader, counting values and nesting depth as it builds the document, so that
    a file too large or too deep is refused before it is built whole (PyYAML builds nested
    values recursively: a thousand brackets would exhaust Python's stack)."""

    def __init__(self, text: str, name: str) -> None:
        super().__init__(text)
        self.name = name
        self.nodes_left = limit("MAX_NODES", MAX_NODES)
        self.depth_left = limit("MAX_DEPTH", MAX_DEPTH)

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.nodes_left -= 1
        self.depth_left -= 1
        try:
            if self.nodes_left < 0 or self.depth_left < 0:
                line = self.peek_event().start_mark.line + 1
                raise _too_big(self.nodes_left < 0, self.name, line)
            return super().compose_node(parent, index)
        finally:
            self.depth_left += 1

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # PyYAML's constructors raise IndexError, KeyError, ValueError... for some values they
        # refuse ('!!float' alone, '!!bool x'): make each a YAML error that names its line
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            self.recursive_objects.pop(node, None)  # (left behind by the failed construction)
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            detail = f" ({exc})" if type(exc) is ValueError else ""  # (its words are for people)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {tag} {node.value!r}{detail}", node.start_mark
            ) from None


def _too_big(
    nodes: bool, name: str, line: int | None = None, expanded: bool = False
) -> ScenarioError:
    if nodes:
        most = limit("MAX_NODES", MAX_NODES)
        what = f"more than {most:,} values" + (
            " once its aliases are expanded (aliases repeated too often?)" if expanded else ""
        )
        message = f"the document holds {what} (limit: FINSIM_MAX_NODES)"
    else:
        most = limit("MAX_DEPTH", MAX_DEPTH)
        message = (
            f"values are nested more than {most} deep"
            + (" once its aliases are expanded" if expanded else "")
            + " (limit: FINSIM_MAX_DEPTH)"
        )
    return ScenarioError.single("(file)", message, name, line)


def parse_yaml(text: str, name: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse YAML text; see :func:`read_yaml`."""
    if len(text) > limit("MAX_FILE_BYTES", MAX_FILE_BYTES) // 4:  # (a character is 1-4 bytes)
        _check_size(len(text.encode("utf-8", "surrogatepass")), name)
    try:
        loader = _Loader(text, name)
    except yaml.reader.ReaderError as exc:  # a control character: refused before parsing
        line = text.count("\n", 0, exc.position) + 1
        raise ScenarioError.single(
            "(file)",
            f"not valid YAML: character #x{exc.character:04x} is not allowed in a YAML file",
            name,
            line,
        ) from None
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
        _check_expansion(node, name)
        lines: dict[PathKey, int] = {}
        problems: list[Problem] = []
        budget = [limit("MAX_NODES", MAX_NODES)]
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


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: yaml.Node, name: str) -> None:
    """Refuse a document that aliases would make too large or too deep, or that contains itself.

    An alias is the same node as its anchor, so the document is a graph; each distinct node
    is measured once (values and depth with every alias expanded), never expanded.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()  # on the path from the root to the node being measured
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, measured_children = stack.pop()
        key = id(node)
        children = _children(node)
        if measured_children:
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            entered.discard(key)
            continue
        if key in size:
            continue
        entered.add(key)
        stack.append((node, True))
        for child in children:
            if id(child) in entered:
                raise ScenarioError.single(
                    "(file)",
                    "an alias is used inside the value it names: the document would contain itself",
                    name,
                    child.start_mark.line + 1,
                )
            if id(child) not in size:
                stack.append((child, False))
    if size[id(root)] > limit("MAX_NODES", MAX_NODES):
        raise _too_big(True, name, expanded=True)
    if depth[id(root)] > limit("MAX_DEPTH", MAX_DEPTH):
        raise _too_big(False, name, expanded=True)


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
    if budget[0] < 0:  # (measured before the walk: a safeguard)
        if budget[0] == -1:
            problems.append(_too_big(True, name, expanded=True).problems[0])
        return
    # a mapping entry was recorded at its key's line, where a reader looks for it
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if _surrogate(key_node):
                problems.append(Problem(format_path(path), _surrogate(key_node), name, line))
                continue
            key = _key(loader, key_node)
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
    elif _surrogate(node):
        problems.append(Problem(format_path(path), _surrogate(node), name, lines[path]))


_SURROGATE = re.compile("[\ud800-\udfff]")


def _surrogate(node: yaml.Node) -> str:
    """What is wrong with a scalar written with half a UTF-16 surrogate pair ("\\ud800"), which
    is not a character (and could not be written to a results file), or ''."""
    if not isinstance(node, yaml.ScalarNode):
        return ""
    found = _SURROGATE.search(node.value)
    if found is None:
        return ""
    return (
        f"text holds {ascii(found.group())}, half of a UTF-16 surrogate pair and not a "
        "character: write the character itself"
    )
