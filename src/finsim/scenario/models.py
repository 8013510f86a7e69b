"""The typed model of a scenario file: settings and organisations.

Each mechanism (see ``finsim.mechanisms``) owns its own section of the file and
declares its model beside its logic; :func:`scenario_model` assembles the whole
file's model from the sections of the mechanisms registered at the time.
Every model forbids unknown keys and non-finite numbers, and every number in it has a
unit (:mod:`finsim.scenario.units`): money, price, count, share, rate, growth...
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from finsim.calendar import parse_fy
from finsim.scenario.units import RANK, RATE, WHOLE, AsPath, Count, Share
from finsim.scenario.units import Money as Money  # re-exported: mechanisms import it from here

#: Ids of the accounts through which money enters and leaves the modelled NHS.
EXTERNAL_ACCOUNTS = ("treasury", "external")

#: What an organisation, contract or variant id may be written with.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=80)]


def _check_fy(value: Any) -> Any:
    parse_fy(value)  # raises ValueError naming what a financial year looks like
    return value


FYLabel = Annotated[
    str,
    BeforeValidator(_check_fy),
    Field(json_schema_extra={"pattern": r"^\d{4}/\d{2}$"}, description="financial year, '2018/19'"),
]


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are errors; no NaN or infinity."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, strict=True)


class Settings(StrictModel):
    """What the scenario is and which financial years it spans."""

    name: str = Field(min_length=1, description="the scenario's name, shown in results")
    description: str = Field(default="", description="what the scenario is for, in words")
    start: FYLabel = Field(description="first financial year simulated, e.g. '2017/18'")
    years: Annotated[int, WHOLE(ge=1, le=50)] = Field(
        description="number of financial years simulated"
    )
    accounts_close_month: Annotated[int, WHOLE(le=12)] = Field(
        default=2,
        description="month of the following year at whose end a year's accounts close "
        "(2 = end of May); later postings for that year are prior-year items",
    )


class Organisation(StrictModel):
    """Any organisation: an id unique across the scenario, and a name to show."""

    id: Id = Field(description="unique across all organisations")
    name: str | None = Field(default=None, description="name to show (default: the id)")


class Centre(Organisation):
    """The national body (DoH / NHS England): holds central reserves and incentive funds."""

    id: Id = Field(default="centre", description="unique across all organisations")


class Region(Organisation):
    """A regional office or NHS England region."""


class System(Organisation):
    """An STP / ICS: commissioners and providers planning together (pre-2022, not a legal body)."""

    region: Id = Field(description="the region the system belongs to")


class Member(Organisation):
    """A commissioner or provider: a member of a system, and through it of a region."""

    system: Id = Field(description="the system (STP / ICS) it is a member of")
    region: Id | None = Field(
        default=None, description="optional; if given it must be the region of the system"
    )
    deprivation_quintile: Annotated[int, RANK(ge=1, le=5, whole=True)] | None = Field(
        default=None, description="1 = most deprived fifth of England"
    )


class Commissioner(Member):
    """A health authority, PCT, CCG, ICB or sub-ICB location, area team."""

    population: Count = Field(default=0.0, description="registered population, people")
    weighted_population: Count | None = Field(
        default=None, description="need-weighted population (defaults to population)"
    )
    weights: dict[str, Count] = Field(
        default_factory=dict,
        description="weighted population by formula component (e.g. ga, community, "
        "mental_health, maternity, prescribing, core, primary_care)",
    )


ProviderKind = Literal["acute", "community", "mental_health", "ambulance", "specialist", "other"]


class Provider(Member):
    """An NHS trust or foundation trust."""

    kind: ProviderKind = Field(default="acute", description="what services it provides")
    teaching: bool = Field(
        default=False, description="a teaching trust (transfers to teaching_providers reach it)"
    )
    market_forces_factor: Annotated[float, RATE(ge=None, gt=0, le=3)] = Field(
        default=1.0, description="multiplies national tariff prices (1.05: prices 5% higher)"
    )


class Organisations(StrictModel):
    """Who is in the modelled economy. ``treasury`` and ``external`` always exist."""

    centre: Centre = Field(default=Centre(), description="the national body")
    regions: list[Region] = Field(min_length=1, description="regional offices")
    systems: list[System] = Field(min_length=1, description="STPs / ICSs, each in a region")
    commissioners: list[Commissioner] = Field(
        default_factory=list, description="commissioners, each in a system"
    )
    providers: list[Provider] = Field(
        default_factory=list, description="NHS trusts and foundation trusts, each in a system"
    )


class Uncertain(StrictModel):
    """An uncertain input for sensitivity analysis: a number in the scenario and its range."""

    path: str = Field(description="dotted path of a number in the scenario, e.g. activity.shock_sd")
    low: AsPath = Field(description="lowest value, in the unit of the number at path")
    high: AsPath = Field(description="highest value, in the unit of the number at path")


class PolicyChoice(StrictModel):
    """The national rules a scenario inherits (``policy: england`` is ``{name: england}``)."""

    name: str = Field(
        min_length=1,
        description="a policy tree shipped with finsim ('england') or the path of a policy "
        "file (a proposed scheme), relative to the scenario file",
    )
    unconfirmed: Literal["refuse", "use"] = Field(
        default="refuse",
        description="refuse: a rule whose figure is marked U (unconfirmed) is an error until "
        "the scenario states the setting; use: take U figures (shown as such by validate "
        "--explain)",
    )
    scale: Share | None = Field(
        default=None,
        description="the share of England the scenario models: national sums (incentive "
        "funds) are filled scaled by it; none: they are not filled",
    )


def policy_shorthand(raw: Any) -> Any:
    """``policy: england`` written short: the mapping it stands for."""
    return {"name": raw} if isinstance(raw, str) else raw


class BaseScenarioModel(StrictModel):
    """The part of every scenario file that is not a mechanism's section."""

    extends: str | None = Field(
        default=None, description="path of a base file, relative to this one"
    )
    policy: Annotated[PolicyChoice, BeforeValidator(policy_shorthand)] | None = Field(
        default=None,
        description="the national rules the scenario inherits for its years ('england', or a "
        "policy file); what the scenario states overrides them (finsim validate --explain)",
    )
    scenario: Settings = Field(description="what the scenario is and the years it spans")
    organisations: Organisations = Field(description="who is in the modelled economy")
    uncertain: list[Uncertain] = Field(
        default_factory=list,
        description="uncertain inputs and their ranges, for finsim.sensitivity",
    )
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="named data-only overlays deep-merged onto this scenario",
    )
