"""Reading scenario YAML safely, remembering where each value was written.

Only YAML's safe subset is read (no Python objects). Alongside the data, each
field path is mapped to its line (for a mapping entry, the line of its key) so
that errors can point at it. Duplicate keys, which PyYAML would silently
resolve to the last one, are errors, as are files too large, too deeply nested,
holding too many values or too much text, or with aliases that would expand a
small file into a huge document (a "billion laughs") or into itself. So are a
path that is not a regular file (a device such as /dev/zero, a named pipe: refused
before it is opened), text holding control characters or half a surrogate pair,
a whole number too long to read, and a list of names that gives one twice.

The limits are the module's ``MAX_*`` constants; an environment variable of the
same name prefixed ``FINSIM_`` (``FINSIM_MAX_FILE_BYTES=50000000``) overrides one
(see docs/reliability.md). Each is checked before the work it guards is done, so
a hostile file is refused in bounded time and memory: the values, depth and text of
a document, aliases expanded, are measured from its stream of parsing events before
any of it is built (with libyaml when PyYAML has it, as its wheels do).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from finsim.errors import Problem, ScenarioError, format_path
from finsim.scenario.files import (  # noqa: F401  (re-exported)
    NUL_IN_PATH,
    _check_size,
    file_problem,
    os_problem,
    read_bytes,
    shown_path,
)
from finsim.scenario.limits import (  # noqa: F401  (re-exported)
    MAX_DEPTH,
    MAX_FILE_BYTES,
    MAX_NODES,
    limit,
)
from finsim.scenario.values import (  # noqa: F401  (re-exported)
    MAX_INT_DIGITS,
    _literal_digits,
    _long_number,
    _shown_value,
    check_data,
    duplicates_problem,
    number_problem,
    text_problem,
)

PathKey = tuple[str | int, ...]


def read_yaml(path: Path) -> tuple[Any, dict[PathKey, int]]:
    """Return (data, line of each field path) for a YAML file.

    Raises ScenarioError naming the file for anything that is not readable YAML, and for a
    path that is not a regular file (a folder, a device such as /dev/zero, a named pipe):
    those are refused from ``os.stat`` before they are opened, and a file is read no further
    than the size limit.
    """
    name = shown_path(path)
    return parse_yaml(decode_text(read_bytes(path), name), name)


def decode_text(data: bytes, name: str) -> str:
    """The bytes as UTF-8 text (a byte-order mark allowed), or one error at the bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError.single(
            "(file)",
            f"cannot read the file as UTF-8: {exc.reason} at byte {exc.start:,}",
            name,
            line,
        ) from None


#: What is wrong with a path holding a NUL character.


class _Constructing:
    """Construction that names the line of a value PyYAML's constructors cannot build."""

    recursive_objects: dict[Any, Any]

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # PyYAML's constructors raise IndexError, KeyError, ValueError... for some values they
        # refuse ('!!float' alone, '!!bool x'): make each a YAML error that names its line
        try:
            return super().construct_object(node, deep)  # type: ignore[misc]
        except yaml.YAMLError:
            raise
        except Exception as exc:
            self.recursive_objects.pop(node, None)  # (left behind by the failed construction)
            tag = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            detail = f" ({exc})" if type(exc) is ValueError else ""  # (its words are for people)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {tag} {_shown_value(node.value)}{detail}", node.start_mark
            ) from None


class _Loader(_Constructing, yaml.SafeLoader):
    """The safe loader (pure Python)."""


#: libyaml's parser when PyYAML was built with it (its wheels are): the same YAML read ten
#: times faster, so that a file at the limits is refused in a second or two.
_FAST: type[Any] | None = None
if getattr(yaml, "__with_libyaml__", False):

    class _FastLoader(_Constructing, yaml.CSafeLoader):  # type: ignore[misc,name-defined]
        """The safe loader, parsed and composed by libyaml."""

    _FAST = _FastLoader


def _too_big(
    what: str, name: str, line: int | None = None, expanded: bool = False
) -> ScenarioError:
    aliases = " once its aliases are expanded" if expanded else ""
    if what == "nodes":
        most = limit("MAX_NODES")
        message = f"the document holds more than {most:,} values{aliases}" + (
            " (aliases repeated too often?)" if expanded else ""
        )
        message += " (limit: FINSIM_MAX_NODES)"
    elif what == "text":
        most = limit("MAX_FILE_BYTES")
        message = f"the document holds more than {most:,} characters of text{aliases}" + (
            " (aliases of long text repeated too often?)" if expanded else ""
        )
        message += " (limit: FINSIM_MAX_FILE_BYTES)"
    else:
        most = limit("MAX_DEPTH")
        message = f"values are nested more than {most} deep{aliases} (limit: FINSIM_MAX_DEPTH)"
    return ScenarioError.single("(file)", message, name, line)


def parse_yaml(text: str, name: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse YAML text; see :func:`read_yaml`."""
    if len(text) > limit("MAX_FILE_BYTES") // 4:  # (a character is 1-4 bytes)
        _check_size(len(text.encode("utf-8", "surrogatepass")), name)
    bad = _NOT_ALLOWED.search(text)
    if bad is not None:  # a control character: refused before parsing
        line = text.count("\n", 0, bad.start()) + 1
        raise ScenarioError.single(
            "(file)",
            f"not valid YAML: character #x{ord(bad.group()):04x} is not allowed in a YAML file",
            name,
            line,
        )
    if _FAST is not None:
        try:
            return _parse(text, name, _FAST)
        except _Unparsable:
            pass  # libyaml refused it: PyYAML says what is wrong in its own words (or reads it)
    try:
        return _parse(text, name, _Loader)
    except _Unparsable as exc:
        raise _not_yaml(exc.error, name) from None


class _Unparsable(Exception):
    """The parser refused the text (``error``, its YAMLError)."""

    def __init__(self, error: yaml.YAMLError) -> None:
        super().__init__(error)
        self.error = error


def _parse(text: str, name: str, loader_class: type[Any]) -> tuple[Any, dict[PathKey, int]]:
    _measure(text, name, loader_class)
    loader = loader_class(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _Unparsable(exc) from None
        if node is None:
            raise ScenarioError.single(
                "(file)",
                "the file is empty: expected a mapping with 'scenario' and 'organisations'",
                name,
            )
        lines: dict[PathKey, int] = {}
        problems: list[Problem] = []
        budget = [limit("MAX_NODES")]
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


#: What YAML does not allow written raw in a file (PyYAML's own test): control characters but
#: tab and line breaks, and half a surrogate pair.
_NOT_ALLOWED = yaml.reader.Reader.NON_PRINTABLE


def _measure(text: str, name: str, loader_class: type[Any]) -> None:
    """Refuse a document too large, too deep or holding too much text once its aliases are
    expanded, or one that contains itself, from its stream of parsing events: nothing is built,
    and the first event past a limit stops the reading.

    An alias stands for the whole value its anchor names, so each anchor's expanded size
    (values, characters of text, depth) is measured once, when its value ends, and counted
    again wherever an alias repeats it: a "billion laughs" is refused without expanding it.
    """
    most_nodes = limit("MAX_NODES")
    most_depth = limit("MAX_DEPTH")
    most_text = limit("MAX_FILE_BYTES")
    anchors: dict[str, tuple[int, int, int]] = {}  # expanded (values, characters, depth)
    open_anchors: set[str] = set()  # of the values being read (an alias to one is a cycle)
    # open lists and mappings: [anchor, values and characters before it, deepest level in it]
    stack: list[list[Any]] = []
    nodes = chars = 0
    expanded = False
    starts = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
    ends = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
    parser = loader_class(text)
    try:
        more, get = parser.check_event, parser.get_event
        while more():
            event = get()
            kind = type(event)
            if kind is yaml.ScalarEvent:
                nodes += 1
                chars += len(event.value)
                level = len(stack) + 1
                if event.anchor:
                    anchors[event.anchor] = (1, len(event.value), 1)
            elif kind in starts:
                nodes += 1
                level = len(stack) + 1
                stack.append([event.anchor, nodes - 1, chars, level])
                if event.anchor:
                    open_anchors.add(event.anchor)
            elif kind in ends:
                anchor, nodes_before, chars_before, deepest = stack.pop()
                if stack and deepest > stack[-1][3]:
                    stack[-1][3] = deepest
                if anchor:
                    open_anchors.discard(anchor)
                    anchors[anchor] = (
                        nodes - nodes_before,
                        chars - chars_before,
                        deepest - len(stack),
                    )
                continue
            elif kind is yaml.AliasEvent:
                if event.anchor in open_anchors:
                    raise ScenarioError.single(
                        "(file)",
                        "an alias is used inside the value it names: the document would "
                        "contain itself",
                        name,
                        event.start_mark.line + 1,
                    )
                # (an alias to no anchor is the composer's error to report)
                n, c, depth = anchors.get(event.anchor or "", (1, 0, 1))
                nodes += n
                chars += c
                level = len(stack) + depth
                expanded = True
            else:  # the start and end of the stream and of documents
                continue
            if nodes > most_nodes:
                raise _too_big("nodes", name, event.start_mark.line + 1, expanded)
            if chars > most_text:
                raise _too_big("text", name, event.start_mark.line + 1, expanded)
            if level > most_depth:
                raise _too_big("depth", name, event.start_mark.line + 1, expanded)
            if stack and level > stack[-1][3]:
                stack[-1][3] = level
    except yaml.YAMLError as exc:
        raise _Unparsable(exc) from None
    finally:
        parser.dispose()


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
    if node.tag == _STR_TAG:
        return node.value  # (what the constructor would build, without its bookkeeping)
    try:
        return loader.construct_object(node)
    except yaml.YAMLError:  # the merge key '<<', or a tag refused later anyway
        return node.value


def _walk(
    loader: Any,
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
            problems.append(_too_big("nodes", name, expanded=True).problems[0])
        return
    # a mapping entry was recorded at its key's line, where a reader looks for it
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            wrong = _scalar_problem(key_node)
            if wrong:  # (at the mapping's path: the key itself is not fit to show)
                problems.append(Problem(format_path(path), f"a key: {wrong}", name, line))
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
        texts = [
            item.value
            for item in node.value
            if isinstance(item, yaml.ScalarNode) and item.tag == _STR_TAG
        ]
        if len(texts) == len(node.value):
            repeated = duplicates_problem(texts)
            if repeated is not None:
                at, message = repeated
                line = node.value[at].start_mark.line + 1
                problems.append(Problem(format_path(path), message, name, line))
        for i, item in enumerate(node.value):
            _walk(loader, item, path + (i,), lines, problems, name, budget)
    else:
        wrong = _scalar_problem(node)
        if wrong:
            problems.append(Problem(format_path(path), wrong, name, lines[path]))


_STR_TAG = "tag:yaml.org,2002:str"
_INT_TAG = "tag:yaml.org,2002:int"


def _scalar_problem(node: yaml.Node) -> str:
    """What is wrong with a scalar's text (see :func:`text_problem`), or with a whole number
    too long to read; '' if nothing is."""
    if not isinstance(node, yaml.ScalarNode):
        return ""
    wrong = text_problem(node.value)
    if wrong or node.tag != _INT_TAG or len(node.value) <= 1000:
        return wrong
    digits = _literal_digits(node.value)
    return _long_number(digits, "about ") if digits > MAX_INT_DIGITS else ""
