"""The mental health investment standard (MHIS): commissioners' mental health spending must
grow at least as fast as their allocation.

What it models. From 2015/16 each CCG's (from 2022 each ICB's) spending on mental health
had to grow at least as fast as its allocation; the standard was made mandatory in
2018/19, and from 2019/20 mental health spending had to grow by an extra uplift above
allocation growth (P12, P13, S; ``allocations.mhis`` in the policy tree, whose rule gives
no figure for the extra uplift: a scenario states it). It is a constraint on a
commissioner's spending: money it must put into mental health whatever its position.

The rule, as encoded (section ``mhis``), for each commissioner in each year after the
first simulated year (the first sets the baseline):

* its **mental health spend** is the plan value this year (``contracts.plan_value_now``,
  set at year start: a block's value, an activity contract's plan at prices) of its
  contracts with providers of kind ``mental_health``, plus any ``other_spend`` stated
  (mental health care bought outside those contracts: counted, not posted, as it is part
  of the commissioner's other spending), plus the investment it made under the standard
  in earlier years (recurrent, carried in cash);
* the **required spend** is last year's spend times ``1 + g + u``: ``g`` the growth of its
  allocation (the revenue streams it holds, or those named in ``streams``; this year's over
  last year's) and ``u`` the extra ``uplift`` of the year;
* the **shortfall** is the required spend less the planned spend, if positive. A share
  ``invest`` of it (1: the standard is enforced; 0: reported only) is invested,
  **recurrently**: shared among its mental health contracts pro rata to their plan
  value, paid in twelve monthly instalments (``payment`` phase) from the commissioner to
  the provider (``mhis_investment``, recurrent), every year from then on. The provider
  buys the services with it: a share ``provider_cost`` of the money is its cost
  (``operating_cost`` to external, recurrent), the rest improves its position. A
  commissioner with no mental health contract buys from outside the NHS (paid to
  external).

``res.table("mhis")`` holds, per commissioner and year: ``allocation``,
``allocation_growth``, ``required_growth`` (``g + u``), ``required``, ``spend_before``
(planned spend before this year's new investment), ``shortfall``, ``invested`` (new this
year), ``investment`` (the recurrent total paid this year), ``spend``, ``growth`` (of
spend), ``met_before`` and ``met`` (1.0 or 0.0; NaN in the first year). Simplifications:
compliance is tested on plan at year start, not on outturn; the investment is held flat in
cash in later years (it is not uplifted with the contracts); it is funded from the
commissioner's position (nothing else is cut).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from finsim.economy import EXTERNAL
from finsim.ledger import Category, scatter_add
from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import Id, StrictModel
from finsim.scenario.params import Growth, MoneyByYear, ShareByYear
from finsim.scenario.units import Share

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class MhisConfig(StrictModel):
    """Who the standard binds, the uplift above allocation growth, and how it is met."""

    uplift: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="growth required above the allocation's, by year (2019/20 on: an extra "
        "uplift); from the second simulated year",
    )
    streams: list[str] | None = Field(
        default=None,
        description="the allocation streams whose growth is the standard; default every "
        "recurrent revenue stream the commissioners hold",
    )
    commissioners: list[Id] | None = Field(
        default=None, description="the commissioners bound; default all"
    )
    other_spend: dict[str, MoneyByYear] = Field(
        default_factory=dict,
        description="each commissioner's mental health spend outside its contracts with "
        "mental health providers, GBP m (or by year): counted, not posted",
    )
    invest: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(1.0),
        description="share of a shortfall the commissioner invests (1: enforced; 0: "
        "reported only), by year",
    )
    provider_cost: Share = Field(
        default=1.0,
        description="share of the investment the provider spends buying the services",
    )


class Mhis(Mechanism):
    """Commissioners' mental health spend held to their allocation growth plus an uplift."""

    section = "mhis"
    order = 45
    Config = MhisConfig
    config: MhisConfig
    categories = (
        Category(
            "mhis_investment",
            "a commissioner's investment in mental health under the investment standard",
        ),
    )
    requires = (
        "allocations.streams",
        "contracts.plan_value_now",
        "contracts.provider",
        "contracts.commissioner",
    )

    def __init__(self, config: MhisConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy, F = ctx.economy, ctx.calendar.n_years
        ids = config.commissioners
        self.bound = economy.indices(ids) if ids is not None else economy.of_type("commissioner")
        K = self.bound.size
        kinds = {p.id: p.kind for p in ctx.scenario.model.organisations.providers}  # type: ignore[attr-defined]
        mh_accounts = economy.indices([p for p, kind in kinds.items() if kind == "mental_health"])
        provider = np.asarray(ctx.state["contracts.provider"])
        commissioner = np.asarray(ctx.state["contracts.commissioner"])
        position = np.full(economy.n_accounts, -1)
        position[self.bound] = np.arange(K)
        #: the contracts counted: with a mental health provider, of a bound commissioner
        self.contracts = np.flatnonzero(
            np.isin(provider, mh_accounts) & (position[commissioner] >= 0)
        )
        self.provider = provider[self.contracts]
        self.payer = commissioner[self.contracts]
        self.of = position[self.payer]  # (M,) each contract's commissioner, 0..K-1
        M = self.contracts.size
        self.incidence = sp.csr_matrix((np.ones(M), (np.arange(M), self.of)), shape=(M, K))
        years = [ctx.calendar.start_year + f for f in range(F)]
        other = np.zeros((F, economy.n_accounts))
        for org_id, spend in config.other_spend.items():
            other[:, economy.index(org_id)] = [spend.at(y) for y in years]
        self.other = other[:, self.bound]
        self.plan_value: Callable[[], np.ndarray] = ctx.state["contracts.plan_value_now"]
        self.streams = ctx.state["allocations.streams"]
        R = ctx.R
        self.carried = np.zeros((R, M))  # recurrent investment in each contract, a year
        self.carried_outside = np.zeros((R, K))  # ... bought outside the NHS
        self.last_spend: np.ndarray | None = None
        self.last_allocation = np.zeros((R, K))

    @classmethod
    def check(cls, config: MhisConfig, refs: ReferencesLike) -> None:
        for section in ("allocations", "contracts"):
            if getattr(refs.model, section, None) is None:
                refs.add(
                    ("mhis",),
                    "the mental health investment standard compares contracts with mental "
                    f"health providers against allocation growth: the scenario has no "
                    f"'{section}' section",
                )
        for i, org_id in enumerate(config.commissioners or []):
            refs.org(("mhis", "commissioners", i), org_id, ("commissioner",))
        bound = config.commissioners
        for org_id in config.other_spend:
            path = ("mhis", "other_spend", org_id)
            known = refs.org(path, org_id, ("commissioner",))
            if known and bound is not None and org_id not in bound:
                refs.add(
                    path,
                    f"'{org_id}' is not in mhis.commissioners: its spend would be counted "
                    "for no one",
                )
        allocations = getattr(refs.model, "allocations", None)
        if allocations is not None and config.streams is not None:
            streams = allocations.all_streams()
            for i, name in enumerate(config.streams):
                if name not in streams:
                    refs.add(
                        ("mhis", "streams", i),
                        f"unknown allocation stream '{name}'; streams are {sorted(streams)}",
                    )
                elif streams[name].kind != "revenue":
                    refs.add(("mhis", "streams", i), f"'{name}' is a capital stream")

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.plan, "payment": self.pay}

    def allocation(self, ctx: Context) -> np.ndarray:
        """This year's allocation of each bound commissioner, ``(R, K)``."""
        own = np.zeros((ctx.R, ctx.economy.n_accounts))
        for name, stream in self.streams.items():
            chosen = (
                name in self.config.streams
                if self.config.streams is not None
                else stream.config.kind == "revenue"
                and stream.config.recurrence == "recurrent"
                and stream.config.holder != "centre"
            )
            if chosen and stream.holders.size:
                scatter_add(own, stream.holders, stream.allocation)
        return own[:, self.bound]

    def plan(self, ctx: Context) -> None:
        """Year start: each commissioner's planned mental health spend against the standard,
        and the recurrent investment that meets it."""
        value = np.asarray(self.plan_value())[:, self.contracts]  # (R, M)
        by_contracts = np.asarray(value @ self.incidence)  # (R, K)
        before = (
            by_contracts
            + self.other[ctx.fy]
            + np.asarray(self.carried @ self.incidence)
            + self.carried_outside
        )
        allocation = self.allocation(ctx)
        nan = np.full_like(before, np.nan)
        required, shortfall, growth_required, growth = nan, np.zeros_like(before), nan, nan
        allocation_growth = nan
        if self.last_spend is not None:
            last = self.last_allocation
            allocation_growth = np.where(
                last > 0, allocation / np.where(last > 0, last, 1.0) - 1, 0
            )
            growth_required = allocation_growth + self.config.uplift.at(ctx.fy_start_year)
            required = self.last_spend * (1.0 + growth_required)
            shortfall = np.maximum(required - before, 0.0)
        new = shortfall * self.config.invest.at(ctx.fy_start_year)
        # pro rata to each mental health contract's plan value; none: outside the NHS
        has = by_contracts[:, self.of] > 0
        weight = np.where(has, value / np.where(has, by_contracts[:, self.of], 1.0), 0.0)
        self.carried = self.carried + new[:, self.of] * weight
        self.carried_outside = self.carried_outside + np.where(by_contracts > 0, 0.0, new)
        spend = before + new
        if self.last_spend is not None:
            last_spend = self.last_spend
            growth = np.where(
                last_spend > 0, spend / np.where(last_spend > 0, last_spend, 1) - 1, 0
            )
        first = self.last_spend is None
        ctx.records.record(
            "mhis",
            self.bound,
            allocation=allocation,
            allocation_growth=allocation_growth,
            required_growth=growth_required,
            required=required,
            spend_before=before,
            shortfall=shortfall,
            invested=new,
            investment=np.asarray(self.carried @ self.incidence) + self.carried_outside,
            spend=spend,
            growth=growth,
            met_before=nan if first else (before >= required - 1e-9).astype(float),
            met=nan if first else (spend >= required - 1e-9).astype(float),
        )
        self.last_spend, self.last_allocation = spend, allocation

    def pay(self, ctx: Context) -> None:
        """Each month: a twelfth of the year's recurrent investment, and the provider's cost
        of the services it buys with it."""
        if self.carried.any():
            month = self.carried / 12.0
            ctx.ledger.post(self.payer, self.provider, month, "mhis_investment", "recurrent")
            cost = month * self.config.provider_cost
            ctx.ledger.post(self.provider, EXTERNAL, cost, "operating_cost", "recurrent")
        if self.carried_outside.any():
            outside = self.carried_outside / 12.0
            ctx.ledger.post(self.bound, EXTERNAL, outside, "mhis_investment", "recurrent")
