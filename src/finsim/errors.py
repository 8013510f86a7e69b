"""The errors finsim raises for a user's mistakes.

A scenario file is written by hand, often in a hurry. ``ScenarioError`` lists
every problem found at once, each naming the file, the line where it can be
found, the field path (``contracts[3].provider``), what was expected and, for
a misspelt id or key, what was probably meant.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def format_path(parts: Sequence[str | int]) -> str:
    """Render a field path the way a reader of the YAML file would write it.

    >>> format_path(("contracts", 3, "provider"))
    'contracts[3].provider'
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """Return the closest of ``choices`` to ``word``, if any is close enough."""
    matches = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return matches[0] if matches else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario."""

    path: str
    message: str
    file: str | None = None
    line: int | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
        text = f"{where}: {self.path}: {self.message}"
        if self.suggestion:
            text += f" (did you mean '{self.suggestion}'?)"
        return text


@dataclass(eq=False)  # an exception compares (and hashes) by identity
class ScenarioError(Exception):
    """A scenario (file, variant or option) that finsim cannot use.

    ``problems`` holds every problem found, not just the first.
    """

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        # args hold the problems so that a copy made by type(exc)(*exc.args), as SimPy
        # makes when a process fails, is the same error
        super().__init__(self.problems)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''} in scenario:"
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])

    @classmethod
    def single(
        cls,
        path: str,
        message: str,
        file: str | None = None,
        line: int | None = None,
        suggestion: str | None = None,
    ) -> ScenarioError:
        """Build an error holding one problem."""
        return cls([Problem(path, message, file, line, suggestion)])


class ResultsError(Exception):
    """A results folder that finsim cannot read or write."""


class RunInterrupted(ResultsError):
    """A run that stopped before it finished because a worker process died (killed, or out
    of memory). A run writing to a results folder (``out=``) keeps every finished chunk there,
    and ``resume=True`` (``finsim run ... --resume``) finishes it."""
