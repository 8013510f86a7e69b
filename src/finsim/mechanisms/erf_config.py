"""The settings of the Elective Recovery Fund (:mod:`finsim.mechanisms.erf`), and their checks.

Each setting that changes by year takes one value or a value by year; its policy-tree
parameter (``finsim.policy``, domain ``api_erf``) is named in the field's description where
there is one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field

from finsim.calendar import parse_fy
from finsim.errors import did_you_mean
from finsim.scenario.models import FYLabel, StrictModel
from finsim.scenario.params import MoneyByYear, RateByYear, ShareByYear
from finsim.scenario.units import Month

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

ContractType = Literal["activity", "block", "blended", "api"]
#: The contract types whose activity the fund measures when the section does not say.
SCOPE: tuple[ContractType, ...] = ("activity", "blended", "api")
#: The points of delivery the fund measures when the section does not say.
DEFAULT_PODS = ("elective", "day_case", "outpatient_first")


class ErfConfig(StrictModel):
    """The Elective Recovery Fund: the fund, the targets and the rules of settlement."""

    start: FYLabel | None = Field(
        default=None, description="the first year the fund runs (default: the first simulated)"
    )
    fund: MoneyByYear = Field(
        description="the national fund allocated to ICBs, GBP m (api_erf.erf_size: 2300 in 2022/23)"
    )
    new_money: bool = Field(
        default=True, description="whether the treasury funds the centre with the fund"
    )
    target: RateByYear = Field(
        description="the elective target, a multiple of the base year's value (api_erf.elective_target: "
        "1.04 in 2022/23, 1.03 in 2023/24)"
    )
    variable_rate: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(1.0),
        description="share of price paid for activity above target and adjusted below it "
        "(api_erf.variable_rate: 0.75 in 2022/23, 1 from 2023/24)",
    )
    clawback: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(1.0),
        description="share of the downward adjustment enforced (1: recovered; 0: not "
        "enforced, as in 2022/23 in practice: api_erf.clawback_enforced)",
    )
    downward_floor: RateByYear | None = Field(
        default=None,
        description="the most recovered from an ICB below target, a multiple of its ERF "
        "allocation (api_erf.downward_floor: 0.75 in 2022/23); default: no limit",
    )
    cap: RateByYear = Field(
        default_factory=lambda: RateByYear.constant(0.0),
        description="national cap on the activity funded, a multiple of the national base "
        "value (api_erf.erf_cap: about 1.18 for 2025/26); 0: no cap",
    )
    q4_cap: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(1.0),
        description="share of activity above each contract's November estimate the fund pays "
        "for (0: capped at the estimate, api_erf.q4_cap in 2024/25; 1: no cap)",
    )
    estimate_month: Month = Field(
        default=8, description="month whose year-to-date run rate is the estimate (8: November)"
    )
    payment_limit: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.0),
        description="share of over-target activity the fund does not pay for that ICBs do not "
        "pay providers (0: they pay it all; api_erf.commissioner_payment_limits)",
    )
    additional: MoneyByYear = Field(
        default_factory=lambda: MoneyByYear.constant(0.0),
        description="money allocated like the fund with an in-year cut of the target, GBP m "
        "(api_erf.target_cut_funding: 800 in 2023/24)",
    )
    additional_month: Month = Field(
        default=8, description="the month the additional money is allocated (8: November)"
    )
    allocation: Literal["target", "fair_share"] = Field(
        default="target",
        description="how the fund is shared: by each ICB's share of the national target, or "
        "its fair share (need share) of the allocation stream 'stream'",
    )
    stream: str = Field(default="core", description="the stream whose need shares are fair")
    pods: list[str] | None = Field(
        default=None,
        description="the points of delivery whose activity is measured against the target "
        "(default: elective, day_case and outpatient_first, those the tariff prices)",
    )
    contract_types: list[ContractType] = Field(
        default_factory=lambda: list(SCOPE),
        description="the contract types whose activity counts (blocks pay no elective price)",
    )


def check_erf(config: ErfConfig, refs: ReferencesLike) -> None:
    """Cross-check the section: contracts to measure, known points of delivery, a simulated
    start year, activity planned by the estimate month, and a commissioners' stream for fair
    shares."""
    model = refs.model
    if getattr(model, "contracts", None) is None:
        refs.add(("erf",), "the fund measures contracts' activity: no 'contracts' section")
    seasonality = getattr(getattr(model, "activity", None), "seasonality", None)
    if isinstance(seasonality, list) and sum(seasonality[: config.estimate_month]) <= 0:
        refs.add(
            ("erf", "estimate_month"),
            f"no activity is planned by month {config.estimate_month} (activity.seasonality "
            "is 0 until then): its run rate cannot be the estimate; choose a later month",
        )
    tariff = getattr(model, "tariff", None)
    prices = list(tariff.prices) if tariff is not None else []
    for i, pod in enumerate(config.pods or []):
        if pod not in prices:
            refs.add(
                ("erf", "pods", i),
                f"unknown point of delivery '{pod}'; expected one of the tariff's prices",
                did_you_mean(pod, prices),
            )
    if config.start is not None:
        start, n = refs.start_year, refs.n_years
        if not start <= parse_fy(config.start) < start + n:
            refs.add(("erf", "start"), f"'{config.start}' is not a simulated year")
    if config.allocation == "fair_share":
        allocations = getattr(model, "allocations", None)
        streams = allocations.all_streams() if allocations is not None else {}
        if config.stream not in streams:
            refs.add(
                ("erf", "stream"),
                f"no allocation stream '{config.stream}' to take fair shares from",
                did_you_mean(config.stream, list(streams)),
            )
        elif streams[config.stream].holder != "commissioners":
            refs.add(("erf", "stream"), f"stream '{config.stream}' is not held by commissioners")
