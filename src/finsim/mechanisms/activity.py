"""Activity: how many patients are treated against the plan, and how it is coded.

What it models: commissioners and providers plan activity for the year; what
happens differs. Realised activity in a month is

    plan x (trend / planned growth to date) x level x seasonality[month] x annual shock x noise

* the **trend** (``growth``) is how demand actually grows each year; plans grow
  by ``plan_growth`` (by default the same, so only shocks surprise anyone);
* the **level** is expected demand against plan in a year (0.99: plans were 1% high);
* the **annual shock** is one lognormal draw per contract and year (mean 1),
  correlated within a system: ``z = sqrt(rho) z_system + sqrt(1 - rho) z_contract``
  with ``rho = correlation``, the system being the commissioner's;
* the **monthly noise** is one lognormal draw (mean 1) per contract, point of
  delivery and month: the bulk of all the random numbers a run draws, so its
  normals come from a run-long sequence per replication
  (:meth:`finsim.random.Streams.sequence`, numpy's ziggurat).

**Coding drift** (``case_mix``): a provider's reported case mix can rise each
year by a rate (upcoding, or a change in counting and coding practice),
raising the price per unit it bills. The contracts mechanism applies it on top
of the case mix the commissioner has accepted; commissioners see it as value
above plan and may challenge it (:mod:`finsim.mechanisms.disputes`).

Reads the contracts' plans from the scenario; publishes ``activity.plan`` ``(C, P)`` (this year's
planned units), ``activity.realised`` ``(R, C, P)`` (the month's units) and
``activity.case_mix_uplift`` ``(C,)`` (this year's coding drift per contract).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field, field_validator

from finsim.mechanisms.base import Context, Mechanism
from finsim.mechanisms.contracts import plan_matrix
from finsim.scenario.models import StrictModel
from finsim.scenario.params import Growth, GrowthByYear, RateByYear
from finsim.scenario.units import RATE, Weight
from finsim.state import Slot

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class ActivityConfig(StrictModel):
    """Demand growth, uncertainty and coding."""

    growth: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="growth of demand into each year (not applied in the first year)",
    )
    plan_growth: Growth | None = Field(
        default=None, description="growth of planned activity into each year (default: growth)"
    )
    level: RateByYear = Field(
        default_factory=lambda: RateByYear.constant(1.0),
        description="expected demand relative to plan in each year (0.99 = 1% below plan)",
    )
    shock_sd: Annotated[float, RATE(le=2)] = Field(
        default=0.0, description="sd of the log of the annual shock per contract"
    )
    correlation: Annotated[float, RATE(le=1)] = Field(
        default=0.0, description="correlation of annual shocks within a system"
    )
    monthly_sd: Annotated[float, RATE(le=2)] = Field(
        default=0.0, description="sd of the log of the monthly noise"
    )
    seasonality: list[Weight] | None = Field(
        default=None,
        description="12 factors, April first, for the share of the year's activity in each month; "
        "rescaled to average 1",
    )
    case_mix: dict[str, GrowthByYear] = Field(
        default_factory=dict,
        description="coding drift by provider: rise in reported case mix in each year (0.035 = 3.5%)",
    )

    @field_validator("seasonality")
    @classmethod
    def _twelve(cls, value: list[float] | None) -> list[float] | None:
        if value is not None:
            if len(value) != 12 or any(v < 0 for v in value) or sum(value) <= 0:
                raise ValueError("expected 12 non-negative factors, April to March, not all zero")
        return value


def lognormal_mean_one(z: np.ndarray, sd: float) -> np.ndarray:
    """exp(sd z - sd^2 / 2): a lognormal factor with mean exactly 1 (computed in ``z``'s place)."""
    z *= sd
    z -= 0.5 * sd * sd
    return np.exp(z, out=z)


class Activity(Mechanism):
    """Realised activity per contract and point of delivery, each month, and coding drift."""

    section = "activity"
    order = 30
    Config = ActivityConfig
    config: ActivityConfig
    provides = (
        Slot("activity.plan", "(C, P)", "this year's planned units per contract and POD"),
        Slot(
            "activity.case_mix_uplift",
            "(C,)",
            "this year's coding drift: the rise of each contract's reported case mix",
        ),
        Slot("activity.realised", "(R, C, P)", "the month's units (from the activity phase)"),
        Slot(
            "activity.profile",
            "(12,)",
            "share of the year's planned activity done by the end of each month (seasonality)",
        ),
    )

    def __init__(self, config: ActivityConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        contracts = ctx.scenario.model.contracts or []  # type: ignore[attr-defined]
        tariff = ctx.scenario.model.tariff  # type: ignore[attr-defined]
        self.plan = plan_matrix(contracts, tuple(tariff.prices) if tariff is not None else ())
        n = self.plan.shape[0]
        season = np.ones(12) if config.seasonality is None else np.array(config.seasonality)
        self.season = season / season.mean()
        profile = np.cumsum(self.season) / 12.0
        profile[-1] = 1.0
        ctx.state["activity.profile"] = profile
        self.trend_to_date = 1.0
        self.plan_to_date = 1.0
        self.annual_shock = np.ones((ctx.R, n))
        self.expected = np.broadcast_to(self.plan, (ctx.R, *self.plan.shape))
        self.noise = (
            self.rng.sequence("monthly_noise", shape=self.plan.shape)
            if config.monthly_sd > 0
            else None
        )
        commissioner = ctx.economy.indices([c.commissioner for c in contracts])
        system = ctx.economy.system[commissioner]
        self.systems, self.system_of = np.unique(system, return_inverse=True)
        provider = ctx.economy.indices([c.provider for c in contracts])
        self.drifting = [
            (np.flatnonzero(provider == ctx.economy.index(pid)), rate)
            for pid, rate in config.case_mix.items()
        ]

    @classmethod
    def check(cls, config: ActivityConfig, refs: ReferencesLike) -> None:
        for org_id in config.case_mix:
            refs.org(("activity", "case_mix", org_id), org_id, ("provider",))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.new_year, "activity": self.realise}

    def new_year(self, ctx: Context) -> None:
        """Grow demand and plans into the year, draw the year's shocks, set coding drift."""
        year = ctx.fy_start_year
        if ctx.fy > 0:
            self.trend_to_date *= 1.0 + self.config.growth.at(year)
            planned = self.config.plan_growth or self.config.growth
            self.plan_to_date *= 1.0 + planned.at(year)
        ctx.state["activity.plan"] = self.plan * self.plan_to_date
        n = self.plan.shape[0]
        rho = self.config.correlation
        z = np.sqrt(1.0 - rho) * self.rng.normal("annual_shock", ctx.fy, shape=(n,))
        if rho > 0 and n:
            shared = self.rng.normal("system_shock", ctx.fy, shape=(self.systems.size,))
            z = z + np.sqrt(rho) * shared[:, self.system_of]
        self.annual_shock = lognormal_mean_one(z, self.config.shock_sd) * self.config.level.at(year)
        # the year's expected units per contract and POD before seasonality: (R, C, P)
        self.expected = self.plan[None] * (self.trend_to_date * self.annual_shock[:, :, None])
        uplift = np.zeros(n)
        for contracts, rate in self.drifting:
            uplift[contracts] = rate.at(year)
        ctx.state["activity.case_mix_uplift"] = uplift

    def realise(self, ctx: Context) -> None:
        """Draw the month's activity: expected units x seasonality / 12 x the month's noise."""
        month_share = self.season[ctx.month - 1] / 12.0
        if self.noise is not None and month_share > 0:
            # exp(sd z - sd^2 / 2 + log(share)) x expected: the share folded into the exponent
            sd = self.config.monthly_sd
            realised = self.noise.next()
            realised *= sd
            realised += np.log(month_share) - 0.5 * sd * sd
            np.exp(realised, out=realised)
            realised *= self.expected
        else:
            if self.noise is not None:  # a month with no activity still takes its numbers
                self.noise.next()
            realised = self.expected * month_share
        ctx.state["activity.realised"] = realised
