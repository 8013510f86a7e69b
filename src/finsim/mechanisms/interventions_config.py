"""The settings of regional interventions (:mod:`finsim.mechanisms.interventions`): which
regions intervene, when, in what order, and each step's rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from finsim.mechanisms.control_totals import Delivery
from finsim.scenario.models import Id, Money, StrictModel
from finsim.scenario.units import WHOLE, Month, Share

Step = Literal["extra_surplus", "top_slice", "rapid_savings", "loans"]
DEFAULT_ORDER: tuple[Step, ...] = ("extra_surplus", "top_slice", "rapid_savings")


class ExtraSurplus(StrictModel):
    """Extra surplus asked of bodies with headroom."""

    select: Literal["named", "largest_headroom", "pro_rata"] = Field(
        default="named",
        description="who is asked: the named bodies, those with most headroom first, or all "
        "pro rata to size",
    )
    named: dict[str, Money] = Field(
        default_factory=dict, description="amount asked of each named body, GBP m"
    )
    share_of_gap: Share = Field(default=1.0, description="share of the gap this step covers")
    delivery: Delivery = Field(
        default_factory=Delivery, description="share of the extra surplus delivered"
    )


class TopSlice(StrictModel):
    """A share of commissioners' allocations taken back for the rest of the year."""

    share: Share = Field(
        default=0.005, description="largest share of the rest of the year's allocations"
    )


class RapidSavings(StrictModel):
    """Region-wide savings schemes across providers, pro rata to their costs."""

    share_of_gap: Share = Field(default=1.0, description="share of the gap this step covers")
    delivery: Delivery = Field(
        default_factory=lambda: Delivery(mean=0.5, sd=0.2),
        description="share of the planned savings delivered",
    )


class Loans(StrictModel):
    """Revenue-support loans from the centre to providers forecast to miss their totals."""

    repay_years: Annotated[int, WHOLE(ge=1, le=30)] = Field(
        default=3, description="years over which a loan is repaid, in equal instalments"
    )


class InterventionsConfig(StrictModel):
    """Which regions intervene, when, and in what order."""

    regions: list[Id] | None = Field(
        default=None, description="default: every region with a control total"
    )
    months: list[Month] = Field(
        default_factory=lambda: [6], description="months in which regions forecast"
    )
    order: list[Step] = Field(
        default_factory=lambda: list(DEFAULT_ORDER),
        description="the interventions tried, in order, until the gap is covered",
    )
    extra_surplus: ExtraSurplus = Field(
        default_factory=ExtraSurplus, description="the extra_surplus step"
    )
    top_slice: TopSlice = Field(default_factory=TopSlice, description="the top_slice step")
    rapid_savings: RapidSavings = Field(
        default_factory=RapidSavings, description="the rapid_savings step"
    )
    loans: Loans = Field(default_factory=Loans, description="the loans step")
