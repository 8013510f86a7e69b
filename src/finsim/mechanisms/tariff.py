"""The national tariff: a price per point of delivery, moved each year.

What it models: under Payment by Results each unit of activity at a point of
delivery (an elective admission, a first outpatient attendance...) is paid at a
national price, adjusted for the provider's market forces factor. Each year
prices move by the cost uplift less the efficiency factor (e.g. 2014/15:
+2.5% - 4%; 2016/17: +3.1% - 2%; 2019/20: +3.8% - 1.1%).

Prices are given in GBP per unit for the first simulated year. The points of
delivery a scenario uses are the keys of ``prices``; contracts plan activity
against them. Sets ``ctx.state["tariff.price"]``, shape ``(P,)``, at each
year start, and ``ctx.state["tariff.pods"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from pydantic import Field

from finsim.mechanisms.base import Context, Mechanism
from finsim.registry import register_mechanism
from finsim.scenario.models import StrictModel
from finsim.scenario.params import ByYear
from finsim.scenario.validate import References

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


class TariffConfig(StrictModel):
    """National prices and how they move."""

    prices: dict[str, float] = Field(
        min_length=1,
        description="GBP per unit of activity in the first simulated year, by point of delivery",
    )
    cost_uplift: ByYear = Field(
        default_factory=lambda: ByYear.constant(0.0),
        description="cost uplift factor into each year (0.031 = 3.1%)",
    )
    efficiency: ByYear = Field(
        default_factory=lambda: ByYear.constant(0.0),
        description="efficiency factor deducted from the uplift each year (0.02 = 2%)",
    )


@register_mechanism
class Tariff(Mechanism):
    """National prices by point of delivery, uplifted net of efficiency each year."""

    section = "tariff"
    Config = TariffConfig
    config: TariffConfig

    def __init__(self, config: TariffConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.pods = tuple(config.prices)
        self.price = np.array([config.prices[p] for p in self.pods], dtype=np.float64)
        ctx.state["tariff.pods"] = self.pods
        ctx.state["tariff.price"] = self.price

    @classmethod
    def check(cls, config: TariffConfig, refs: References) -> None:
        for pod, price in config.prices.items():
            if price < 0:
                refs.add(("tariff", "prices", pod), f"expected a price >= 0, got {price}")

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.move_prices}

    def move_prices(self, ctx: Context) -> None:
        """Apply the year's cost uplift less efficiency to every price (from the second year)."""
        if ctx.fy > 0:
            year = ctx.fy_start_year
            self.price *= 1.0 + self.config.cost_uplift.at(year) - self.config.efficiency.at(year)
