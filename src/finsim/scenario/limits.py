"""The largest scenario finsim reads: every ``MAX_*`` limit, and the counts and numbers of a
document checked before it is validated.

An environment variable of the same name prefixed ``FINSIM_`` (``FINSIM_MAX_FILE_BYTES=50000000``)
overrides a limit (see docs/reliability.md); otherwise it is this module's constant, read
when the limit is checked.
"""

from __future__ import annotations

import math
import os
from typing import Any

from finsim.errors import ScenarioError

PathKey = tuple[str | int, ...]

#: Largest scenario file read, in bytes.
MAX_FILE_BYTES = 20_000_000
#: Most YAML values (keys, scalars, lists and mappings) in one file, counting each alias
#: expansion: the largest shipped example, England-sized, has about 50,000. (The text of a
#: document, aliases expanded, is limited to MAX_FILE_BYTES characters.)
MAX_NODES = 500_000
#: Deepest nesting of mappings and lists, aliases expanded (scenarios need about 10).
MAX_DEPTH = 50

#: Most organisations (regions, systems, commissioners and providers) in a scenario.
MAX_ORGANISATIONS = 10_000
#: Most contracts in a scenario.
MAX_CONTRACTS = 50_000
#: Most variants in a scenario (each is validated whole when the file is read).
MAX_VARIANTS = 100
#: Largest number (in size) a scenario may hold: money, activity, rates and counts alike.
#: Far above any real figure, it keeps a run's arithmetic finite (products of a few inputs
#: cannot overflow).
MAX_NUMBER = 1e12


def limit(name: str, default: int | None = None) -> int:
    """The limit ``name`` (``"MAX_NODES"``): ``FINSIM_<name>`` from the environment if set,
    else ``default``, by default this module's constant ``name`` (read when the limit is
    checked, so that a test may set it)."""
    if default is None:
        default = int(globals()[name])
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


def _over_limits(data: dict[str, Any]) -> list[tuple[PathKey, str, str | None]]:
    """Problems with a document larger than finsim runs (see MAX_ORGANISATIONS...), found
    before any of it is validated."""
    counted: list[tuple[PathKey, str, int, str, int]] = []
    orgs = data.get("organisations")
    if isinstance(orgs, dict):
        groups = [orgs.get(g) for g in ("regions", "systems", "commissioners", "providers")]
        n = sum(len(g) for g in groups if isinstance(g, list))
        counted.append(
            (("organisations",), "organisations", n, "MAX_ORGANISATIONS", MAX_ORGANISATIONS)
        )
    for key, name, default in (
        ("contracts", "MAX_CONTRACTS", MAX_CONTRACTS),
        ("variants", "MAX_VARIANTS", MAX_VARIANTS),
    ):
        value = data.get(key)
        if isinstance(value, list | dict):
            counted.append(((key,), key, len(value), name, default))
    found: list[tuple[PathKey, str, str | None]] = []
    for path, what, n, name, default in counted:
        most = limit(name, default)
        if n > most:
            found.append((path, f"{n:,} {what}; the limit is {most:,} (FINSIM_{name})", None))
    return found + _too_large_numbers(data)


def _short(number: float) -> str:
    return f"{number:g}".replace("e+", "e")


def _too_large_numbers(data: Any, most_shown: int = 20) -> list[tuple[PathKey, str, str | None]]:
    """Numbers larger in size than MAX_NUMBER (non-finite ones are the models' to report)."""
    largest = limit("MAX_NUMBER", int(MAX_NUMBER))
    found: list[tuple[PathKey, str, str | None]] = []
    stack: list[tuple[PathKey, Any]] = [((), data)]
    while stack and len(found) < most_shown:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((path + (k,), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, int) and abs(value) > largest:
                shown = (
                    f"{value:.3e}"
                    if abs(value) < 1e300
                    else f"a number of {len(str(abs(value)))} digits"
                )
            elif isinstance(value, float) and math.isfinite(value) and abs(value) > largest:
                shown = f"{value:.3e}"
            else:
                continue
            found.append(
                (
                    path,
                    f"expected a number of size at most {_short(largest)} (FINSIM_MAX_NUMBER), got {shown}",
                    None,
                )
            )
    return found
