"""Contracts between commissioners and providers, paid monthly.

What it models: a commissioner buys care from a provider under a contract.
An *activity-based* contract pays each unit of realised activity at the
national tariff price times the provider's market forces factor (Payment by
Results); a *block* contract pays a fixed annual sum in twelve monthly
instalments, whatever the activity. Payments are ``contract_payment`` postings
from commissioner to provider, recurrent (they are the contract baseline).

Contract plans (activity per point of delivery in the first simulated year)
are published in ``ctx.state["contracts.plan"]`` ``(C, P)`` for the activity
mechanism, which realises them; each month this mechanism reads
``ctx.state["activity.realised"]`` ``(R, C, P)`` and publishes the value of
that activity at tariff, ``ctx.state["contracts.activity_value"]`` ``(R, C)``
in GBP m, which providers' variable costs follow.

Source: the national tariff and NHS standard contract (seeds 002, 004).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
from pydantic import Field

from finsim.errors import did_you_mean
from finsim.mechanisms.base import Context, Mechanism
from finsim.registry import register_mechanism
from finsim.scenario.models import Id, Money, StrictModel
from finsim.scenario.params import ByYear
from finsim.scenario.validate import References

#: GBP per unit x units -> GBP m.
PER_MILLION = 1e-6


class Contract(StrictModel):
    """One contract between a commissioner and a provider."""

    id: Id
    commissioner: Id
    provider: Id
    type: Literal["activity", "block"] = "activity"
    plan: dict[str, float] = Field(
        default_factory=dict,
        description="planned activity per point of delivery in the first simulated year, units",
    )
    value: Money | None = Field(
        default=None, description="block contracts: annual value in the first simulated year, GBP m"
    )
    growth: ByYear | None = Field(
        default=None,
        description="block contracts: growth of the value into each year "
        "(default: the tariff's cost uplift less efficiency)",
    )


@register_mechanism
class Contracts(Mechanism):
    """Activity-based and block contracts paying providers each month."""

    section = "contracts"
    Config = list[Contract]
    config: list[Contract]

    def __init__(self, config: list[Contract], ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.pods: tuple[str, ...] = ctx.state.get("tariff.pods", ())
        self.commissioner = economy.indices([c.commissioner for c in config])
        self.provider = economy.indices([c.provider for c in config])
        pod_index = {p: i for i, p in enumerate(self.pods)}
        self.plan = np.zeros((len(config), len(self.pods)))
        for i, contract in enumerate(config):
            for pod, units in contract.plan.items():
                self.plan[i, pod_index[pod]] = units
        self.is_block = np.array([c.type == "block" for c in config], dtype=bool)
        self.block_value = np.array([c.value or 0.0 for c in config], dtype=np.float64)
        provider_mff = {
            p.id: p.market_forces_factor
            for p in ctx.scenario.model.organisations.providers  # type: ignore[attr-defined]
        }
        self.mff = np.array([provider_mff[c.provider] for c in config], dtype=np.float64)
        ctx.state["contracts.plan"] = self.plan
        ctx.state["contracts.provider"] = self.provider
        ctx.state["contracts.commissioner"] = self.commissioner
        self.tariff = ctx.scenario.model.tariff  # type: ignore[attr-defined]

    @classmethod
    def check(cls, config: list[Contract], refs: References) -> None:
        tariff = getattr(refs.model, "tariff", None)
        pods = list(tariff.prices) if tariff is not None else []
        seen: dict[str, int] = {}
        for i, contract in enumerate(config):
            path = ("contracts", i)
            if contract.id in seen:
                refs.add(
                    path + ("id",),
                    f"duplicate contract id '{contract.id}' (also contracts[{seen[contract.id]}])",
                )
            seen.setdefault(contract.id, i)
            refs.org(path + ("commissioner",), contract.commissioner, ("commissioner",))
            refs.org(path + ("provider",), contract.provider, ("provider",))
            for pod, units in contract.plan.items():
                if pod not in pods:
                    where = "the tariff's prices" if pods else "a 'tariff' section (none is given)"
                    refs.add(
                        path + ("plan", pod),
                        f"unknown point of delivery '{pod}'; expected one of {where}",
                        did_you_mean(pod, pods),
                    )
                if units < 0:
                    refs.add(path + ("plan", pod), f"expected activity >= 0, got {units}")
            if contract.type == "block" and contract.value is None:
                refs.add(path + ("value",), "a block contract needs its annual value, GBP m")
            if contract.type == "activity" and not contract.plan:
                refs.add(
                    path + ("plan",),
                    "an activity contract needs a plan of activity per point of delivery",
                )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.new_year, "billing": self.bill, "payment": self.pay}

    def new_year(self, ctx: Context) -> None:
        """Uplift block values into the new year."""
        if ctx.fy == 0:
            return
        year = ctx.fy_start_year
        default = 0.0
        if self.tariff is not None:
            default = self.tariff.cost_uplift.at(year) - self.tariff.efficiency.at(year)
        growth = np.array(
            [c.growth.at(year) if c.growth is not None else default for c in self.config]
        )
        self.block_value *= 1.0 + growth

    def bill(self, ctx: Context) -> None:
        """Value the month's realised activity at tariff (GBP m), per contract."""
        realised = ctx.state.get("activity.realised")
        if realised is None or not self.pods:
            self.activity_value = np.zeros((ctx.R, len(self.config)))
        else:
            price = ctx.state["tariff.price"]
            self.activity_value = (realised @ price) * self.mff * PER_MILLION
        ctx.state["contracts.activity_value"] = self.activity_value

    def pay(self, ctx: Context) -> None:
        """Pay activity contracts for activity, block contracts a twelfth of their value."""
        amount = np.where(self.is_block, self.block_value / 12.0, self.activity_value)
        ctx.ledger.post(self.commissioner, self.provider, amount, "contract_payment")
