"""Savings programmes: provider CIPs, commissioner QIPP, system-wide programmes (seeds 003, 004).

What it models: each year a body plans to save a sum (a share of its operating
costs, or an amount), and delivers a random share of it (logit-normal,
mean and sd given, one draw per body and replication). Part of what is
delivered is *recurrent* (it lowers the cost base for good, so the saving
recurs in later years) and the rest *non-recurrent* (one-off measures that
do not reduce next year's cost base and are excluded from the underlying
position). A *system-wide* programme sets one plan for a system, shared among
its members pro rata to their costs, and draws one delivery rate for the system.

Delivered savings reduce operating costs through the year, in twelfths: the
recurrent part as a lower recurrent ``operating_cost`` (carried into every
later year), the non-recurrent part as a negative non-recurrent
``operating_cost``. Unmet savings show in the position as costs not saved.
``res.table("savings")`` reports plan, delivery and shortfall per body and year.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field, model_validator

from finsim.economy import EXTERNAL
from finsim.ledger import Category
from finsim.mechanisms.base import BridgeView, Context, Driver, Mechanism
from finsim.mechanisms.control_totals import Delivery
from finsim.mechanisms.transfers import members
from finsim.scenario.models import FYLabel, Id, Money, StrictModel
from finsim.scenario.params import ShareByYear
from finsim.scenario.units import Share
from finsim.state import optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Programme(StrictModel):
    """One savings programme."""

    id: Id = Field(description="unique among the programmes")
    who: Id | Literal["providers", "commissioners"] | list[Id] = Field(
        description="the bodies saving: a group, a list of ids, or (with system_wide) a system"
    )
    share_of_costs: ShareByYear | None = Field(
        default=None, description="planned saving as a share of the body's operating costs"
    )
    amount: dict[str, Money] | None = Field(
        default=None, description="planned saving per body, GBP m a year"
    )
    delivery: Delivery = Field(
        default_factory=Delivery, description="share of the planned saving delivered"
    )
    recurrent_share: Share = Field(
        default=1.0, description="share of the saving that recurs in later years"
    )
    system_wide: bool = Field(
        default=False, description="one plan and one delivery draw per system"
    )
    years: list[FYLabel] | None = Field(
        default=None, description="years it runs (default: every year)"
    )

    @model_validator(mode="after")
    def _size(self) -> Programme:
        if (self.share_of_costs is None) == (self.amount is None):
            raise ValueError("give either share_of_costs or amount")
        return self


class SavingsConfig(StrictModel):
    """Savings programmes."""

    programmes: list[Programme] = Field(default_factory=list, description="the programmes")


class Savings(Mechanism):
    """Planned savings delivered at random rates, recurrent and non-recurrent."""

    section = "savings"
    order = 72
    categories = (
        Category(
            "savings", "extra surplus asked of a body, moved to where it is needed", "subsidy"
        ),
    )
    drivers = (
        Driver("savings shortfall", 30),
        Driver("interventions", 60, ("savings",)),
    )

    @classmethod
    def waterfall(cls, view: BridgeView) -> Mapping[str, float]:
        """*savings shortfall*: savings planned but not delivered; *interventions*: less the
        one-off (non-recurrent) part of programmes' delivery, counted as cost cuts there."""
        savings = view.table("savings")
        if savings is None or not len(savings):
            return {}
        mine = savings[savings["org"].isin(view.ids)]
        shortfall = float(mine["shortfall"].sum()) / view.R
        one_off = float((mine["delivered"] - mine["recurrent"]).sum()) / view.R
        return {"savings shortfall": 0.0 - shortfall, "interventions": -one_off}

    Config = SavingsConfig
    config: SavingsConfig
    requires = (optional("costs.annual"),)

    def __init__(self, config: SavingsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.who = []
        for p in config.programmes:
            if p.system_wide:
                system = economy.index(p.who) if isinstance(p.who, str) else -1
                found = np.flatnonzero(
                    (economy.system == system) & np.isin(economy.org_type, [4, 5])
                )
            else:
                found = members(economy, p.who)
            self.who.append(found)
        #: recurrent savings delivered so far, carried into every later year (R, A)
        self.recurrent = np.zeros((ctx.R, economy.n_accounts))
        self.this_year = np.zeros((ctx.R, economy.n_accounts))  # recurrent, this year's new
        self.one_off = np.zeros((ctx.R, economy.n_accounts))

    @classmethod
    def check(cls, config: SavingsConfig, refs: ReferencesLike) -> None:
        for i, p in enumerate(config.programmes):
            path = ("savings", "programmes", i)
            if p.system_wide:
                if not isinstance(p.who, str) or p.who in ("providers", "commissioners"):
                    refs.add(path + ("who",), "a system-wide programme names one system")
                else:
                    refs.org(path + ("who",), p.who, ("system",))
            elif isinstance(p.who, list):
                for j, org_id in enumerate(p.who):
                    refs.org(path + ("who", j), org_id, ("commissioner", "provider"))
            elif p.who not in ("providers", "commissioners"):
                refs.org(path + ("who",), p.who, ("commissioner", "provider"))
            for org_id in p.amount or {}:
                refs.org(path + ("amount", org_id), org_id, ("commissioner", "provider", "system"))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.plan, "costs": self.deliver}

    def plan(self, ctx: Context) -> None:
        """Plan the year's savings and draw how much each body will deliver."""
        self.recurrent += self.this_year
        self.this_year = np.zeros_like(self.recurrent)
        self.one_off = np.zeros_like(self.recurrent)
        costs = (
            ctx.state["costs.annual"]
            if "costs.annual" in ctx.state  # only with a costs section
            else np.zeros(ctx.economy.n_accounts)
        )
        label = ctx.calendar.labels[ctx.fy]
        for k, (p, who) in enumerate(zip(self.config.programmes, self.who, strict=True)):
            if (p.years is not None and label not in p.years) or who.size == 0:
                continue
            if p.amount is not None:
                if p.system_wide:
                    total = sum(p.amount.values())
                    weights = (
                        costs[who] / costs[who].sum()
                        if costs[who].sum() > 0
                        else np.full(who.size, 1 / who.size)
                    )
                    planned = total * weights
                else:
                    planned = np.array([p.amount.get(ctx.economy.ids[a], 0.0) for a in who])
            else:
                assert p.share_of_costs is not None
                planned = p.share_of_costs.at(ctx.fy_start_year) * costs[who]
            n_draws = 1 if p.system_wide else who.size
            rate = p.delivery.draw(self.rng.uniform(p.id, ctx.fy, k, shape=(n_draws,)))
            delivered = planned * rate
            self.this_year[:, who] += delivered * p.recurrent_share
            self.one_off[:, who] += delivered * (1 - p.recurrent_share)
            ctx.records.record(
                "savings",
                who,
                {"programme": p.id},
                planned=planned,
                delivered=delivered,
                recurrent=delivered * p.recurrent_share,
                shortfall=planned - delivered,
            )

    def deliver(self, ctx: Context) -> None:
        """Lower the month's costs by a twelfth of the savings in force."""
        recurrent = (self.recurrent + self.this_year) / 12.0
        bodies = np.flatnonzero((recurrent != 0).any(axis=0) | (self.one_off != 0).any(axis=0))
        if bodies.size == 0:
            return
        ctx.ledger.post(bodies, EXTERNAL, -recurrent[:, bodies], "operating_cost", "recurrent")
        ctx.ledger.post(
            bodies, EXTERNAL, -self.one_off[:, bodies] / 12.0, "operating_cost", "non_recurrent"
        )
