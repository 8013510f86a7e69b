"""Capital: an envelope per year and bids from providers prioritised by score (seed 004).

What it models: capital is a separate limit (CDEL) from revenue (NAO 2020, C). Each year
the centre has a capital envelope (funded by the treasury, ``capital_allocation``, kind
``capital``), nationally or per region, and providers (through their systems' estates
plans) bid for schemes. Bids are funded in order of their score, each only if it fits in
what is left of its envelope, so a large low-scoring scheme can be passed over for smaller
ones below it, and (with ``limit``) only if it fits in what is left of its provider's and
its system's capital spending limit for the year: a bid beyond a limit is not funded even
if the envelope has room. Funded bids are paid to the provider at the start of the year
(``capital_allocation``); ``res.table("capital")`` lists every bid, whether it was funded
and, if not, why (``reason``: ``limit``, ``envelope`` or ``no_envelope``).

With ``depreciate: true``, a funded scheme is an asset depreciated straight-line over its
life (``life_years``, 30 unless the bid says), a revenue cost of the provider from the year
after it is funded (``depreciation``, to ``external``, recurrent, a twelfth each month).
The capital each body received and its depreciation in the year are published for the PDC
dividend (:mod:`finsim.mechanisms.pdc`). Moving money from capital to revenue budgets
(£640m, £950m, £1.2bn, £1bn and £500m in 2014/15 to 2018/19, NAO 2020, C) is a dated
transfer of category ``capital_to_revenue`` (:mod:`finsim.mechanisms.transfers`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field

from finsim.economy import EXTERNAL, TREASURY
from finsim.ledger import Category, scatter_add
from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import FYLabel, Id, Money, StrictModel
from finsim.scenario.params import MoneyByYear
from finsim.scenario.units import WHOLE, Rank
from finsim.state import Slot

Life = Annotated[int, WHOLE(ge=1, le=100)]

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Bid(StrictModel):
    """A provider's bid for capital in one year."""

    id: Id = Field(description="unique among the bids")
    provider: Id = Field(description="the provider bidding")
    fy: FYLabel = Field(description="the financial year the money is wanted")
    amount: Money = Field(description="capital asked for, GBP m")
    score: Rank = Field(description="priority: higher scores are funded first")
    life_years: Life | None = Field(
        default=None, description="the asset's life in years (default: the section's)"
    )


class CapitalConfig(StrictModel):
    """Capital envelopes, national and regional, and the bids against them."""

    envelope: MoneyByYear | None = Field(default=None, description="national envelope, GBP m")
    regional_envelopes: dict[str, MoneyByYear] = Field(
        default_factory=dict,
        description="envelope of each region, GBP m; its providers' bids are funded from it",
    )
    bids: list[Bid] = Field(default_factory=list, description="the bids, funded by score")
    limit: dict[str, MoneyByYear] = Field(
        default_factory=dict,
        description="capital spending limit of a provider or a system, GBP m by year: bids "
        "beyond it are not funded, even if the envelope has room",
    )
    depreciate: bool = Field(
        default=False,
        description="charge depreciation on funded schemes to the provider's revenue",
    )
    life_years: Life = Field(
        default=30, description="asset life of a funded scheme, years, straight-line"
    )


def _at(values: MoneyByYear, year: int) -> float:
    """The value for the year starting in ``year``; no limit before the first year given."""
    first = values.first_year
    return np.inf if first is not None and year < first else values.at(year)


class Capital(Mechanism):
    """Capital envelopes and bids funded in order of score."""

    section = "capital"
    order = 78
    Config = CapitalConfig
    config: CapitalConfig
    categories = (Category("depreciation", "an asset's cost charged over its life"),)
    provides = (
        Slot("capital.received", "(R, A)", "capital each body was funded this year, GBP m"),
        Slot("capital.depreciation", "(R, A)", "each body's depreciation this year, GBP m"),
    )

    def __init__(self, config: CapitalConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.centre = ctx.economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        A, F = ctx.economy.n_accounts, ctx.calendar.n_years
        self.received = np.zeros((ctx.R, A))
        self.depreciation = np.zeros((ctx.R, A))
        self.charges = np.zeros((F + 1, A))  # the depreciation each year, as bids are funded
        ctx.state["capital.received"] = self.received
        ctx.state["capital.depreciation"] = self.depreciation

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
        for org in config.limit:
            refs.org(("capital", "limit", org), org, ("provider", "system"))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.allocate, "costs": self.depreciate}

    def depreciate(self, ctx: Context) -> None:
        """A twelfth of the year's depreciation each month (recurrent revenue cost)."""
        bodies = np.flatnonzero(self.charges[ctx.fy])
        if bodies.size:
            monthly = self.depreciation[:, bodies] / 12.0
            ctx.ledger.post(bodies, EXTERNAL, monthly, "depreciation", "recurrent")

    def allocate(self, ctx: Context) -> None:
        """Fund this year's bids by score within each envelope."""
        economy = ctx.economy
        year = ctx.fy_start_year
        label = ctx.calendar.labels[ctx.fy]
        self.received[:] = 0.0
        self.depreciation[:] = self.charges[ctx.fy]
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
        funded, reasons = [], []
        spent: dict[str, float] = {}
        for bid in bids:
            provider = economy.index(bid.provider)
            region = economy.ids[economy.region[provider]]
            pot = region if region in pots else "national"
            system = economy.system[provider]
            capped = [bid.provider] + ([economy.ids[system]] if system >= 0 else [])
            capped = [c for c in capped if c in self.config.limit]
            within = all(
                spent.get(c, 0.0) + bid.amount <= _at(self.config.limit[c], year) + 1e-9
                for c in capped
            )
            ok = within and pot in pots and bid.amount <= pots[pot] + 1e-9
            if ok:
                pots[pot] -= bid.amount
                for c in capped:
                    spent[c] = spent.get(c, 0.0) + bid.amount
            funded.append(ok)
            why = "limit" if not within else "no_envelope" if pot not in pots else "envelope"
            reasons.append("funded" if ok else why)
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
        scatter_add(self.received, providers, np.broadcast_to(amounts, (ctx.R, amounts.size)))
        if self.config.depreciate:
            for bid, provider, amount in zip(bids, providers, amounts, strict=True):
                life = bid.life_years or self.config.life_years
                self.charges[ctx.fy + 1 : ctx.fy + 1 + life, provider] += amount / life
        ctx.records.record(
            "capital",
            providers,
            {
                "bid": np.array([b.id for b in bids], dtype=object),
                "reason": np.array(reasons, dtype=object),
            },
            amount=np.array([b.amount for b in bids]),
            score=np.array([b.score for b in bids]),
            funded=np.array(funded, dtype=float),
        )
