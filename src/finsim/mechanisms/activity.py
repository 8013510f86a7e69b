"""Activity: how many patients are actually treated, against the contract plan.

What it models: commissioners and providers plan activity for the year; what
happens differs. Realised activity in a month is

    plan x growth to date x seasonality[month] x annual shock x monthly noise

where the *annual shock* is one draw per contract and year (demand running hot
or cold for the whole year) and the *monthly noise* one per contract, point of
delivery and month. Both are lognormal with mean 1. Plans grow with expected
demand (``growth``) so that a shock is a surprise to both parties.

Reads ``ctx.state["contracts.plan"]`` ``(C, P)``; publishes
``ctx.state["activity.realised"]`` ``(R, C, P)`` for the month.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from pydantic import Field, field_validator

from finsim.mechanisms.base import Context, Mechanism
from finsim.registry import register_mechanism
from finsim.scenario.models import StrictModel
from finsim.scenario.params import ByYear


class ActivityConfig(StrictModel):
    """Demand growth and uncertainty."""

    growth: ByYear = Field(
        default_factory=lambda: ByYear.constant(0.0),
        description="growth of planned activity into each year (not applied in the first year)",
    )
    shock_sd: float = Field(
        default=0.0, ge=0, le=2, description="sd of the log of the annual shock per contract"
    )
    monthly_sd: float = Field(
        default=0.0, ge=0, le=2, description="sd of the log of the monthly noise"
    )
    seasonality: list[float] | None = Field(
        default=None,
        description="12 factors, April first, for the share of the year's activity in each month; "
        "rescaled to average 1",
    )

    @field_validator("seasonality")
    @classmethod
    def _twelve(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if len(value) != 12 or any(v < 0 for v in value) or sum(value) <= 0:
                raise ValueError("expected 12 non-negative factors, April to March, not all zero")
        return value


def lognormal_mean_one(z: np.ndarray, sd: float) -> np.ndarray:
    """exp(sd z - sd^2 / 2): a lognormal factor with mean exactly 1."""
    return np.exp(sd * z - 0.5 * sd * sd)


@register_mechanism
class Activity(Mechanism):
    """Realised activity per contract and point of delivery, each month."""

    section = "activity"
    Config = ActivityConfig
    config: ActivityConfig

    def __init__(self, config: ActivityConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.plan = np.asarray(ctx.state.get("contracts.plan", np.zeros((0, 0))))
        season = np.ones(12) if config.seasonality is None else np.array(config.seasonality)
        self.season = season / season.mean()
        self.growth_to_date = 1.0
        self.annual_shock = np.ones((ctx.R, self.plan.shape[0]))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.new_year, "activity": self.realise}

    def new_year(self, ctx: Context) -> None:
        """Grow plans into the year and draw the year's shock for each contract."""
        if ctx.fy > 0:
            self.growth_to_date *= 1.0 + self.config.growth.at(ctx.fy_start_year)
        ctx.state["activity.plan"] = self.plan * self.growth_to_date
        z = self.rng.normal("annual_shock", ctx.fy, shape=(self.plan.shape[0],))
        self.annual_shock = lognormal_mean_one(z, self.config.shock_sd)

    def realise(self, ctx: Context) -> None:
        """Draw the month's activity."""
        monthly = self.plan * (self.growth_to_date * self.season[ctx.month - 1] / 12.0)
        noise: float | np.ndarray = 1.0
        if self.config.monthly_sd > 0:
            z = self.rng.normal("monthly_noise", ctx.t, shape=self.plan.shape)
            noise = lognormal_mean_one(z, self.config.monthly_sd)
        ctx.state["activity.realised"] = monthly * self.annual_shock[:, :, None] * noise
