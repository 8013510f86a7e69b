"""Running a scenario for the explorer, reporting progress as chunks of replications finish.

:func:`finsim.run` reports progress as a tqdm bar on standard error (``progress=True``),
one step per finished chunk of replications, and shows none for a run of one chunk (a
small scenario's 1,000 replications run as one chunk, in well under a second). The
explorer reads that bar rather than reaching into the runner: while it runs, standard
error goes to :class:`ProgressReader`, which hands each "done/total" the bar prints to a
callback (the page's progress bar) and passes anything else on to the real standard error.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from finsim.results import Results
    from finsim.scenario import Scenario

#: "done/total [" as tqdm prints it after the bar ("finsim:  40%|####  | 4/10 [00:01<...").
_COUNT = re.compile(r"(?:^|\s)(\d+)/(\d+) \[")

#: Standard error is one per process: one run at a time redirects it (the explorer serves
#: several browser tabs from threads of one process).
_ONE_AT_A_TIME = threading.Lock()

#: Called with (chunks done, chunks in all) as the run goes.
Progress = Callable[[int, int], None]


class ProgressReader(io.TextIOBase):
    """A text stream standing in for standard error while a run goes: each "done/total"
    that tqdm writes goes to ``report``; other text is passed on to ``passed_on``."""

    # tqdm draws its bar in Unicode blocks on a stream that says it is UTF-8
    encoding = "utf-8"

    def __init__(self, report: Progress, passed_on: TextIO) -> None:
        super().__init__()
        self._report = report
        self._passed_on = passed_on

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        progress = False
        for part in re.split(r"[\r\n]", text):
            found = _COUNT.search(part)
            if found:
                progress = True
                self._report(int(found.group(1)), int(found.group(2)))
        if not progress and text.strip("\r\n\x1b[A "):
            self._passed_on.write(text)
        return len(text)

    def flush(self) -> None:
        self._passed_on.flush()


@dataclass(frozen=True)
class Run:
    """A finished run and what it was asked: the results, the seconds it took."""

    results: Results
    seconds: float


def run(
    scenario: Scenario,
    replications: int,
    seed: int,
    report: Progress | None = None,
    chunk_size: int | None = None,
) -> Run:
    """Run ``scenario`` with :func:`finsim.run` (serial: the explorer shares its process
    with the web server), calling ``report(done, total)`` as chunks of replications finish
    (``chunk_size``: as finsim.run, by default chosen by the scenario's size).

    Raises what :func:`finsim.run` raises: a :class:`finsim.ScenarioError` (UsageError) for
    a bad option such as ``replications=0``.
    """
    import finsim

    started = time.perf_counter()
    with _ONE_AT_A_TIME:
        if report is None:
            results = finsim.run(
                scenario, replications, seed, chunk_size=chunk_size, progress=False
            )
        else:
            reader = ProgressReader(report, sys.stderr)
            with contextlib.redirect_stderr(reader):
                results = finsim.run(
                    scenario, replications, seed, chunk_size=chunk_size, progress=True
                )
    return Run(results, time.perf_counter() - started)
