"""The problems found while reading a workbook's rows, each naming its sheet and cell."""

from __future__ import annotations

from collections.abc import Iterator

from finsim.errors import Problem, ScenarioError
from finsim.scenario.limits import limit
from finsim.workbook.cells import Row, at, get


class Report:
    """Collects the problems of a workbook (``name``, as shown) and counts the cells read
    against the FINSIM_MAX_NODES limit."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []
        self.budget = limit("MAX_NODES")

    def problem(self, where: str, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(where, message, self.name, None, suggestion))

    def rows(self, rows: Iterator[Row], start: int) -> Iterator[tuple[int, Row]]:
        for r, row in enumerate(rows, start=start):
            self.budget -= len(row)
            if self.budget < 0:
                raise ScenarioError.single(
                    "(file)",
                    f"the workbook holds more than {limit('MAX_NODES'):,} cells (limit: "
                    "FINSIM_MAX_NODES)",
                    self.name,
                )
            yield r, row

    def stray(self, title: str, r: int, row: Row, header: Row) -> None:
        """A value in a column without a name would be lost: it is a problem."""
        for j, value in enumerate(row):
            if get(row, j) is not None and get(header, j) is None:
                self.problem(
                    f"{title}!{at(j, r)}",
                    f"a value ({value!r}) in a column without a name in row 1: name the "
                    "column, or start its name with '_' to have it skipped",
                )
                return

    def nothing_else(self, title: str, r: int, row: Row, columns: list[int | None]) -> None:
        """A row without its path or key: its other cells must be empty too."""
        for j in columns:
            if j is not None and get(row, j) is not None:
                self.problem(f"{title}!{at(j, r)}", "a value in a row that names nothing")
                return
