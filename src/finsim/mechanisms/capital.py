"""Capital: an envelope per year and bids from providers prioritised by score (seed 004).

What it models: capital is a separate limit from revenue. Each year the centre
has a capital envelope (funded by the treasury, ``capital_allocation``, kind
``capital``), nationally or per region, and providers (through their systems'
estates plans) bid for schemes. Bids are funded in order of their score, each
only if it fits in what is left of its envelope, so a large low-scoring scheme
can be passed over for smaller ones below it. Funded bids are paid to the
provider at the start of the year (``capital_allocation``); unfunded ones are
recorded. ``res.table("capital")`` lists every bid and whether it was funded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from finsim.economy import TREASURY
from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import FYLabel, Id, Money, StrictModel
from finsim.scenario.params import MoneyByYear
from finsim.scenario.units import Rank

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Bid(StrictModel):
    """A provider's bid for capital in one year."""

    id: Id = Field(description="unique among the bids")
    provider: Id = Field(description="the provider bidding")
    fy: FYLabel = Field(description="the financial year the money is wanted")
    amount: Money = Field(description="capital asked for, GBP m")
    score: Rank = Field(description="priority: higher scores are funded first")


class CapitalConfig(StrictModel):
    """Capital envelopes, national and regional, and the bids against them."""

    envelope: MoneyByYear | None = Field(default=None, description="national envelope, GBP m")
    regional_envelopes: dict[str, MoneyByYear] = Field(
        default_factory=dict,
        description="envelope of each region, GBP m; its providers' bids are funded from it",
    )
    bids: list[Bid] = Field(default_factory=list, description="the bids, funded by score")


class Capital(Mechanism):
    """Capital envelopes and bids funded in order of score."""

    section = "capital"
    order = 78
    Config = CapitalConfig
    config: CapitalConfig

    def __init__(self, config: CapitalConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.centre = ctx.economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]

    @classmethod
    def check(cls, config: CapitalConfig, refs: ReferencesLike) -> None:
        for region in config.regional_envelopes:
            refs.org(("capital", "regional_envelopes", region), region, ("region",))
        seen: set[str] = set()
        for i, bid in enumerate(config.bids):
            refs.org(("capital", "bids", i, "provider"), bid.provider, ("provider",))
            if bid.id in seen:
                refs.add(("capital", "bids", i, "id"), f"duplicate bid id '{bid.id}'")
            seen.add(bid.id)
        if config.envelope is None and not config.regional_envelopes:
            refs.add(("capital",), "give a national envelope or regional_envelopes")

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.allocate}

    def allocate(self, ctx: Context) -> None:
        """Fund this year's bids by score within each envelope."""
        economy = ctx.economy
        year = ctx.fy_start_year
        label = ctx.calendar.labels[ctx.fy]
        bids = sorted((b for b in self.config.bids if b.fy == label), key=lambda b: -b.score)
        pots: dict[str, float] = {}
        if self.config.envelope is not None:
            pots["national"] = self.config.envelope.at(year)
        for region, envelope in self.config.regional_envelopes.items():
            pots[region] = envelope.at(year)
        total = sum(pots.values())
        if total > 0:
            ctx.ledger.post(
                TREASURY,
                self.centre,
                np.full((ctx.R, 1), total),
                "capital_allocation",
                "non_recurrent",
                "capital",
            )
        if not bids:
            return
        funded = []
        for bid in bids:
            region = economy.ids[economy.region[economy.index(bid.provider)]]
            pot = region if region in pots else "national"
            ok = pot in pots and bid.amount <= pots[pot] + 1e-9
            if ok:
                pots[pot] -= bid.amount
            funded.append(ok)
        providers = economy.indices([b.provider for b in bids])
        amounts = np.array([b.amount if ok else 0.0 for b, ok in zip(bids, funded, strict=True)])
        ctx.ledger.post(
            self.centre,
            providers,
            np.broadcast_to(amounts, (ctx.R, amounts.size)),
            "capital_allocation",
            "non_recurrent",
            "capital",
        )
        ctx.records.record(
            "capital",
            providers,
            {"bid": np.array([b.id for b in bids], dtype=object)},
            amount=np.array([b.amount for b in bids]),
            score=np.array([b.score for b in bids]),
            funded=np.array(funded, dtype=float),
        )
