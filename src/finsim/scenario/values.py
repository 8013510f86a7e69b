"""What no text, number or list of names in a scenario may be (checked on plain data too)."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from finsim.errors import Problem, ScenarioError, format_path

PathKey = tuple[str | int, ...]

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
