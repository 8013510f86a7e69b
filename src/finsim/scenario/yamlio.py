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

import errno
import math
import os
import re
import stat
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from finsim.errors import Problem, ScenarioError, format_path

#: Largest scenario file read, in bytes.
MAX_FILE_BYTES = 20_000_000
#: Most YAML values (keys, scalars, lists and mappings) in one file, counting each alias
#: expansion: the largest shipped example, England-sized, has about 50,000. (The text of a
#: document, aliases expanded, is limited to MAX_FILE_BYTES characters.)
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

    Raises ScenarioError naming the file for anything that is not readable YAML, and for a
    path that is not a regular file (a folder, a device such as /dev/zero, a named pipe):
    those are refused from ``os.stat`` before they are opened, and a file is read no further
    than the size limit.
    """
    name = shown_path(path)
    data = read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ScenarioError.single(
            "(file)",
            f"cannot read the file as UTF-8: {exc.reason} at byte {exc.start:,}",
            name,
            line,
        ) from None
    return parse_yaml(text, name)


#: What is wrong with a path holding a NUL character.
NUL_IN_PATH = "the path holds a NUL character (\\x00), which no path can"


def file_problem(path: Path) -> str | None:
    """What stops ``path`` being read as a scenario file, from ``os.stat`` alone (nothing is
    opened): missing, a path too long for the system, a loop of symbolic links, a folder that
    may not be entered, or not a regular file (a folder, a device, a named pipe); None if none.
    """
    try:
        mode = os.stat(path).st_mode
    except ValueError:  # (Python refuses a path holding a NUL before asking the system)
        return NUL_IN_PATH
    except OSError as exc:
        return os_problem(exc)
    if stat.S_ISREG(mode):
        return None
    return f"expected a scenario file, got {_file_kind(mode)}"


def os_problem(exc: OSError) -> str:
    """An error of the system about a path, in words."""
    reasons = {
        errno.ENOENT: "file not found",
        errno.ENAMETOOLONG: "the path, or a part of it, is longer than this system allows",
        errno.ELOOP: "the path goes round a loop of symbolic links",
        errno.EACCES: "permission denied (a folder on the path cannot be entered, or the file "
        "cannot be read)",
        errno.EPERM: "permission denied",
        errno.ENOTDIR: "a part of the path is a file, not a folder",
    }
    return reasons.get(exc.errno or 0) or str(exc.strerror or exc)


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISCHR, "a device"),
        (stat.S_ISBLK, "a device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return kind
    return "something that is not a regular file"


def read_bytes(path: Path) -> bytes:
    """The bytes of a scenario file, checked to be a regular file within the size limit before
    (and while) it is read. Raises ScenarioError naming the file."""
    name = shown_path(path)
    problem = file_problem(path)
    if problem is not None:
        raise ScenarioError.single("(file)", problem, name)
    # not blocking: should the path turn into a named pipe after the check, opening it does
    # not wait for a writer, and it is refused below
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ScenarioError.single("(file)", os_problem(exc), name) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ScenarioError.single(
                "(file)", f"expected a scenario file, got {_file_kind(info.st_mode)}", name
            )
        _check_size(info.st_size, name)
        most = limit("MAX_FILE_BYTES", MAX_FILE_BYTES)
        parts: list[bytes] = []
        size = 0
        while True:  # no further than the limit, should the file grow while it is read
            part = os.read(fd, min(1 << 20, most + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
            if size > most:
                _check_size(size, name)
    except OSError as exc:
        raise ScenarioError.single("(file)", os_problem(exc), name) from None
    finally:
        os.close(fd)
    return b"".join(parts)


def shown_path(path: Path | str, most: int = 1000) -> str:
    """``path`` as text for a message: in full, or its start and end if it is very long; a
    control character in it is shown as its escape, never sent to the terminal."""
    text = _UNFIT.sub(lambda found: ascii(found.group())[1:-1], str(path))  # ("\\x00", not NUL)
    if len(text) <= most:
        return text
    return f"{text[: most // 2]}...{text[-most // 2 :]} ({len(text):,} characters)"


def _check_size(size: int, name: str) -> None:
    most = limit("MAX_FILE_BYTES", MAX_FILE_BYTES)
    if size > most:
        raise ScenarioError.single(
            "(file)",
            f"file is {size:,} bytes; the limit is {most:,} (FINSIM_MAX_FILE_BYTES)",
            name,
        )


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
        most = limit("MAX_NODES", MAX_NODES)
        message = f"the document holds more than {most:,} values{aliases}" + (
            " (aliases repeated too often?)" if expanded else ""
        )
        message += " (limit: FINSIM_MAX_NODES)"
    elif what == "text":
        most = limit("MAX_FILE_BYTES", MAX_FILE_BYTES)
        message = f"the document holds more than {most:,} characters of text{aliases}" + (
            " (aliases of long text repeated too often?)" if expanded else ""
        )
        message += " (limit: FINSIM_MAX_FILE_BYTES)"
    else:
        most = limit("MAX_DEPTH", MAX_DEPTH)
        message = f"values are nested more than {most} deep{aliases} (limit: FINSIM_MAX_DEPTH)"
    return ScenarioError.single("(file)", message, name, line)


def parse_yaml(text: str, name: str) -> tuple[Any, dict[PathKey, int]]:
    """Parse YAML text; see :func:`read_yaml`."""
    if len(text) > limit("MAX_FILE_BYTES", MAX_FILE_BYTES) // 4:  # (a character is 1-4 bytes)
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
    most_nodes = limit("MAX_NODES", MAX_NODES)
    most_depth = limit("MAX_DEPTH", MAX_DEPTH)
    most_text = limit("MAX_FILE_BYTES", MAX_FILE_BYTES)
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


# -- what no text or number in a scenario may be -------------------------------------------------

#: Most digits in a whole number: Python's own limit for reading or printing one in decimal
#: (``sys.get_int_max_str_digits``). Every number a scenario uses is far smaller (FINSIM_MAX_NUMBER).
MAX_INT_DIGITS = 4300

_SURROGATE = re.compile("[\ud800-\udfff]")
#: Control characters, but tab, line feed and carriage return: C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_UNFIT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def text_problem(text: str) -> str:
    """What is wrong with a text of the scenario (a name, a description, an id, a key), or ''.

    Half a UTF-16 surrogate pair ("\\ud800") is not a character (and could not be written to
    a results file). A control character written as an escape ("\\x1b[2J", "\\x07") would act
    on the terminal that shows the name (clear the screen, set the window's title...) and
    cannot be written to a spreadsheet; tab and line breaks are allowed.
    """
    if _UNFIT.search(text) is None:  # (one search for the usual case: nothing wrong)
        return ""
    found = _SURROGATE.search(text)
    if found is not None:
        return (
            f"text holds {ascii(found.group())}, half of a UTF-16 surrogate pair and not a "
            "character: write the character itself"
        )
    found = _CONTROL.search(text)
    if found is not None:
        return (
            f"text holds the control character {ascii(found.group())}, which would act on a "
            "terminal showing it and cannot be written to a spreadsheet: remove it (tab and "
            "line breaks are allowed)"
        )
    return ""


def _literal_digits(value: str) -> int:
    """At least as many decimal digits as the whole number YAML reads from ``value`` has (the
    number itself is not built: a base-60 literal of millions of parts takes hours)."""
    written = value.replace("_", "").lstrip("+-")
    if ":" in written:  # base 60 (YAML 1.1): each further part multiplies by 60
        parts = written.split(":")
        return len(parts[0].lstrip("0")) + math.ceil((len(parts) - 1) * math.log10(60))
    bits = {"0b": 1, "0x": 4, "0o": 3}.get(written[:2])
    if bits is None and written.startswith("0") and len(written) > 1:
        bits, written = 3, "0o" + written[1:]  # (YAML 1.1's octal: 0777)
    if bits is None:
        return len(written.lstrip("0"))
    return math.ceil(len(written[2:].lstrip("0")) * bits * math.log10(2))


def _long_number(digits: int, about: str = "") -> str:
    return (
        f"a whole number of {about}{digits:,} digits is too long to read: expected at most "
        f"{MAX_INT_DIGITS:,} digits (and no number a scenario uses is near that size)"
    )


def number_problem(number: int) -> str:
    """What is wrong with a whole number too long to read or print, or ''."""
    if number.bit_length() <= MAX_INT_DIGITS * 3:  # (fewer than 904 digits: quick)
        return ""
    digits = math.floor(number.bit_length() * math.log10(2)) + 1
    return _long_number(digits, "about ") if digits > MAX_INT_DIGITS else ""


def duplicates_problem(texts: list[str]) -> tuple[int, str] | None:
    """(where the first repeat is, what is wrong) for a list of names giving one name more than
    once, or None.

    Every list of text in a scenario names different things (ids, points of delivery, rules,
    steps, years): a name given twice is a slip, and given 60,000 times it would make finsim
    apply a rule 60,000 times.
    """
    if len(texts) < 2:
        return None
    counts = Counter(texts)
    if len(counts) == len(texts):
        return None
    seen: set[str] = set()
    first = 0
    for i, text in enumerate(texts):
        if text in seen:
            first = i
            break
        seen.add(text)
    repeated = [(text, n) for text, n in counts.items() if n > 1]
    shown = ", ".join(
        f"{_shown_value(text)} {'twice' if n == 2 else f'{n:,} times'}" for text, n in repeated[:3]
    )
    more = f" and {len(repeated) - 3:,} more" if len(repeated) > 3 else ""
    return first, f"a list of names gives {shown}{more}: expected each name once"


def _shown_value(value: Any, most: int = 60) -> str:
    """``repr(value)``, shortened to about ``most`` characters."""
    text = repr(value) if len(str(value)) <= most else repr(str(value)[:most]) + "..."
    return text


def check_data(data: Any, source: str) -> None:
    """Apply the checks a YAML file's values get (:func:`text_problem`, whole numbers too long
    to read, names listed twice) to a scenario given as data; raise ScenarioError."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[tuple[PathKey, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, dict | list):
            if id(value) in seen:  # (the same value twice, or inside itself: once is enough)
                continue
            seen.add(id(value))
        wrong = ""
        if isinstance(value, dict):
            for key, item in reversed(list(value.items())):
                bad_key = _value_problem(key)
                if bad_key:
                    problems.append(Problem(format_path(path), f"a key: {bad_key}", source))
                else:
                    stack.append(((*path, key), item))
        elif isinstance(value, list):
            if value and all(type(item) is str for item in value):
                repeated = duplicates_problem(value)
                wrong = repeated[1] if repeated is not None else ""
            stack.extend(((*path, i), item) for i, item in reversed(list(enumerate(value))))
        else:
            wrong = _value_problem(value)
        if wrong:
            problems.append(Problem(format_path(path), wrong, source))
    if problems:
        raise ScenarioError(problems)


def _value_problem(value: Any) -> str:
    if isinstance(value, str):
        return text_problem(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return number_problem(value)
    return ""
