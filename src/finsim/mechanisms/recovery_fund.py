"""The Financial Recovery Fund: money for trusts in deficit that sign and meet their control
totals (2019/20; planned for 2020/21), and the extra efficiency of their recovery plans.

What it models (fact sheet section 4; policy tree ``provider_funds.frf.*``):

* **2019/20** (T9, F18; S): the Provider Sustainability Fund was cut from GBP 2.45bn to
  GBP 1.25bn, GBP 1bn of it moved into urgent and emergency care prices (the tariff's
  ``into_prices``, :mod:`finsim.mechanisms.tariff`) and GBP 200m into a new **Financial
  Recovery Fund** of GBP 1.05bn for trusts in deficit that sign their control total
  (``provider_funds.frf.size``, ``provider_funds.frf.eligibility``). Like the PSF it is
  paid quarterly on the year-to-date position, so it runs the incentive fund's machinery
  (:class:`~finsim.mechanisms.incentives.Incentives`): phasing, year-to-date tests, the
  finance/performance split, a system share, year-end rules for unearned money.
  Trusts taking it deliver a recovery plan of at least 0.5% a year efficiency above the
  national 1.1% factor, which they keep (``tariff.deficit_trust_extra_efficiency``, T9,
  F18; S): ``extra_efficiency`` below. The 30 worst trusts in accelerated turnaround (F18)
  are not modelled.
* **2020/21 plan, before Covid** (F19, F20; S): the PSF abolished and the FRF at least
  GBP 2bn, "the balancing item to break-even"
  (``provider_funds.frf.planned_size``), at least 50% of it tied to system performance
  (``system.frf_share``: ``system_share: {2020/21: 0.5}``), phased equally and paid early
  in the quarter (``provider_funds.frf.planned_phasing``: ``phasing`` and
  ``timing: advance``).

Rules chosen, and why:

* **Who takes part**: a provider whose control total for the year is a deficit (below 0)
  and that accepted it; a body in surplus, or one without a total, gets nothing that year.
* **Allocation**: unless the section lists one (``allocation``, scaled with the fund like
  the incentive fund's), each eligible trust's allocation is its planned deficit, the
  distance of its control total below break-even, scaled down pro rata when the year's
  fund is smaller than all the deficits together: ``allocation_i = deficit_i x
  min(1, fund / sum of deficits)``. This is the 2020/21 plan's "balancing item to
  break-even" (S); that the 2019/20 allocations followed the same rule is an assumption
  (U: the per-trust allocations are not in the sources read). A fund larger than the
  deficits leaves the rest unallocated with the centre.
* **Earning it**: ``finance_share`` defaults to 1 (the FRF was conditional on the control
  total; no performance element is in the sources), phasing to the incentive fund's
  15/20/30/35% ("like the PSF": U for 2019/20), money unearned stays with the centre
  unless ``unearned`` says otherwise (U).
* **Extra efficiency**: each year a trust takes the fund, it delivers ``extra_efficiency``
  of its annual cost base (``costs.annual``) as a recurrent cost saving at a random rate
  (``efficiency_delivery``), kept by the trust and carried into later years (a recurrent
  saving stays saved); a monthly negative ``operating_cost``. It is not a price cut: the
  source says the trust retains it, and a price cut would hand it to commissioners.

Surplus before incentives leaves the FRF out (its categories are incentive money), so a
trust's control total is tested before its FRF, as the PSF's is, and every fund's tests
leave out every other fund's money (:data:`~finsim.mechanisms.incentives.FUND_SLOTS`).
Categories: ``frf_payment``, ``frf_bonus``, ``frf_distribution`` (non-recurrent). Tables:
``res.table("recovery_fund")`` (the year per body), ``"recovery_fund_quarters"`` and
``"recovery_efficiency"``. Acceptance decisions (``rule: rational``) weigh the
``incentives`` fund only, not this one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from finsim.economy import EXTERNAL, ORG_TYPES
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver
from finsim.mechanisms.control_totals import Delivery
from finsim.mechanisms.incentive_schemes import IncentivesConfig, fund_allocation
from finsim.mechanisms.incentives import FUND_SLOTS, Incentives
from finsim.scenario.models import Money
from finsim.scenario.params import ShareByYear
from finsim.state import Need, Slot, later, optional

__all__ = ["DeficitFund", "DeficitFundConfig", "RecoveryFund", "RecoveryFundConfig"]


class DeficitFundConfig(IncentivesConfig):
    """A fund for bodies with a deficit control total, earned by meeting it."""

    allocation: dict[str, Money] = Field(
        default_factory=dict,
        description="each body's allocation of the first year's fund, GBP m (scaled with the "
        "fund); empty: each eligible body's planned deficit, pro rata to the fund if smaller",
    )
    finance_share: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(1.0),
        description="share earned by meeting the year-to-date control total (1: all of it)",
    )
    unearned: list[Literal["bonus", "general_distribution"]] = Field(
        default_factory=list,
        description="how unearned money returns at year end, in order (default: it stays central)",
    )


class DeficitFund(Incentives):
    """The incentive fund's machinery for a fund paid to bodies with a deficit control total."""

    Config = DeficitFundConfig
    config: DeficitFundConfig
    #: The organisation type the fund is for.
    kind: ClassVar[str] = "provider"

    def make_allocation(self, config: IncentivesConfig, ctx: Context) -> np.ndarray:
        """``(F, A)``: the listed allocation, else each eligible body's planned deficit, scaled
        pro rata where the fund is smaller than the deficits (see the module docstring)."""
        economy = ctx.economy
        if config.allocation:
            return fund_allocation(config, economy)
        totals = ctx.state["control_totals.totals"]["org"]
        of_kind = economy.org_type == ORG_TYPES.index(self.kind)
        deficit = np.where(of_kind & (np.nan_to_num(totals) < 0), -np.nan_to_num(totals), 0.0)
        calendar = economy.calendar
        size = np.array(config.fund.series(calendar.start_year, calendar.n_years))
        total = deficit.sum(axis=1)
        scale = np.minimum(1.0, size / np.where(total > 0, total, 1.0))
        return deficit * scale[:, None]

    def taking_part(self, ctx: Context) -> np.ndarray:
        """Funded bodies that accepted a deficit control total this year, ``(n,)``."""
        totals = ctx.state["control_totals.totals"]["org"][ctx.fy, self.bodies]
        return super().taking_part(ctx) & (np.nan_to_num(totals) < 0)


class RecoveryFundConfig(DeficitFundConfig):
    """The Financial Recovery Fund (``recovery_fund``): see the module docstring."""

    extra_efficiency: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.0),
        description="efficiency a trust taking the fund delivers above the national factor "
        "each year, a share of its cost base, kept by the trust (2019/20: 0.005)",
    )
    efficiency_delivery: Delivery = Field(
        default_factory=Delivery,
        description="share of the extra efficiency actually delivered (default: all of it)",
    )


class RecoveryFund(DeficitFund):
    """The Financial Recovery Fund for trusts in deficit, and their extra efficiency."""

    section = "recovery_fund"
    order = 71  # after costs, as the fund tests positions after them
    funded_kinds = ("provider",)
    categories = (
        Category("frf_payment", "a quarter's Financial Recovery Fund payment", "incentive"),
        Category("frf_bonus", "a year-end bonus from unearned recovery fund money", "incentive"),
        Category(
            "frf_distribution", "unearned recovery fund money shared at year end", "incentive"
        ),
    )
    drivers = (Driver("recovery and commissioner funds", 51, tuple(c.name for c in categories)),)
    Config = RecoveryFundConfig
    config: RecoveryFundConfig
    provides = (
        Slot(
            "recovery_fund.received_ytd",
            "(R, A)",
            "Financial Recovery Fund money each trust received this year to date, GBP m",
        ),
        Slot("output.recovery_fund_allocation", "(F, A)", "each trust's FRF allocation, GBP m"),
    )
    requires: ClassVar[tuple[str | Need, ...]] = (
        "control_totals.totals",
        "control_totals.accepted",
        "control_totals.option",
        optional("costs.annual"),
        *(
            later(slot, optional=True)
            for slot in FUND_SLOTS
            if slot != "recovery_fund.received_ytd"
        ),
    )
    table = "recovery_fund"
    quarters_table = "recovery_fund_quarters"
    posts: ClassVar[dict[str, str]] = {
        "payment": "frf_payment",
        "incentive_bonus": "frf_bonus",
        "general_distribution": "frf_distribution",
    }

    def __init__(self, config: RecoveryFundConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        #: each trust's extra efficiency delivered so far, a share of its cost base (R, n)
        self.carried = np.zeros((ctx.R, self.bodies.size))
        self.base = np.zeros(self.bodies.size)

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {**super().phases(), "year_start": self.start_year, "costs": self.save}

    def start_year(self, ctx: Context) -> None:
        """Fund the year, then each trust taking the fund sets out its extra efficiency."""
        self.fund(ctx)
        rate = self.config.extra_efficiency.at(ctx.fy_start_year)
        base = ctx.state["costs.annual"] if "costs.annual" in ctx.state else None
        self.base = np.zeros(self.bodies.size) if base is None else base[self.bodies]
        taking = self.taking_part(ctx) & (self.allocation[ctx.fy, self.bodies] > 0)
        if rate == 0.0 or not taking.any():
            return
        u = self.rng.uniform("efficiency", ctx.fy, shape=(self.bodies.size,))
        new = rate * self.config.efficiency_delivery.draw(u) * taking
        self.carried += new
        ctx.records.record(
            "recovery_efficiency",
            self.bodies,
            taking_fund=taking,
            required=rate * self.base * taking,
            delivered=new * self.base,
            carried=self.carried * self.base,
        )

    def save(self, ctx: Context) -> None:
        """A twelfth of the year's extra efficiency (delivered so far) each month, kept by the
        trust: a recurrent cost reduction."""
        if self.carried.any():
            saving = self.carried * self.base / 12.0
            ctx.ledger.post(self.bodies, EXTERNAL, -saving, "operating_cost", "recurrent")
