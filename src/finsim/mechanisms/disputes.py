"""Challenges and disputes over what was done and how it was coded (seed 002, east Kent).

What it models: at a review month commissioners compare what a provider has
billed to date with the plan. Where the disputed part (the coding component,
``basis: case_mix``, or the value above plan, ``basis: activity``) exceeds a
threshold, they challenge: at the year-end reconciliation they pay the plan and
withhold the disputed sum (see :mod:`finsim.mechanisms.contracts`). The dispute
then escalates through stages, each lasting whole months:

1. **negotiation** (the standard contract allows 15 operational days) and
2. **mediation**: each may settle, with a chance, at a share of the disputed sum;
3. **expert determination**: binding and *pendulum*: the expert finds wholly for
   the provider (with a chance) or wholly for the commissioner.

Each stage's fee is split between the parties (``dispute_costs`` to
``external``). The outcome is paid as ``dispute_settlement`` (non-recurrent,
booked to the disputed year while its accounts are open, otherwise a prior-year
item) and, in the provider's favour, sets the counting and coding basis for
the following years: the accepted case mix (or the plan value) rises by the
provider's share, so the higher value becomes recurrent in the contract
baseline. A commissioner win leaves the basis where it was, and the provider
codes to it.

The escalation is a SimPy process per disputed year over the shared clock,
vectorised across replications and contracts: every chance is drawn for all
replications at once and each replication follows its own path. Every stage
is an event in ``res.events`` (org = the commissioner, detail = the contract)
and each dispute a row of ``res.table("disputes")``.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from pydantic import Field

from finsim.economy import EXTERNAL
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.scenario.models import Money, StrictModel
from finsim.scenario.units import MONTH, WHOLE, Share
from finsim.state import Slot, later

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Stage(StrictModel):
    """A stage that may end in agreement."""

    months: Annotated[int, WHOLE(le=24)] = Field(default=1, description="how long it lasts")
    settle_chance: Share = Field(default=0.0, description="chance it ends in agreement")
    settle_share: Share = Field(
        default=0.5, description="share of the disputed sum the provider gets"
    )
    fee: Money = Field(
        default=0.0, description="cost of the stage, GBP m, split between the parties"
    )


class Determination(StrictModel):
    """Binding, pendulum expert determination."""

    months: Annotated[int, WHOLE(ge=1, le=24)] = Field(
        default=3, description="how long it takes to decide"
    )
    provider_wins: Share = Field(description="chance the expert finds for the provider")
    fee: Money = Field(default=0.0, description="cost of the determination, GBP m")


class DisputesConfig(StrictModel):
    """When commissioners challenge, and how a dispute escalates."""

    basis: Literal["case_mix", "activity"] = Field(
        default="case_mix", description="what is disputed: coding (case mix) or activity above plan"
    )
    review_month: Annotated[int, MONTH] = Field(
        default=10, description="month commissioners review data"
    )
    threshold: Share = Field(
        default=0.01,
        description="challenge when the disputed sum to date exceeds this share of plan",
    )
    min_amount: Money = Field(default=0.0, description="and is at least this, GBP m")
    negotiation: Stage = Field(
        default_factory=lambda: Stage(months=1), description="the first stage: the parties talk"
    )
    mediation: Stage = Field(
        default_factory=lambda: Stage(months=1), description="the second stage: a mediator"
    )
    expert_determination: Determination = Field(description="the last, binding stage")
    provider_share_of_fees: Share = Field(
        default=0.5, description="share of every stage's fee the provider pays"
    )
    at_stake_years: Annotated[int, WHOLE(ge=1, le=10)] = Field(
        default=2, description="years of the disputed sum commissioners see at stake"
    )


class Disputes(Mechanism):
    """Challenges at a review month, withheld sums, escalation to expert determination."""

    section = "disputes"
    order = 60
    categories = (
        Category("dispute_settlement", "a settled dispute paid between the parties"),
        Category("dispute_costs", "dispute fees, to external"),
    )
    drivers = (Driver("disputes", 40, ("dispute_settlement", "dispute_costs")),)
    Config = DisputesConfig
    config: DisputesConfig
    provides = (
        Slot("disputes.basis", "str", "what is disputed: 'case_mix' or 'activity'"),
        Slot(
            "disputes.challenged",
            "dict fy -> (R, C) bool",
            "the contracts challenged at each year's review month (from its settlement phase)",
        ),
    )
    # a disputes section needs a contracts section (check): the contracts act first
    requires = (
        "contracts.ids",
        "contracts.provider",
        "contracts.commissioner",
        "contracts.ytd",
        "contracts.accept",
        # fixed at the year end's reconciliation, read at its close
        later("contracts.withheld"),
    )

    def __init__(self, config: DisputesConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.commissioner = ctx.state["contracts.commissioner"]
        self.provider = ctx.state["contracts.provider"]
        self.ids = ctx.state["contracts.ids"]
        self.challenged: dict[int, np.ndarray] = {}
        ctx.state["disputes.basis"] = config.basis
        ctx.state["disputes.challenged"] = self.challenged

    @classmethod
    def check(cls, config: DisputesConfig, refs: ReferencesLike) -> None:
        if getattr(refs.model, "contracts", None) is None:
            refs.add(
                ("disputes",),
                "disputes are about contracts: the scenario has no 'contracts' section",
            )

    def processes(self, ctx: Context) -> Iterable[Generator[Any, Any, None]]:
        return [self._year(ctx, fy) for fy in range(ctx.calendar.n_years)]

    def _year(self, ctx: Context, fy: int) -> Generator[Any, Any, None]:
        cfg = self.config
        calendar = ctx.calendar
        review = calendar.tick(fy, cfg.review_month)
        year_end = calendar.tick(fy, 12)
        last = calendar.n_months - 1
        yield ctx.at(review, "settlement")
        ytd = ctx.state["contracts.ytd"]
        disputed = (
            ytd["reported"] - ytd["accepted"]
            if cfg.basis == "case_mix"
            else ytd["reported"] - ytd["plan"]
        )
        over_plan = ytd["reported"] - ytd["plan"]
        challenged = (
            (disputed > cfg.threshold * ytd["plan"]) & (disputed >= cfg.min_amount) & (disputed > 0)
        )
        self.challenged[fy] = challenged
        at_stake = disputed * 12.0 / ytd["months"] * cfg.at_stake_years
        ctx.events.record(
            self.commissioner, "challenge", self.ids, challenged, disputed, detailed=True
        )
        ctx.records.record(
            "disputes",
            self.commissioner,
            {
                "contract": self.ids,
                "provider": np.array(ctx.economy.ids, dtype=object)[self.provider],
            },
            challenged=challenged,
            over_plan_to_date=over_plan,
            disputed_to_date=disputed,
            at_stake=np.where(challenged, at_stake, 0.0),
        )
        if not challenged.any():  # (the review above is recorded in every replication)
            return
        open_ = challenged.copy()
        share = np.zeros(challenged.shape)
        decided_at = np.full(challenged.shape, -1)
        tick = review
        stages: list[tuple[str, Stage | Determination]] = [
            ("negotiation", cfg.negotiation),
            ("mediation", cfg.mediation),
            ("expert_determination", cfg.expert_determination),
        ]
        for name, stage in stages:
            if stage.months == 0 and name != "expert_determination":
                continue
            if tick + stage.months > last:  # the run ends first: what is open stays open
                ctx.events.record(self.commissioner, "open_at_end", self.ids, open_, detailed=True)
                break
            ctx.events.record(self.commissioner, name, self.ids, open_, detailed=True)
            self._fees(ctx, stage.fee, open_, fy)
            tick += stage.months
            yield ctx.at(tick, "settlement")
            u = self.rng.uniform(name, fy, shape=challenged.shape[1:])
            if isinstance(stage, Determination):
                provider_won = open_ & (u < stage.provider_wins)
                share = np.where(provider_won, 1.0, np.where(open_, 0.0, share))
                ctx.events.record(
                    self.commissioner, "provider_won", self.ids, provider_won, detailed=True
                )
                ctx.events.record(
                    self.commissioner,
                    "commissioner_won",
                    self.ids,
                    open_ & ~provider_won,
                    detailed=True,
                )
                decided_at = np.where(open_, tick, decided_at)
                open_ = np.zeros_like(open_)
            else:
                settled = open_ & (u < stage.settle_chance)
                share = np.where(settled, stage.settle_share, share)
                ctx.events.record(
                    self.commissioner,
                    "settled",
                    self.ids,
                    settled,
                    stage.settle_share,
                    detailed=True,
                )
                decided_at = np.where(settled, tick, decided_at)
                open_ &= ~settled
        # disputes settled before the run ended are paid, even if others are still open
        decided = challenged & ~open_
        if not decided.any():
            return
        # decided by March (settlement comes before the year-end reconciliation in the month):
        # settle once the year end has fixed the sum withheld, before the outturn is assessed
        if tick <= year_end:
            yield ctx.at(year_end, "year_end")
        withheld = ctx.state["contracts.withheld"][fy]
        paid = share * withheld * decided
        ctx.ledger.post(
            self.commissioner, self.provider, paid, "dispute_settlement", "non_recurrent", fy=fy
        )
        ctx.events.record(
            self.commissioner, "dispute_settlement", self.ids, decided, paid, detailed=True
        )
        ctx.records.record(
            "disputes_settled",
            self.commissioner,
            {"contract": self.ids},
            mask=decided,
            withheld=withheld,
            provider_share=np.where(decided, share, np.nan),
            settlement=paid,
            decided_month=decided_at,
        )
        ctx.state["contracts.accept"](ctx, share * decided, fy, cfg.basis, withheld, decided)

    def _fees(self, ctx: Context, fee: float, open_: np.ndarray, fy: int) -> None:
        if fee <= 0:
            return
        provider_part = self.config.provider_share_of_fees
        cost = np.where(open_, fee, 0.0)
        ctx.ledger.post(
            self.provider, EXTERNAL, cost * provider_part, "dispute_costs", "non_recurrent"
        )
        ctx.ledger.post(
            self.commissioner,
            EXTERNAL,
            cost * (1 - provider_part),
            "dispute_costs",
            "non_recurrent",
        )
