"""The settings of the Covid regime (:mod:`finsim.mechanisms.covid`) and their checks.

Every setting that changed by year takes one value or a value by year. The regime never runs
in the first simulated year (its blocks are set from the year before), so a value by year
need only start in the first year it applies to, as a growth rate does: ``{2020/21: 0.9}``
in a run from 2019/20. Each field names the parameter of finsim's policy tree it corresponds
to (``covid.*``, ``python -m finsim.policy``), where there is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field, field_validator

from finsim.calendar import parse_fy
from finsim.errors import did_you_mean
from finsim.scenario.models import FYLabel, Id, StrictModel
from finsim.scenario.params import ByYear, Growth, MoneyByYear, RateByYear, ShareByYear
from finsim.scenario.units import MONTH, RATE, WHOLE, Month, Weight

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class CovidShareByYear(ShareByYear):
    """A share by year that need only be given from the first Covid year (the second
    simulated year at the earliest)."""

    from_second_year = True


class CovidRateByYear(RateByYear):
    """A rate by year that need only be given from the first Covid year."""

    from_second_year = True


class CovidMoneyByYear(MoneyByYear):
    """GBP m by year that need only be given from the first Covid year."""

    from_second_year = True


class MonthByYear(ByYear):
    """A month of the financial year (1 = April ... 12 = March) by year, given from the first
    Covid year."""

    unit = MONTH
    from_second_year = True


class Blocks(StrictModel):
    """The national block payments that replace each contract's own rules."""

    base_month: Month = Field(
        default=9,
        description="the month of the base year whose year-to-date accruals set the blocks: "
        "the block is their monthly average (policy: covid.block.base_month, 9)",
    )
    uplift: Growth = Field(
        description="inflation (pay, CNST) added into each Covid year: on the base for the "
        "first, on the year before's blocks after (policy: covid.block.basis). Required: the "
        "sources give no figure, so a scenario must state it (and say it is an assumption)",
    )
    growth: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="activity growth allowed for into each Covid year (policy: "
        "covid.block.growth, 0 in 2020/21)",
    )
    efficiency_first_half: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="efficiency taken off April-September's blocks and envelope top-ups "
        "(policy: covid.block.efficiency, 0 in 2020/21; covid.efficiency.first_half, 0.28% "
        "in 2021/22)",
    )
    efficiency_second_half: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="efficiency taken off October-March's blocks and envelope top-ups "
        "(policy: covid.efficiency.second_half, about 1.5% in 2021/22)",
    )


class CovidCosts(StrictModel):
    """The marginal costs of Covid providers incur (staff, PPE, capacity): ILLUSTRATIVE."""

    share_of_costs: CovidShareByYear = Field(
        description="a year's Covid costs as a share of each provider's annual cost base "
        "(its fixed operating costs)"
    )
    profile: list[Weight] | None = Field(
        default=None,
        description="12 weights, April first, for each month's share of the year's Covid "
        "costs (the waves); rescaled to average 1 (default: flat)",
    )
    sd: Annotated[float, RATE(le=2)] = Field(
        default=0.0, description="sd of the log of a provider's Covid costs in a year (mean 1)"
    )

    @field_validator("profile")
    @classmethod
    def _twelve(cls, value: list[float] | None) -> list[float] | None:
        if value is not None and (len(value) != 12 or sum(value) <= 0):
            raise ValueError("expected 12 non-negative weights, April to March, not all zero")
        return value


class Envelopes(StrictModel):
    """System envelopes: a fixed top-up and Covid allocation a month, through the lead CCG."""

    first_month: MonthByYear = Field(
        default_factory=lambda: MonthByYear.constant(7),
        description="the first month of a Covid year paid by system envelopes; the months "
        "before are paid retrospective top-ups (policy: covid.system_envelopes_first_month, "
        "7 in 2020/21; covid.block.last_month + 1)",
    )
    covid_basis_months: Annotated[int, WHOLE(ge=1, le=11)] = Field(
        default=3,
        description="the first months of the top-up period whose Covid costs size the fixed "
        "Covid allocation (3: Q1, policy: covid.system_envelopes)",
    )
    second_half_extra: CovidMoneyByYear = Field(
        default_factory=lambda: CovidMoneyByYear.constant(0.0),
        description="money added to October-March's envelopes, GBP m in all (policy: "
        "covid.h2_extra_funding, 5,400 in 2021/22), shared pro rata to each provider's "
        "blocks and envelope",
    )
    lead_commissioners: dict[str, Id] = Field(
        default_factory=dict,
        description="the commissioner each system's envelope passes through, by system id "
        "(default: the system's first commissioner in the file)",
    )


class ElectiveIncentive(StrictModel):
    """The 2020/21 second-half elective incentive scheme, tested at system level."""

    years: list[FYLabel] | None = Field(
        default=None, description="the years it runs (default: the first Covid year)"
    )
    first_month: Month = Field(default=7, description="the first month tested (7: October)")
    last_month: Month = Field(default=12, description="the last month tested")
    threshold: CovidRateByYear = Field(
        default_factory=lambda: CovidRateByYear.constant(0.9),
        description="elective activity a system must do, as a share of the base year's in "
        "the same month (policy: covid.elective_incentive.threshold, 0.9)",
    )
    shortfall_charge: CovidShareByYear = Field(
        default_factory=lambda: CovidShareByYear.constant(0.25),
        description="share of the tariff value of activity short of the threshold charged "
        "(policy: covid.elective_incentive.shortfall_charge, 0.25)",
    )
    excess_payment: CovidShareByYear = Field(
        default_factory=lambda: CovidShareByYear.constant(0.75),
        description="share of the tariff value of activity above the threshold paid "
        "(policy: covid.elective_incentive.excess_payment, 0.75)",
    )
    pods: list[str] = Field(
        default_factory=lambda: ["elective"],
        description="the points of delivery counted as elective activity",
    )


class CovidConfig(StrictModel):
    """The Covid finance regime: blocks, top-ups, system envelopes, the elective incentive."""

    years: list[FYLabel] = Field(
        min_length=1,
        description="the financial years run under the regime (2020/21 and 2021/22); the "
        "year before the first is the base year (policy: covid.block.base_year)",
    )
    blocks: Blocks = Field(
        description="the national block payments (required: their uplift has no sourced figure)"
    )
    costs: CovidCosts | None = Field(
        default=None, description="providers' marginal costs of Covid (none if absent)"
    )
    envelopes: Envelopes = Field(
        default_factory=Envelopes,
        description="when system envelopes replace retrospective top-ups, and how",
    )
    elective_incentive: ElectiveIncentive | None = Field(
        default=None, description="the elective incentive scheme (none if absent)"
    )


def covid_years(config: CovidConfig, start_year: int) -> list[int]:
    """The Covid years as year indices (0 = the first simulated year), sorted."""
    return sorted({parse_fy(y) - start_year for y in config.years})


def first_envelope_month(config: CovidConfig, fy_start_year: int) -> int:
    """The first month paid by system envelopes in the year starting in ``fy_start_year``."""
    return int(config.envelopes.first_month.at(fy_start_year))


def check_covid(config: CovidConfig, refs: ReferencesLike) -> None:
    """Cross-check the section: years simulated and after a base year, envelopes sizable,
    organisations and points of delivery known, the sections it reads present."""
    model = refs.model
    if getattr(model, "contracts", None) is None:
        refs.add(("covid",), "the Covid regime pays contracts by blocks: add a 'contracts' section")
    years = covid_years(config, refs.start_year)
    for i, label in enumerate(config.years):
        fy = parse_fy(label) - refs.start_year
        if fy < 1 or fy >= refs.n_years:
            refs.add(
                ("covid", "years", i),
                f"{label} is not a simulated year after the first: the regime's blocks are set "
                "from the year before, which must be simulated",
            )
    for fy in years:
        year = refs.start_year + fy
        if first_envelope_month(config, year) == 1 and fy - 1 not in years:
            refs.add(
                ("covid", "envelopes", "first_month"),
                "envelopes from April need the year before to be a Covid year with envelopes "
                "(they are rolled forward from its second half)",
            )
        if config.envelopes.second_half_extra.at(year) > 0 and (
            first_envelope_month(config, year) > 7
        ):
            refs.add(
                ("covid", "envelopes", "second_half_extra"),
                "money for the second half's envelopes needs envelopes from October (month 7)",
            )
    if config.costs is not None and getattr(model, "costs", None) is None:
        refs.add(("covid", "costs"), "Covid costs are a share of providers' costs: add 'costs'")
    systems = {s.id for s in model.organisations.systems}  # type: ignore[attr-defined]
    lead = config.envelopes.lead_commissioners
    system_of = {c.id: c.system for c in model.organisations.commissioners}  # type: ignore[attr-defined]
    for system_id, ccg in lead.items():
        path = ("covid", "envelopes", "lead_commissioners", system_id)
        known = refs.org(path, system_id, ("system",))
        if refs.org(path, ccg, ("commissioner",)) and known and system_of[ccg] != system_id:
            refs.add(
                path,
                f"'{ccg}' is a commissioner of system '{system_of[ccg]}', not of "
                f"'{system_id}': a system's envelope passes through one of its own",
            )
    with_ccg = {c.system for c in model.organisations.commissioners}  # type: ignore[attr-defined]
    for p in model.organisations.providers:  # type: ignore[attr-defined]
        if p.system in systems and p.system not in with_ccg and p.system not in lead:
            refs.add(
                ("covid", "envelopes", "lead_commissioners"),
                f"system '{p.system}' has providers but no commissioner to pass its envelope "
                "through: name one",
            )
            break
    scheme = config.elective_incentive
    if scheme is not None:
        tariff = getattr(model, "tariff", None)
        pods = list(tariff.prices) if tariff is not None else []
        for i, pod in enumerate(scheme.pods):
            if pod not in pods:
                refs.add(
                    ("covid", "elective_incentive", "pods", i),
                    f"unknown point of delivery '{pod}'; expected one of the tariff's prices",
                    did_you_mean(pod, pods),
                )
        if getattr(model, "activity", None) is None:
            refs.add(
                ("covid", "elective_incentive"),
                "the elective incentive counts realised activity: add an 'activity' section",
            )
        if scheme.last_month < scheme.first_month:
            refs.add(("covid", "elective_incentive", "last_month"), "before first_month")
        for i, label in enumerate(scheme.years or []):
            if parse_fy(label) - refs.start_year not in years:
                refs.add(
                    ("covid", "elective_incentive", "years", i), f"{label} is not a Covid year"
                )
