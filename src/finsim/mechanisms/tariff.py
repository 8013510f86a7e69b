"""The national tariff: a price per point of delivery, moved each year, and its national rules.

What it models: under Payment by Results each unit of activity at a point of
delivery (an elective admission, a first outpatient attendance...) is paid at a
national price, adjusted for the provider's market forces factor. Each year
prices move by the cost uplift less the efficiency factor (e.g. 2014/15:
+2.5% - 4%; 2016/17: +3.1% - 2%; 2019/20: +3.8% - 1.1%), unless the scenario
gives the year's published price for a point of delivery, which then applies.

National rules carried with the tariff:

* the **emergency marginal rate**: emergency admissions above a baseline are
  paid at a share of price (30% from 2010/11 to 2014/15, 50% in 2015/16, 70%
  from 2016/17 to 2018/19, then replaced by blended payment), applied by
  :mod:`finsim.mechanisms.contracts` in each month's accrual, against a baseline fixed in a
  base year (value moving with the tariff only), the commissioner keeping the rest of the
  price and reinvesting the share ``reinvested`` of it;
* the optional **short-stay emergency adjustment**: a share of emergency
  admissions are short stays paid at a reduced price, lowering the average
  non-elective price;
* **money moved into prices** (``into_prices``): a national sum put into the prices of some
  points of delivery in a year, as the GBP 1bn of the Provider Sustainability Fund moved
  into urgent and emergency care prices in 2019/20 (``provider_funds.psf.moved_to_uec_prices``;
  T9, F18; S). The prices of those points of delivery rise, in that year, by the share that
  adds the sum at the first simulated year's planned activity of the contracts paid at
  tariff (every contract but a block), each at its provider's market forces factor:
  ``raise = amount / sum(plan x price x MFF)``. The raised price is the base later years
  move from, so the move is recurrent. Where the money comes from (commissioners'
  allocations, for 2019/20) is the allocations' business, not the tariff's.

Prices are in GBP per unit. Sets ``ctx.state["tariff.price"]`` ``(P,)`` (the
average price actually paid per unit, after the short-stay adjustment) at each
year start, and ``ctx.state["tariff.pods"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, NamedTuple

import numpy as np
from pydantic import Field

from finsim.calendar import fy_label
from finsim.errors import did_you_mean
from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import FYLabel, Money, StrictModel
from finsim.scenario.params import Growth, PriceByYear, ShareByYear
from finsim.scenario.units import Share
from finsim.state import Slot

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

#: Points of delivery with conventional names; a scenario may add its own.
STANDARD_PODS = (
    "elective",
    "day_case",
    "non_elective",
    "outpatient_first",
    "outpatient_follow_up",
    "ae",
    "critical_care",
)


class MarginalRate(StrictModel):
    """Emergency activity above a baseline paid at a share of price."""

    rate: ShareByYear = Field(description="share of price paid above the baseline (0.3, 0.5, 0.7)")
    pods: list[str] = Field(
        default_factory=lambda: ["non_elective"], description="the points of delivery it covers"
    )
    baseline: Literal["base_year", "plan"] = Field(
        default="base_year",
        description="base_year: the baseline is each contract's emergency activity in a base "
        "year (its emergency_baseline, else its first-year plan), fixed in units so its value "
        "moves with the tariff only, as the rule of 2010/11 on; plan: it grows with the plan",
    )
    reinvested: Share = Field(
        default=0.0,
        description="share of the price retained above the baseline the commissioner spends in "
        "the year on admission-avoidance schemes (the rest stays in its surplus)",
    )
    reinvested_with: Literal["provider", "external"] = Field(
        default="provider",
        description="who runs those schemes: the contract's provider (agreed with providers "
        "from 2013/14) or bodies outside the NHS",
    )


class MarginalRule(NamedTuple):
    """The marginal rate in force in a year (``tariff.marginal_rate``)."""

    mask: np.ndarray  # (P,) bool: the points of delivery it covers
    rate: float
    baseline: str
    reinvested: float
    reinvested_with: str


class ShortStay(StrictModel):
    """Short-stay emergency admissions paid at a reduced price."""

    pod: str = Field(default="non_elective", description="the point of delivery it covers")
    share: Share = Field(description="share of admissions that are short stays")
    reduction: Share = Field(description="price reduction for a short stay, a share of price")


class IntoPrices(StrictModel):
    """A national sum moved into the prices of some points of delivery."""

    pods: list[str] = Field(
        min_length=1, description="the points of delivery whose prices take the money"
    )
    amount: dict[FYLabel, Money] = Field(
        description="GBP m moved into those prices in each year it was moved (recurrent); "
        "sized on the first simulated year's planned units at list price (not grown with "
        "later plans, nor reduced by a short-stay rule): an approximation for later years"
    )


class TariffConfig(StrictModel):
    """National prices, how they move, and national payment rules."""

    prices: dict[str, PriceByYear] = Field(
        min_length=1,
        description="GBP per unit by point of delivery: the first simulated year's price, "
        "and any later year's published price",
    )
    cost_uplift: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="cost uplift factor into each year (0.031 = 3.1%)",
    )
    efficiency: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="efficiency factor deducted from the uplift each year (0.02 = 2%)",
    )
    emergency_marginal_rate: MarginalRate | None = Field(
        default=None, description="emergency activity above a baseline paid at a share of price"
    )
    short_stay_emergency: ShortStay | None = Field(
        default=None, description="short-stay emergency admissions paid at a reduced price"
    )
    into_prices: list[IntoPrices] = Field(
        default_factory=list,
        description="national sums moved into the prices of points of delivery, e.g. "
        "{pods: [non_elective, ae], amount: {2019/20: 1000}} (the PSF's GBP 1bn into urgent "
        "and emergency care prices)",
    )


class Tariff(Mechanism):
    """National prices by point of delivery, uplifted net of efficiency each year."""

    section = "tariff"
    order = 20
    Config = TariffConfig
    config: TariffConfig
    provides = (
        Slot("tariff.pods", "tuple of P str", "the points of delivery priced, in order"),
        Slot("tariff.price", "(P,)", "this year's price per unit, GBP (from year start)"),
        Slot(
            "tariff.marginal_rate",
            "None or MarginalRule",
            "the PODs paid at the emergency marginal rate above baseline, the rate and its rules",
        ),
    )

    def __init__(self, config: TariffConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.pods = tuple(config.prices)
        self.list_price = np.zeros(len(self.pods))
        self.price = np.zeros(len(self.pods))
        self.priced_plan = self._priced_plan(ctx) if config.into_prices else None
        ctx.state["tariff.pods"] = self.pods
        ctx.state["tariff.price"] = self.price
        ctx.state["tariff.marginal_rate"] = None

    @classmethod
    def check(cls, config: TariffConfig, refs: ReferencesLike) -> None:
        pods = list(config.prices)
        rules: list[tuple[tuple[str | int, ...], str]] = []
        if config.emergency_marginal_rate is not None:
            rules += [
                (("tariff", "emergency_marginal_rate", "pods", i), pod)
                for i, pod in enumerate(config.emergency_marginal_rate.pods)
            ]
        if config.short_stay_emergency is not None:
            rules.append(
                (("tariff", "short_stay_emergency", "pod"), config.short_stay_emergency.pod)
            )
        for i, move in enumerate(config.into_prices):
            rules += [(("tariff", "into_prices", i, "pods", j), p) for j, p in enumerate(move.pods)]
        for path, pod in rules:
            if pod not in pods:
                refs.add(path, f"unknown point of delivery '{pod}'", did_you_mean(pod, pods))
        run = [fy_label(refs.start_year + i) for i in range(refs.n_years)]
        for i, move in enumerate(config.into_prices):
            for label in move.amount:
                if label not in run:
                    refs.add(
                        ("tariff", "into_prices", i, "amount", label),
                        f"{label} is not a simulated year ({run[0]} to {run[-1]}): the money "
                        "would move nowhere",
                    )
        # prices move by 1 + uplift - efficiency: below zero, they would turn negative
        for year in range(refs.start_year + 1, refs.start_year + refs.n_years):
            try:
                net = config.cost_uplift.at(year) - config.efficiency.at(year)
            except KeyError:  # a year before the first given: check_years reports it
                continue
            if net < -1.0:
                refs.add(
                    ("tariff", "efficiency"),
                    f"in {fy_label(year)} the efficiency factor ({config.efficiency.at(year):g}) "
                    f"less the cost uplift ({config.cost_uplift.at(year):g}) is more than 100%: "
                    "prices would turn negative; expected uplift - efficiency >= -1",
                )
                break

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.set_prices}

    def set_prices(self, ctx: Context) -> None:
        """The year's prices: published where given, else last year's moved by uplift less efficiency."""
        year = ctx.fy_start_year
        for i, pod in enumerate(self.pods):
            given = self.config.prices[pod]
            if ctx.fy == 0 or given.given_for(year):
                self.list_price[i] = given.at(year)
            else:
                self.list_price[i] *= (
                    1.0 + self.config.cost_uplift.at(year) - self.config.efficiency.at(year)
                )
        label = fy_label(year)
        for move in self.config.into_prices:
            if label in move.amount and self.priced_plan is not None:
                mask = np.isin(np.array(self.pods), move.pods)
                value = float(self.priced_plan[mask] @ self.list_price[mask]) / 1e6
                if value > 0:
                    self.list_price[mask] *= 1.0 + move.amount[label] / value
        self.price[:] = self.list_price
        short = self.config.short_stay_emergency
        if short is not None:
            self.price[self.pods.index(short.pod)] *= 1.0 - short.share * short.reduction
        rule = self.config.emergency_marginal_rate
        if rule is not None:
            mask = np.isin(np.array(self.pods), rule.pods)
            ctx.state["tariff.marginal_rate"] = MarginalRule(
                mask, rule.rate.at(year), rule.baseline, rule.reinvested, rule.reinvested_with
            )

    def _priced_plan(self, ctx: Context) -> np.ndarray:
        """Units of the first year's plan paid at tariff, at market forces factors, ``(P,)``:
        every contract but a block, each weighted by its provider's factor (read once)."""
        model = ctx.scenario.model
        mff = {p.id: p.market_forces_factor for p in model.organisations.providers}  # type: ignore[attr-defined]
        index = {pod: i for i, pod in enumerate(self.pods)}
        out = np.zeros(len(self.pods))
        for contract in getattr(model, "contracts", None) or []:
            if contract.type != "block":
                for pod, units in contract.plan.items():
                    if pod in index:
                        out[index[pod]] += units * mff.get(contract.provider, 1.0)
        return out
