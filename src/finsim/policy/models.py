"""The policy file format: national finance and payment rules as dated, cited values.

A policy file names parameters of the NHS finance regime (``tariff.cost_uplift``,
``marginal_rate.rate``, ``provider_funds.psf.incentive_rate``), each with what it means, its
unit, and the values it took by financial year. Every dated value cites its sources by ID
and carries a confidence mark, as the fact sheet it came from does:

- **C**: seen in a document of the issuing or an official body (NHS England, NHS
  Improvement, Monitor, DH/DHSC, Hansard, the NAO, Parliament);
- **S**: seen in a secondary report (HFMA, HSJ, the King's Fund, NHS Providers...);
- **U**: unconfirmed, a placeholder from the project's brief or general knowledge.

A value applies from the first financial year it is given for until the next value, or
until its ``until`` year, the last year its sources cover. ``value: null`` ends a rule
(the marginal rate was abolished from 2019/20); ``unknown: true`` records a year whose
figure the sources do not give, so that an earlier value does not run on into it.

The models check the shape of a file (unknown keys are errors); :func:`unit_problem`
checks a value against its unit. The checks that need the whole tree (sources cited,
years in order, a base's units) are in :mod:`finsim.policy.loader`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from finsim.calendar import parse_fy

Confidence = Literal["C", "S", "U"]
Unit = Literal[
    "share",
    "rate",
    "growth",
    "money_gbp_m",
    "money_gbp_bn",
    "count",
    "ratio",
    "boolean",
    "text",
    "financial_year",
]

#: What each unit means, as a reader of a policy file would be told.
UNITS: dict[str, str] = {
    "share": "a part of a whole, 0 to 1 (0.025 is 2.5%)",
    "rate": "a rate a year or a rate of price, 0 to 1 (0.035 is 3.5%)",
    "growth": "a change, -1 to 1 (-0.015 is a 1.5% fall)",
    "money_gbp_m": "GBP million",
    "money_gbp_bn": "GBP billion",
    "count": "a whole number, 0 or more",
    "ratio": "a multiple, 0 or more (1.04 is 104% of a reference; 2 is £2 for each £1)",
    "boolean": "true or false",
    "text": "a rule in words",
    "financial_year": "a financial year label such as 2008/09",
}

#: Units whose value may be a list of numbers (one per quarter, staff group...).
LIST_UNITS = frozenset({"share", "rate", "growth", "money_gbp_m", "money_gbp_bn", "count", "ratio"})

CONFIDENCE_MEANINGS: dict[str, str] = {
    "C": (
        "the figure was seen in the cited source, and that source is the issuing or an "
        "official body (NHS England/Improvement, Monitor, DH/DHSC, Hansard, NAO, Parliament)"
    ),
    "S": (
        "the figure was seen in the cited source, but it is a secondary report (HFMA, HSJ, "
        "King's Fund, Nuffield, Health Foundation, NHS Providers, CIPFA, trade press, blogs); "
        "usually reliable: check the primary document before publishing results"
    ),
    "U": (
        "unconfirmed: taken from the project's brief or seeds, or general knowledge, and not "
        "found in any source read; a placeholder, not a fact"
    ),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SourceSpec(_Strict):
    """A document cited by values: who published it, what it is called, when, where."""

    publisher: str = Field(min_length=1, description="who published it")
    title: str = Field(min_length=1, description="its title, or what it is")
    date: str | None = Field(default=None, description="when, as precisely as known")
    url: str | None = Field(default=None, description="where, as the fact sheet gives it")
    official: bool = Field(
        description="true for the issuing or an official body (NHS England, DHSC, Hansard...)"
    )
    note: str | None = Field(default=None, description="other parts of the reference")


class ValueSpec(_Strict):
    """The value a parameter takes from one financial year, with its evidence."""

    value: Any = Field(
        default=None, description="the value, in the parameter's unit; null ends the rule"
    )
    source: list[str] = Field(default_factory=list, description="IDs of the sources cited")
    confidence: Confidence = Field(description="C official, S secondary, U unconfirmed")
    note: str | None = Field(default=None, description="what the figure covers; caveats")
    until: str | None = Field(
        default=None, description="the last financial year the value applies, if its sources end"
    )
    unknown: bool = Field(
        default=False, description="true: the rule held this year but its figure is not known"
    )


class ParameterSpec(_Strict):
    """A parameter and its dated values. ``description`` and ``unit`` may be left out when a
    file changes the values of a parameter of the tree it extends."""

    description: str | None = Field(default=None, description="what the parameter is")
    unit: Unit | None = Field(default=None, description="the unit of every value")
    values: dict[Any, ValueSpec] = Field(
        min_length=1, description="from financial year ('2018/19') to the value set that year"
    )


class PolicyFile(_Strict):
    """One policy file: a domain of the shipped tree, its index or sources, or a user's
    proposed scheme (which may ``extends:`` a shipped tree)."""

    extends: str | None = Field(
        default=None, description="a shipped tree ('england') or a policy file to build on"
    )
    domain: str | None = Field(default=None, description="the domain every parameter is in")
    title: str | None = Field(default=None, description="the domain's or the tree's title")
    description: str | None = Field(default=None, description="what the file covers")
    domains: list[str] | None = Field(
        default=None, description="the tree's domains in the order they are shown"
    )
    sources: dict[str, SourceSpec] = Field(
        default_factory=dict, description="sources by ID ('T9', 'CIPFA-2')"
    )
    parameters: dict[str, ParameterSpec] = Field(
        default_factory=dict, description="parameters by dotted name ('tariff.cost_uplift')"
    )


def _number_problem(unit: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"expected a number ({UNITS[unit]}), got {value!r}"
    if not math.isfinite(value):
        return f"expected a finite number, got {value!r}"
    if unit == "count" and not isinstance(value, int):
        return f"expected a whole number, got {value!r}"
    if unit in ("share", "rate") and not 0 <= value <= 1:
        return f"expected a {unit} between 0 and 1, got {value!r}" + (
            f" (write {value / 100:g} for {value:g}%)" if 1 < value <= 100 else ""
        )
    if unit == "growth" and not -1 <= value <= 1:
        return f"expected a growth between -1 and 1, got {value!r}" + (
            f" (write {value / 100:g} for {value:g}%)" if -100 <= value <= 100 else ""
        )
    if unit in ("count", "ratio") and value < 0:
        return f"expected a {unit} of 0 or more, got {value!r}"
    return None


def unit_problem(unit: str, value: Any) -> str | None:
    """What is wrong with ``value`` as a value in ``unit``, or None if nothing is.

    >>> unit_problem("share", 70)
    'expected a share between 0 and 1, got 70 (write 0.7 for 70%)'
    """
    if isinstance(value, list):
        if unit not in LIST_UNITS:
            return f"expected one value ({UNITS[unit]}), got a list"
        if not value:
            return "expected a list of one or more numbers, got an empty list"
        for i, item in enumerate(value):
            problem = _number_problem(unit, item)
            if problem:
                return f"item {i + 1}: {problem}"
        return None
    if unit == "boolean":
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if unit == "text":
        if isinstance(value, str) and value.strip():
            return None
        return f"expected a rule in words, got {value!r}"
    if unit == "financial_year":
        if not isinstance(value, str):
            return f"expected a financial year label like '2018/19', got {value!r}"
        try:
            parse_fy(value)
        except ValueError as exc:
            return str(exc)
        return None
    return _number_problem(unit, value)
