"""A user's plug-in mechanism in an importable module (tests/ is a package), for test_system:
a worker process imports it by itself when it unpickles a scenario's System."""

from __future__ import annotations

from typing import Any

import numpy as np

from finsim.ledger import Category
from finsim.mechanisms.base import Context, Mechanism
from finsim.positions import PositionColumn, PositionView
from finsim.scenario.models import StrictModel
from finsim.state import Slot


def levied(ctx: Context, providers: np.ndarray, rate: float) -> np.ndarray:
    """The month's levy on each provider's contract income, ``(R, n)``."""
    value = ctx.state["contracts.activity_value"]
    income = np.zeros((ctx.R, ctx.economy.n_accounts))
    np.add.at(income, (slice(None), ctx.state["contracts.provider"]), value)
    return income[:, providers] * rate


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
        amount = levied(ctx, self.providers, self.config.rate)
        ctx.ledger.post(self.providers, self.centre, amount, "other_income", "non_recurrent")


class Toll(Levy):
    """The same levy under another section, for a second System in the same process."""

    section = "toll"


def register(system: Any) -> Any:
    """An entry point's callable form: the System to use, given the one so far."""
    return system.with_mechanism(Toll)


class Solidarity(Mechanism):
    """A levy on providers' contract income given to the first commissioner: a subsidy between
    bodies (its category's role), with a position column of its own (the rate charged)."""

    section = "solidarity"
    Config = LevyConfig
    categories = (Category("solidarity", "a provider's levy given to a commissioner", "subsidy"),)
    columns = (PositionColumn("solidarity_rate", 105, "the levy's rate, where charged"),)
    provides = (Slot("output.solidarity_rate", "(F, A)", "the rate charged each provider"),)
    requires = ("contracts.activity_value", "contracts.provider")

    def __init__(self, config: LevyConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.providers = ctx.economy.of_type("provider")
        self.commissioner = ctx.economy.of_type("commissioner")[0]
        rate = np.full((ctx.calendar.n_years, ctx.economy.n_accounts), np.nan)
        rate[:, self.providers] = config.rate
        ctx.state["output.solidarity_rate"] = rate

    def phases(self) -> dict[str, Any]:
        return {"costs": self.charge}

    def charge(self, ctx: Context) -> None:
        amount = levied(ctx, self.providers, self.config.rate)
        ctx.ledger.post(self.providers, self.commissioner, amount, "solidarity", "non_recurrent")

    @classmethod
    def positions(cls, view: PositionView) -> None:
        view.arrays["solidarity_rate"] = view.full("solidarity_rate")
