"""The units of the numbers in a scenario file: one vocabulary for every model.

Every number a scenario file holds is typed with one of these units, which sets its
bounds, its error messages and its JSON Schema (``"unit": "share"`` and a description,
beside the usual ``minimum`` and ``maximum``):

* **money**: GBP million (``46.0`` is £46.0m); at least 0, but control totals and the
  moves between them may be negative;
* **price**: GBP, not millions, per unit of activity or per head; at least 0;
* **count**: people, units of activity, years, months, replications, places; at least 0;
* **share**: a part of a whole, or a chance, as a fraction (``0.7`` is 70%); 0 to 1;
* **rate**: a ratio that may be 1 or more: a multiplier (the market forces factor,
  demand against plan), GBP per GBP, a standard deviation of a log; at least 0 unless
  the field says otherwise (a distance from target may be down to -1);
* **growth**: a change into a year, as a fraction of the year before (``0.03``); from
  -1 to below 1;
* **weight**: a relative weight, of which only the ratio to the others counts; at least 0;
* **month**: a month of the financial year, 1 = April ... 12 = March;
* **rank**: an order, not an amount: a deprivation quintile, a bid's score;
* **as_path**: an uncertain input's range, in the unit of the number it stands for.

**Percentages.** A share, rate or growth may be written as a percentage in text,
``"70%"`` (YAML reads ``70%`` unquoted as text too): it means 0.70, converted exactly
(``"3.1%"`` is the number written ``0.031``). A value that is plainly a percentage
written as a whole number, one above the field's upper bound whose hundredth is within
its bounds, is refused with the fix: ``got 70: write 0.70 (or "70%")``. Finance shares
of 70 and uplifts of 3 were otherwise read as 7,000% and 300%, and billed or paid
without complaint.

**Growth** must be at least -1 (-100%: a value falls to zero; below, money, activity
and populations would turn negative) and below 1: a growth of 100% a year or more is
not a real uplift, inflation or demand growth, but almost always a percentage written
as a whole number (``3`` for 3%), which is refused with the hint. A *limit* on growth
(a pace-of-change floor or cap) may be exactly 1, the "no cap" some files write for a
year in which no limit applies.

Use the ``Annotated`` types below in a model (``share: Share``), or a unit with narrower
bounds (``sd: Annotated[float, SHARE(le=0.5)]``); per-year parameters take their unit
from their class (:mod:`finsim.scenario.params`). ``tests/test_units.py`` walks the JSON
Schema of every registered mechanism and fails on any number without a unit.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

#: A percentage written as text: a number then '%' ("70%", "2.5 %", "-1%"), at most 12 digits
#: before the point (up to 10^10, inside the size limit finsim puts on every number).
PERCENT_PATTERN = r"^\s*[+-]?(\d{1,12}(\.\d{0,30})?|\.\d{1,30})\s*%\s*$"
_PERCENT = re.compile(PERCENT_PATTERN)


def not_finite(value: int | float) -> str | None:
    """How to show a number that is not finite (inf, nan, or a whole number too large for a
    float) in a message; None when it is finite."""
    try:
        if math.isfinite(value):
            return None
    except OverflowError:  # a whole number too large for a float
        return f"a number of {len(str(abs(value)))} digits"
    return str(value)


class UnitError(ValueError):
    """A number that does not fit its unit; the message says what was expected and found."""


@dataclass(frozen=True)
class Unit:
    """What one kind of number means, its bounds, and how it may be written.

    Used as ``Annotated`` metadata: ``Annotated[float, SHARE]``. Call it to narrow the
    bounds for one field: ``SHARE(le=0.5)``.
    """

    name: str
    #: what the number is, for the JSON Schema and the reference page
    description: str
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None
    #: a whole number (JSON Schema ``integer``)
    whole: bool = False
    #: "70%" is accepted, and a percentage written as a whole number gets the hint
    percent: bool = False
    #: words after an upper bound in a message: what 1 means, or the currency
    note: str = ""

    def __call__(self, **changes: Any) -> Unit:
        """This unit with other bounds (or another description) for one field."""
        return dataclasses.replace(self, **changes)

    # -- checking ----------------------------------------------------------------------------
    def what(self) -> str:
        """The forms a value may take, in words: 'a number', 'a whole number'..."""
        if self.whole:
            return "a whole number"
        return 'a number or a percentage such as "70%"' if self.percent else "a number"

    def check(self, value: Any, where: str = "", or_else: str = "") -> float:
        """``value`` as a number of this unit, or :class:`UnitError` saying what is wrong.

        ``where`` follows the bound in messages (" for 2018/19"); ``or_else`` names other
        forms the field takes, in the message for a value of the wrong type.
        """
        number, shown = self._number(value, or_else, where)
        low, low_strict = (self.gt, True) if self.gt is not None else (self.ge, False)
        high, high_strict = (self.lt, True) if self.lt is not None else (self.le, False)
        if low is not None and (number <= low if low_strict else number < low):
            raise UnitError(
                f"expected a number {'>' if low_strict else '>='} {_plain(low)}{where}, got {shown}"
            )
        if high is not None and (number >= high if high_strict else number > high):
            raise UnitError(
                f"expected a number {'<' if high_strict else '<='} {_plain(high)}{where}"
                f"{self.note}, got {shown}{self._hint(value, number)}"
            )
        return number

    def _number(self, value: Any, or_else: str, where: str) -> tuple[Any, str]:
        """The number written (a float, or an int for a whole unit) and how to show it."""
        if isinstance(value, str) and self.percent:
            number = percent_value(value)
            if number is not None:
                return number, f"{value.strip()!r} ({_plain(number)})"
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UnitError(f"expected {self.what()}{or_else}{where}, got {value!r}")
        if self.whole and not isinstance(value, int):
            raise UnitError(f"expected a whole number{or_else}{where}, got {value!r}")
        shown = not_finite(value)
        if shown is not None:
            raise UnitError(f"expected a finite number{where}, got {shown}")
        return (value if self.whole else float(value)), repr(value)

    def _hint(self, value: Any, number: float) -> str:
        """': write 0.70 (or "70%")' when ``value`` is plainly a percentage, else ''."""
        if not self.percent or isinstance(value, str):
            return ""
        hundredth = number / 100
        try:
            self(percent=False).check(hundredth)
        except UnitError:
            return ""
        written = Decimal(repr(float(value)))
        fraction = written / 100
        if fraction == fraction.quantize(Decimal("0.01")):  # 0.7 shown as 0.70
            fraction = fraction.quantize(Decimal("0.01"))
        return f': write {fraction:f} (or "{written.normalize():f}%")'

    # -- pydantic integration ---------------------------------------------------------------
    def _validate(self, value: Any) -> float:
        try:
            return self.check(value)
        except UnitError as exc:
            raise PydanticCustomError("unit", "{msg}", {"msg": str(exc)}) from None

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self._validate)

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return self.json_schema()

    def number_schema(self) -> dict[str, Any]:
        """The JSON Schema of the number alone: its type, bounds and unit."""
        out: dict[str, Any] = {"type": "integer" if self.whole else "number"}
        for bound, key in (
            (self.ge, "minimum"),
            (self.gt, "exclusiveMinimum"),
            (self.le, "maximum"),
            (self.lt, "exclusiveMaximum"),
        ):
            if bound is not None:
                out[key] = int(bound) if self.whole else bound
        out["unit"] = self.name
        return out

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of a value of this unit: the number, or (where percentages are
        allowed) the number or a percentage in text."""
        number = self.number_schema()
        if not self.percent:
            return {**number, "description": self.description}
        text = {"type": "string", "pattern": PERCENT_PATTERN, "unit": self.name}
        return {"anyOf": [number, text], "unit": self.name, "description": self.description}


def _plain(number: float) -> str:
    """A bound or value as written: 1 not 1.0, 0.5 as 0.5."""
    return str(int(number)) if float(number).is_integer() else repr(float(number))


def percent_value(text: str) -> float | None:
    """The number a percentage in text stands for ("70%" -> 0.7, exactly as 0.70 is read),
    or None if ``text`` is not a percentage."""
    if not _PERCENT.match(text):
        return None
    return float(Decimal(text.strip().rstrip("%").strip()) / 100)


# -- the vocabulary ---------------------------------------------------------------------------

MONEY = Unit("money", "GBP million (46.0 is £46.0m)", ge=0)
#: Money that may be negative: control totals (a negative one is the largest deficit allowed).
SIGNED_MONEY = MONEY(ge=None, description="GBP million; negative for a deficit or a move back")
PRICE = Unit("price", "GBP (not millions) per unit of activity or per head", ge=0)
COUNT = Unit("count", "a number of people, units of activity, years, months or places", ge=0)
WHOLE = COUNT(whole=True, description="a whole number of years, months, replications or places")
SHARE = Unit(
    "share",
    'a part of a whole, or a chance: a fraction from 0 to 1 (0.7 or "70%" is 70%)',
    ge=0,
    le=1,
    percent=True,
    note=" (a share: 1 is 100%)",
)
RATE = Unit(
    "rate",
    "a ratio that is not a share: a multiplier, GBP per GBP or a standard deviation "
    '(1.05 or "105%" is 105%)',
    ge=0,
    percent=True,
    note=" (a rate: 1 is 100%)",
)
GROWTH = Unit(
    "growth",
    'a change into a year as a fraction of the year before (0.03 or "3%" is 3% growth), '
    "at least -1 (-100%) and below 1 (100% a year)",
    ge=-1,
    lt=1,
    percent=True,
    note=" (a growth rate: 1 is 100% a year)",
)
#: A floor or cap on growth: up to and including 1, the "no cap" some files write.
GROWTH_LIMIT = GROWTH(
    lt=None,
    le=1,
    description='a limit on growth into a year (0.02 or "2%" is 2%), from -1 (-100%) to 1 (100%)',
)
WEIGHT = Unit("weight", "a relative weight: only its ratio to the others counts", ge=0)
MONTH = Unit(
    "month",
    "a month of the financial year: 1 = April ... 12 = March",
    ge=1,
    le=12,
    whole=True,
    note=" (1 = April, 12 = March)",
)
RANK = Unit("rank", "an order, not an amount: a deprivation quintile, a priority score")
AS_PATH = Unit("as_path", "in the unit of the number the path names")

#: Every unit by name: the vocabulary the JSON Schema's "unit" keys are drawn from.
UNITS: dict[str, Unit] = {
    u.name: u for u in (MONEY, PRICE, COUNT, SHARE, RATE, GROWTH, WEIGHT, MONTH, RANK, AS_PATH)
}

Money = Annotated[float, MONEY]
SignedMoney = Annotated[float, SIGNED_MONEY]
Price = Annotated[float, PRICE]
Count = Annotated[float, COUNT]
WholeCount = Annotated[int, WHOLE]
Share = Annotated[float, SHARE]
Rate = Annotated[float, RATE]
GrowthRate = Annotated[float, GROWTH]
Weight = Annotated[float, WEIGHT]
Month = Annotated[int, MONTH]
Rank = Annotated[float, RANK]
AsPath = Annotated[float, AS_PATH]
