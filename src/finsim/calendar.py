"""Financial years, months and quarters as the NHS counts them.

The NHS financial year runs from 1 April to 31 March and is written "2018/19".
Months are counted within the year, M1 (April) to M12 (March); quarters Q1
(April-June) to Q4 (January-March). finsim's clock counts months from the first
month of the first simulated year: tick ``t`` is month ``t % 12 + 1`` of year
index ``t // 12``.

The financial year, not the calendar year, is the unit for dated parameters:
a value given for "2018/19" applies from 1 April 2018.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MONTHS_PER_YEAR = 12
MONTH_NAMES = ("Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Jan", "Feb", "Mar")

_FY_PATTERN = re.compile(r"^(\d{4})/(\d{2})$")


def parse_fy(label: str) -> int:
    """Return the starting calendar year of a financial year label.

    >>> parse_fy("2018/19")
    2018

    Raises ``ValueError`` for anything that is not a financial year, such as
    "2018/20", "2018-19" or "18/19".
    """
    if not isinstance(label, str):
        raise ValueError(f"expected a financial year label like '2018/19', got {label!r}")
    match = _FY_PATTERN.match(label.strip())
    if not match:
        raise ValueError(f"expected a financial year label like '2018/19', got {label!r}")
    start, end = int(match.group(1)), int(match.group(2))
    if (start + 1) % 100 != end:
        raise ValueError(
            f"'{label}' is not a financial year: the second part should be "
            f"{(start + 1) % 100:02d}, the year after {start}"
        )
    return start


def fy_label(start_year: int) -> str:
    """Return the label of the financial year that starts in April of ``start_year``.

    >>> fy_label(2018)
    '2018/19'
    """
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def month_label(month: int) -> str:
    """Return "M7 (Oct)" for month 7 of a financial year."""
    return f"M{month} ({MONTH_NAMES[month - 1]})"


def quarter_of(month: int) -> int:
    """Return the quarter (1-4) holding month ``month`` (1-12) of a financial year."""
    return (month - 1) // 3 + 1


@dataclass(frozen=True)
class Calendar:
    """The simulated span: ``n_years`` financial years from ``start_year``.

    ``accounts_close_month`` is the month of the *following* year at whose end a
    year's accounts close (2 means the end of May). Until then a posting that
    belongs to the previous year is booked to it; afterwards it is a prior-year
    item in the year in which it happens.
    """

    start_year: int
    n_years: int
    accounts_close_month: int = 2

    @property
    def n_months(self) -> int:
        return self.n_years * MONTHS_PER_YEAR

    @property
    def labels(self) -> list[str]:
        """The financial year labels, in order."""
        return [fy_label(self.start_year + i) for i in range(self.n_years)]

    def fy_index(self, label: str) -> int:
        """Return the position of a year label in the simulated span (may be outside it)."""
        return parse_fy(label) - self.start_year

    def tick(self, fy: int, month: int) -> int:
        """Return the clock tick of month ``month`` (1-12) of year index ``fy``."""
        return fy * MONTHS_PER_YEAR + month - 1

    @staticmethod
    def split(tick: int) -> tuple[int, int]:
        """Return (year index, month 1-12) of clock tick ``tick``."""
        return tick // MONTHS_PER_YEAR, tick % MONTHS_PER_YEAR + 1

    def is_open(self, fy: int, now_tick: int) -> bool:
        """Whether year ``fy``'s accounts still accept postings at tick ``now_tick``."""
        now_fy, now_month = self.split(now_tick)
        if now_fy == fy:
            return True
        return now_fy == fy + 1 and now_month <= self.accounts_close_month
