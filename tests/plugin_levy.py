"""A user's plug-in mechanism in an importable module (tests/ is a package), for test_system:
a worker process imports it by itself when it unpickles a scenario's System."""

from __future__ import annotations

from typing import Any

import numpy as np

from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import StrictModel


class LevyConfig(StrictModel):
    rate: float


class Levy(Mechanism):
    """A levy on every provider's contract income, paid to the centre each month."""

    section = "levy"
    Config = LevyConfig

    def __init__(self, config: LevyConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.providers = ctx.economy.of_type("provider")
        self.centre = ctx.economy.index("nhse")

    def phases(self) -> dict[str, Any]:
        return {"costs": self.charge}

    def charge(self, ctx: Context) -> None:
        value = ctx.state["contracts.activity_value"]
        income = np.zeros((ctx.R, ctx.economy.n_accounts))
        np.add.at(income, (slice(None), ctx.state["contracts.provider"]), value)
        amount = income[:, self.providers] * self.config.rate
        ctx.ledger.post(self.providers, self.centre, amount, "other_income", "non_recurrent")


class Toll(Levy):
    """The same levy under another section, for a second System in the same process."""

    section = "toll"


def register(system: Any) -> Any:
    """An entry point's callable form: the System to use, given the one so far."""
    return system.with_mechanism(Toll)
