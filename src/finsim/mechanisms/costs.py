"""Operating costs and other income: the money that leaves and enters the NHS.

What it models: a provider pays its staff and suppliers (``operating_cost`` to
``external``): a fixed cost that grows with pay and price inflation, and a
variable cost that follows the activity it does (a share of that activity's
value at tariff, whether or not the contract pays for it). It also earns other
income (education and training, research, private patients: ``other_income``
from ``external``). A commissioner spends outside its contracts (prescribing,
primary care, running costs: ``operating_cost`` to ``external``).

All flows are monthly twelfths, recurrent. Reads
``ctx.state["contracts.activity_value"]`` ``(R, C)`` and
``ctx.state["contracts.provider"]`` ``(C,)`` when contracts are active; publishes
``costs.annual``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field

from finsim.economy import EXTERNAL
from finsim.ledger import scatter_add
from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import Money, StrictModel
from finsim.scenario.params import Growth
from finsim.scenario.units import RATE
from finsim.state import Slot, optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class ProviderCosts(StrictModel):
    """A provider's operating costs and other income."""

    fixed: Money = Field(default=0.0, description="fixed operating cost in the first year, GBP m")
    variable: Annotated[float, RATE(le=5)] = Field(
        default=0.0, description="variable cost per GBP of activity value at tariff"
    )
    other_income: Money = Field(default=0.0, description="other income a year, GBP m")


class CommissionerCosts(StrictModel):
    """A commissioner's spending outside its contracts."""

    other_spend: Money = Field(
        default=0.0, description="spend outside contracts in the first year, GBP m"
    )


class CostsConfig(StrictModel):
    """What organisations spend besides contracts, and what else they earn."""

    inflation: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="growth of fixed costs, other spend and other income into each year",
    )
    providers: dict[str, ProviderCosts] = Field(
        default_factory=dict, description="costs and other income by provider id"
    )
    commissioners: dict[str, CommissionerCosts] = Field(
        default_factory=dict, description="spend outside contracts by commissioner id"
    )


class Costs(Mechanism):
    """Providers' and commissioners' operating costs and providers' other income."""

    section = "costs"
    order = 70
    Config = CostsConfig
    config: CostsConfig
    provides = (
        Slot(
            "costs.annual",
            "(A,)",
            "each body's annual cost base this year (providers' fixed costs, commissioners' "
            "other spending), GBP m (from year start)",
        ),
    )
    requires = (optional("contracts.activity_value"), optional("contracts.provider"))

    def __init__(self, config: CostsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.providers = economy.indices(list(config.providers))
        self.fixed = np.array([c.fixed for c in config.providers.values()], dtype=np.float64)
        self.other_income = np.array(
            [c.other_income for c in config.providers.values()], dtype=np.float64
        )
        # variable cost share per account, so contract-level values map straight onto it
        self.variable_share = np.zeros(economy.n_accounts)
        self.variable_share[self.providers] = [c.variable for c in config.providers.values()]
        self.commissioners = economy.indices(list(config.commissioners))
        self.other_spend = np.array(
            [c.other_spend for c in config.commissioners.values()], dtype=np.float64
        )
        self.inflation_to_date = 1.0

    @classmethod
    def check(cls, config: CostsConfig, refs: ReferencesLike) -> None:
        for org_id in config.providers:
            refs.org(("costs", "providers", org_id), org_id, ("provider",))
        for org_id in config.commissioners:
            refs.org(("costs", "commissioners", org_id), org_id, ("commissioner",))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.new_year, "costs": self.pay}

    def new_year(self, ctx: Context) -> None:
        """Inflate costs into the year; publish each body's annual cost base (``costs.annual``)."""
        if ctx.fy > 0:
            self.inflation_to_date *= 1.0 + self.config.inflation.at(ctx.fy_start_year)
        annual = np.zeros(ctx.economy.n_accounts)
        annual[self.providers] = self.fixed * self.inflation_to_date
        annual[self.commissioners] = self.other_spend * self.inflation_to_date
        ctx.state["costs.annual"] = annual

    def pay(self, ctx: Context) -> None:
        """Post the month's operating costs and other income."""
        k = self.inflation_to_date / 12.0
        variable = np.zeros((ctx.R, ctx.economy.n_accounts))
        value = None
        if "contracts.activity_value" in ctx.state:  # only with a contracts section
            value = ctx.state["contracts.activity_value"]
        if value is not None and value.shape[1]:
            provider = ctx.state["contracts.provider"]
            scatter_add(variable, provider, value * self.variable_share[provider])
        provider_cost = self.fixed * k + variable[:, self.providers]
        ctx.ledger.post(self.providers, EXTERNAL, provider_cost, "operating_cost")
        ctx.ledger.post(EXTERNAL, self.providers, self.other_income * k, "other_income")
        ctx.ledger.post(self.commissioners, EXTERNAL, self.other_spend * k, "operating_cost")
