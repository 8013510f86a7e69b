"""The typed model of a scenario file: settings and organisations.

Each mechanism (see ``finsim.mechanisms``) owns its own section of the file and
declares its model beside its logic; :func:`scenario_model` assembles the whole
file's model from the sections of the mechanisms registered at the time.
Every model forbids unknown keys and non-finite numbers.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from finsim.calendar import parse_fy

#: Ids of the accounts through which money enters and leaves the modelled NHS.
EXTERNAL_ACCOUNTS = ("treasury", "external")

#: What an organisation, contract or variant id may be written with.
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN, min_length=1, max_length=80)]
Money = Annotated[float, Field(ge=0, description="GBP million")]


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

    name: str = Field(min_length=1)
    description: str = ""
    start: FYLabel = Field(description="first financial year simulated, e.g. '2017/18'")
    years: int = Field(ge=1, le=50, description="number of financial years simulated")
    accounts_close_month: int = Field(
        default=2,
        ge=0,
        le=12,
        description="month of the following year at whose end a year's accounts close "
        "(2 = end of May); later postings for that year are prior-year items",
    )


class Organisation(StrictModel):
    id: Id
    name: str | None = None


class Centre(Organisation):
    """The national body (DoH / NHS England): holds central reserves and incentive funds."""

    id: Id = "centre"


class Region(Organisation):
    """A regional office or NHS England region."""


class System(Organisation):
    """An STP / ICS: commissioners and providers planning together (pre-2022, not a legal body)."""

    region: Id


class Member(Organisation):
    """A commissioner or provider: a member of a system, and through it of a region."""

    system: Id
    region: Id | None = Field(
        default=None, description="optional; if given it must be the region of the system"
    )
    deprivation_quintile: int | None = Field(
        default=None, ge=1, le=5, description="1 = most deprived fifth of England"
    )


class Commissioner(Member):
    """A health authority, PCT, CCG, ICB or sub-ICB location, area team."""

    population: float = Field(default=0.0, ge=0, description="registered population")
    weighted_population: float | None = Field(
        default=None, ge=0, description="need-weighted population (defaults to population)"
    )
    weights: dict[str, Annotated[float, Field(ge=0)]] = Field(
        default_factory=dict,
        description="weighted population by formula component (e.g. ga, community, "
        "mental_health, maternity, prescribing, core, primary_care)",
    )


ProviderKind = Literal["acute", "community", "mental_health", "ambulance", "specialist", "other"]


class Provider(Member):
    """An NHS trust or foundation trust."""

    kind: ProviderKind = "acute"
    teaching: bool = False
    market_forces_factor: float = Field(
        default=1.0, gt=0, le=3, description="multiplies national tariff prices"
    )


class Organisations(StrictModel):
    """Who is in the modelled economy. ``treasury`` and ``external`` always exist."""

    centre: Centre = Centre()
    regions: list[Region] = Field(min_length=1)
    systems: list[System] = Field(min_length=1)
    commissioners: list[Commissioner] = Field(default_factory=list)
    providers: list[Provider] = Field(default_factory=list)


class Uncertain(StrictModel):
    """An uncertain input for sensitivity analysis: a number in the scenario and its range."""

    path: str = Field(description="dotted path of a number in the scenario, e.g. activity.shock_sd")
    low: float
    high: float


class BaseScenarioModel(StrictModel):
    """The part of every scenario file that is not a mechanism's section."""

    extends: str | None = Field(
        default=None, description="path of a base file, relative to this one"
    )
    scenario: Settings
    organisations: Organisations
    uncertain: list[Uncertain] = Field(
        default_factory=list,
        description="uncertain inputs and their ranges, for finsim.sensitivity",
    )
    variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="named data-only overlays deep-merged onto this scenario",
    )
