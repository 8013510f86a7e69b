"""The settings of regional interventions (:mod:`finsim.mechanisms.interventions`): which
regions intervene, when, in what order, and each step's rules."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from finsim.mechanisms.control_totals import Delivery
from finsim.mechanisms.loans import Profile
from finsim.scenario.models import FYLabel, Id, Money, StrictModel
from finsim.scenario.units import RATE, WHOLE, Month, Share

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
    """Revenue-support loans from the centre to providers forecast to miss their totals.

    The interim revenue support of 2015/16 to 2019/20 bore interest at 1.5% (longer-term
    loans), 3.5% (the revolving facility) or 6% (financial special measures, from 2016):
    Hansard written answer UIN 194777, 27 Nov 2018 (C); HFMA, 28 Mar 2018 (S). On 1 April
    2020 trusts' loans were converted to public dividend capital and later support given as
    PDC (Health Foundation, Sep 2020; HSJ, Apr 2020; S). See :mod:`finsim.mechanisms.loans`.
    """

    repay_years: Annotated[int, WHOLE(ge=1, le=30)] = Field(
        default=3,
        description="the loan's term: years over which it is repaid, from the year after it "
        "is made (also written term_years)",
    )
    term_years: Annotated[int, WHOLE(ge=1, le=30)] | None = Field(
        default=None, description="the same as repay_years, under its newer name: give one"
    )
    rate: Annotated[float, RATE(le=1)] = Field(
        default=0.0,
        description='annual interest on the balance outstanding (0.015 or "1.5%"), a revenue '
        "cost of the borrower paid to the centre (loan_interest)",
    )
    profile: Profile = Field(
        default="straight_line",
        description="how the principal is repaid: equal principal each year (straight_line), "
        "equal payments of principal and interest (annuity), or all in the last year (bullet)",
    )
    rollover: Literal["never", "when_in_deficit"] = Field(
        default="never",
        description="when_in_deficit: a borrower whose year-to-date surplus is below zero at "
        "the year end does not repay that year's principal (it stays outstanding, interest "
        "runs on, and the schedule moves a year); never: every instalment is paid when due",
    )
    convert_to_pdc: FYLabel | None = Field(
        default=None,
        description="the year at whose start every loan outstanding becomes public dividend "
        "capital (2020/21 in England); from then on support is given as PDC, not loans",
    )

    @model_validator(mode="after")
    def _one_term(self) -> Loans:
        if self.term_years is not None and "repay_years" in self.model_fields_set:
            raise ValueError("give repay_years or term_years (the same thing), not both")
        return self

    @property
    def term(self) -> int:
        """The loan's term in years (``term_years`` if given, else ``repay_years``)."""
        return self.term_years if self.term_years is not None else self.repay_years


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
