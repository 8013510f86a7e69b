"""Parameters that change by financial year.

A parameter may be written as one number, which holds in every year, or as a
mapping from financial year to number::

    uplift: {2017/18: 0.021, 2019/20: 0.034}

A *growth rate* (an uplift, demand growth, inflation, an efficiency factor) moves a
value into each year from the second simulated year on, so it need not be given for
the first.

**The rule for years not listed**: a value applies from the start of its year
until the next listed year, like OpenFisca's dated parameters with the
financial year as the unit. Above, 2018/19 takes 0.021 and every year from
2019/20 on takes 0.034. A simulated year *before* the first listed year is an
error, reported when the scenario is validated, because guessing backwards
would silently invent a policy.

**Units.** Each class below holds numbers of one unit (:mod:`finsim.scenario.units`),
checked value by value, whether written as one number or year by year:
:class:`MoneyByYear`, :class:`SignedMoneyByYear`, :class:`PriceByYear`,
:class:`ShareByYear`, :class:`RateByYear`, :class:`Growth` (applied into each year
from the second), :class:`GrowthByYear` (in force from the first year) and
:class:`GrowthLimitByYear` (a floor or cap on growth). A share, rate or growth may be
written as a percentage, ``{2018/19: "70%"}``.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from finsim.calendar import fy_label, parse_fy
from finsim.scenario.units import (
    GROWTH,
    GROWTH_LIMIT,
    MONEY,
    PRICE,
    RATE,
    SHARE,
    SIGNED_MONEY,
    Unit,
    UnitError,
    not_finite,
)

FY_PATTERN = r"^\d{4}/\d{2}$"


class ByYear:
    """A number per financial year, with the step rule described in the module docstring.

    This base class holds any finite number; a scenario model uses a subclass naming the
    unit (below), so that its values are checked and its schema says what they are.
    """

    #: the unit of every value (None: any finite number, at least ``minimum`` if given)
    unit: ClassVar[Unit | None] = None
    minimum: ClassVar[float | None] = None
    #: True for rates first applied in the second simulated year (see :class:`Growth`)
    from_second_year: ClassVar[bool] = False
    __slots__ = ("_starts", "_values")

    def __init__(self, values: Mapping[int, float]) -> None:
        items = sorted(values.items())
        self._starts = [y for y, _ in items]
        self._values = [float(v) for _, v in items]

    @classmethod
    def constant(cls, value: float) -> Self:
        """A value that holds in every year."""
        return cls({-1: value})

    @property
    def first_year(self) -> int | None:
        """The first year given, or None for a constant."""
        return None if self._starts[0] == -1 else self._starts[0]

    def at(self, start_year: int) -> float:
        """The value in force in the financial year starting in April of ``start_year``."""
        i = bisect.bisect_right(self._starts, start_year) - 1
        if i < 0:
            raise KeyError(
                f"no value for {fy_label(start_year)}: the first year given is "
                f"{fy_label(self._starts[0])}"
            )
        return self._values[i]

    def given_for(self, start_year: int) -> bool:
        """Whether a value is written for exactly this year (a constant counts for none)."""
        return start_year in self._starts

    def series(self, start_year: int, n_years: int) -> list[float]:
        """The values for ``n_years`` consecutive years from ``start_year``."""
        return [self.at(start_year + i) for i in range(n_years)]

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ByYear)
            and self._starts == other._starts
            and self._values == other._values
        )

    def __hash__(self) -> int:
        return hash((tuple(self._starts), tuple(self._values)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_data()!r})"

    def to_data(self) -> float | dict[str, float]:
        """The value as it would be written in a scenario file."""
        if self.first_year is None:
            return self._values[0]
        return {fy_label(y): v for y, v in zip(self._starts, self._values, strict=True)}

    # -- pydantic integration -------------------------------------------------------------
    @staticmethod
    def _error(message: str, key: Any = None) -> PydanticCustomError:
        # pydantic fills '{name}' in a template but knows no '!r' or '{{': pass the text whole.
        # ``key`` (the year written) lets the error point at that year's line.
        context: dict[str, Any] = {"msg": message}
        if key is not None:
            context["key"] = key
        return PydanticCustomError("by_year", "{msg}", context)

    @classmethod
    def _check_number(cls, value: Any, where: str, key: Any = None, or_else: str = "") -> float:
        if cls.unit is not None:
            try:
                return float(cls.unit.check(value, where, or_else))
            except UnitError as exc:
                raise cls._error(str(exc), key) from None
        where = or_else + where
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise cls._error(f"expected a number{where}, got {value!r}", key)
        shown = not_finite(value)
        if shown is not None:
            raise cls._error(f"expected a finite number{where}, got {shown}", key)
        if cls.minimum is not None and value < cls.minimum:
            raise cls._error(f"expected a number >= {cls.minimum:g}{where}, got {value}", key)
        return float(value)

    @classmethod
    def _validate(cls, value: Any) -> ByYear:
        if isinstance(value, cls):
            return value
        if isinstance(value, ByYear):  # another kind: its values are checked in this unit
            value = value.to_data()
        if isinstance(value, Mapping):
            if not value:
                raise cls._error("expected at least one year, e.g. {2018/19: 0.02}")
            out: dict[int, float] = {}
            for key, item in value.items():
                try:
                    year = parse_fy(key)
                except ValueError as exc:
                    raise cls._error(str(exc), key) from None
                out[year] = cls._check_number(item, f" for {key}", key)
            return cls(out)
        number = cls._check_number(
            value, "", or_else=" or a mapping of financial year to number, e.g. {2018/19: 0.02}"
        )
        return cls.constant(number)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v.to_data()),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        number: dict[str, Any]
        if cls.unit is not None:
            number = cls.unit.json_schema()
        else:
            number = {"type": "number"}
            if cls.minimum is not None:
                number["minimum"] = cls.minimum
        return {
            "anyOf": [
                number,
                {
                    "type": "object",
                    "patternProperties": {FY_PATTERN: number},
                    "additionalProperties": False,
                    "minProperties": 1,
                },
            ],
            "description": "A number, or a mapping of financial year ('2018/19') to number; "
            "a value applies from its year until the next year listed.",
        }


class NonNegativeByYear(ByYear):
    """A per-year number that cannot be negative, of no particular unit.

    Kept for mechanisms written before units; a scenario model should use the class of
    its unit (:class:`MoneyByYear`, :class:`PriceByYear`, :class:`ShareByYear`...)."""

    minimum = 0.0


class MoneyByYear(ByYear):
    """GBP million per year, not negative: a stream, an envelope, a fund."""

    unit = MONEY


class SignedMoneyByYear(ByYear):
    """GBP million per year, of either sign: a control total (negative: the largest deficit
    allowed)."""

    unit = SIGNED_MONEY


class PriceByYear(ByYear):
    """GBP (not millions) per unit of activity or per head, per year."""

    unit = PRICE


class ShareByYear(ByYear):
    """A share from 0 to 1 per year (0.7 or "70%"): a finance share, a marginal rate, a
    share of an envelope or of costs."""

    unit = SHARE


class RateByYear(ByYear):
    """A ratio of at least 0 per year that may be 1 or more: a multiplier (demand against
    plan), GBP per GBP (a bonus ratio), a convergence rate."""

    unit = RATE


class Growth(ByYear):
    """A rate applied *into* each year from the second simulated year on (uplifts, growth,
    inflation, efficiency): it need not be given for the first simulated year.

    From -1 (-100%, which takes a value to zero: below, money, activity and populations
    would turn negative) to below 1: growth of 100% a year or more is refused as a
    percentage written as a whole number (3 for 3%), with the fix in the message."""

    unit = GROWTH
    from_second_year = True


class GrowthByYear(ByYear):
    """A growth rate in force in every year from the first, bounded as :class:`Growth`
    (coding drift: a rise in reported case mix each year)."""

    unit = GROWTH


class GrowthLimitByYear(ByYear):
    """A floor or cap on growth in each year, from -1 to 1 inclusive: a cap of 1 (100%)
    is the "no cap" some files write for a year in which pace of change does not apply."""

    unit = GROWTH_LIMIT
