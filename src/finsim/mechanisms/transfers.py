"""Dated transfers: year-end re-allocations, swaps and teaching uplifts.

What it models (seed 000, the SAFF round of 2001/02): late in the year the
centre re-allocates central funds: a fair share to every region, recurrent and
non-recurrent sums to named regions, a capital-for-revenue swap between regions
(net zero in total), and extra money for teaching hospitals' research and
teaching. Any such movement is a *transfer*: at a given month of a given year,
a total amount moves from one or several bodies to one or several others,
shared among them by a rule (their allocation, weighted population,
population, equally, or named shares).

A *recurrent* transfer changes the recipient's baseline. For bodies whose
allocation the allocations mechanism manages, it joins their recurrent
baseline and carries into next year's allocation (grown with it); for other
bodies (a provider's teaching uplift) the transfer is repeated at the same
month of every following year. A non-recurrent transfer happens once.
Capital-to-revenue transfers are always non-recurrent.

Each transfer runs as a SimPy process waiting for its month, and acts in the
``intervention`` phase; each recipient's receipt is an event
(``transfer``, detail = the transfer's id).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from finsim.calendar import parse_fy
from finsim.economy import ORG_TYPES, Economy
from finsim.ledger import Category, scatter_add
from finsim.mechanisms.allocations.need import need_matrix
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.numeric import row_sum
from finsim.scenario.models import FYLabel, Id, Money, StrictModel
from finsim.scenario.units import Month, Weight
from finsim.state import optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

Group = Literal["regions", "systems", "commissioners", "providers", "teaching_providers"]
Split = Literal["allocation", "weighted_population", "population", "equal"]
_GROUP_TYPE = {
    "regions": "region",
    "systems": "system",
    "commissioners": "commissioner",
    "providers": "provider",
    "teaching_providers": "provider",
}


class When(StrictModel):
    """A month of a financial year."""

    fy: FYLabel = Field(description="the financial year")
    month: Month = Field(description="1 = April ... 12 = March")


class Transfer(StrictModel):
    """One dated movement of money (see the module docstring)."""

    id: Id = Field(description="unique among the transfers")
    at: When = Field(description="when the money moves")
    from_: Id | Group | list[Id] = Field(
        alias="from", description="who pays: an id, a group or a list of ids"
    )
    to: Id | Group | list[Id] = Field(description="who receives: an id, a group or a list of ids")
    amount: Money = Field(description="total moved, GBP m")
    split: Split | dict[str, Weight] = Field(
        default="equal", description="how recipients share the total: a rule, or weights by id"
    )
    source_split: Split | dict[str, Weight] = Field(
        default="equal",
        description="how several sources share the total: a rule, or weights by id",
    )
    recurrence: Literal["recurrent", "non_recurrent"] = Field(
        default="non_recurrent", description="recurrent money joins the receiver's baseline"
    )
    kind: Literal["revenue", "capital"] = Field(
        default="revenue", description="revenue or capital money"
    )
    category: Literal[
        "reallocation",
        "teaching_uplift",
        "capital_to_revenue",
        "capital_allocation",
        "top_slice",
        "risk_share",
        "other_income",
    ] = Field(default="reallocation", description="the ledger category it is posted as")
    note: str = Field(default="", description="free text, for the reader")


def members(economy: Economy, who: str | list[str]) -> np.ndarray:
    """Account indices named by an id, a group name or a list of ids."""
    if isinstance(who, list):
        return economy.indices(who)
    if who in _GROUP_TYPE:
        found = economy.of_type(_GROUP_TYPE[who])
        return found[economy.teaching[found]] if who == "teaching_providers" else found
    return economy.indices([who])


def shares(ctx: Context, accounts: np.ndarray, rule: str | dict[str, float]) -> np.ndarray:
    """Each account's share of a total, ``(R, n)``, summing to 1 in every replication."""
    n = accounts.size
    if isinstance(rule, dict):
        raw = np.array([rule.get(ctx.economy.ids[a], 0.0) for a in accounts], dtype=np.float64)
        weights = np.broadcast_to(raw, (ctx.R, n))
    elif rule == "equal":
        weights = np.ones((ctx.R, n))
    elif rule == "allocation":
        weights = current_allocation(ctx)[:, accounts]
    else:
        weights = np.broadcast_to(need_matrix(ctx, rule)[accounts], (ctx.R, n))
    total = row_sum(weights, keepdims=True)
    return np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / max(n, 1))


def current_allocation(ctx: Context) -> np.ndarray:
    """This year's revenue allocation of every account ``(R, A)``; a system's or region's
    is its own or, if it holds none, the sum of its members'."""
    economy = ctx.economy
    own = np.zeros((ctx.R, economy.n_accounts))
    streams = ctx.state["allocations.streams"] if "allocations.streams" in ctx.state else {}
    for stream in streams.values():
        if (
            stream.config.kind == "revenue"
            and stream.holders.size
            and stream.config.holder != "centre"
        ):
            scatter_add(own, stream.holders, stream.allocation)
    rolled = own @ economy.membership("system") + own @ economy.membership("region")
    rolled = np.asarray(rolled)
    group = np.isin(economy.org_type, [ORG_TYPES.index("system"), ORG_TYPES.index("region")])
    return np.where(group & (own == 0), rolled, own)


class Transfers(Mechanism):
    """Dated transfers between bodies, recurrent or not, revenue or capital."""

    section = "transfers"
    order = 80
    categories = (
        Category(
            "top_slice", "a commissioner's allocation top-sliced to a region or centre", "subsidy"
        ),
        Category("risk_share", "a risk share paid between bodies", "subsidy"),
        Category("reallocation", "a year-end re-allocation between bodies", "subsidy"),
        Category("teaching_uplift", "a teaching uplift paid to a provider"),
        Category("capital_to_revenue", "capital limit swapped for revenue"),
    )
    drivers = (
        Driver("interventions", 60, ("top_slice",)),
        Driver(
            "other", 1000, ("risk_share", "reallocation", "teaching_uplift", "capital_to_revenue")
        ),
    )
    Config = list[Transfer]
    config: list[Transfer]
    requires = (optional("allocations.holders"), optional("allocations.streams"))

    @classmethod
    def check(cls, config: list[Transfer], refs: ReferencesLike) -> None:
        first, last = refs.start_year, refs.start_year + refs.n_years - 1
        seen: dict[str, int] = {}
        for i, t in enumerate(config):
            path: tuple[str | int, ...] = ("transfers", i)
            if t.id in seen:
                refs.add(
                    path + ("id",), f"duplicate transfer id '{t.id}' (also transfers[{seen[t.id]}])"
                )
            seen.setdefault(t.id, i)
            year = parse_fy(t.at.fy)
            if not first <= year <= last:
                refs.add(path + ("at", "fy"), f"{t.at.fy} is outside the simulated years")
            for end, who in (("from", t.from_), ("to", t.to)):
                names = who if isinstance(who, list) else [] if who in _GROUP_TYPE else [who]
                for j, org_id in enumerate(names):
                    where = path + ((end, j) if isinstance(who, list) else (end,))
                    refs.org(
                        where, org_id, ("centre", "region", "system", "commissioner", "provider")
                    )
            for end, rule in (("split", t.split), ("source_split", t.source_split)):
                if isinstance(rule, dict):
                    for org_id, value in rule.items():
                        refs.org(
                            path + (end, org_id),
                            org_id,
                            ("centre", "region", "system", "commissioner", "provider"),
                        )
                        if value < 0:
                            refs.add(path + (end, org_id), f"expected a share >= 0, got {value}")
            if t.category == "capital_to_revenue" and (
                t.recurrence != "non_recurrent" or t.kind != "revenue"
            ):
                refs.add(
                    path + ("category",),
                    "a capital-to-revenue transfer is non-recurrent revenue "
                    "(set recurrence: non_recurrent, kind: revenue)",
                )

    def processes(self, ctx: Context) -> Iterable[Generator[Any, Any, None]]:
        return [self._run(ctx, t) for t in self.config]

    def _run(self, ctx: Context, transfer: Transfer) -> Generator[Any, Any, None]:
        year = ctx.calendar.fy_index(transfer.at.fy)
        sources = members(ctx.economy, transfer.from_)
        targets = members(ctx.economy, transfer.to)
        holders = np.empty(0, np.int64)
        if "allocations.holders" in ctx.state:  # only with an allocations section
            holders = ctx.state["allocations.holders"][transfer.kind]
        yield ctx.at(ctx.calendar.tick(year, transfer.at.month), "intervention")
        self._pay(ctx, transfer, sources, targets)
        if transfer.recurrence != "recurrent":
            return
        # recurrent money to bodies without a managed allocation recurs every year
        # (only re-allocations join an allocation baseline; anything else simply recurs)
        joins_baseline = transfer.category in ("reallocation", "capital_allocation")
        repeat = targets[~np.isin(targets, holders)] if joins_baseline else targets
        if repeat.size == 0:
            return
        amounts = self._amounts(ctx, transfer, sources, targets)
        keep = np.isin(targets, repeat)
        for later in range(year + 1, ctx.calendar.n_years):
            yield ctx.at(ctx.calendar.tick(later, transfer.at.month), "intervention")
            self._post(ctx, transfer, sources, targets[keep], amounts[:, :, keep])

    def _amounts(
        self, ctx: Context, t: Transfer, sources: np.ndarray, targets: np.ndarray
    ) -> np.ndarray:
        """Amounts (R, n_sources, n_targets) moved by a transfer now."""
        give = shares(ctx, sources, t.source_split)
        take = shares(ctx, targets, t.split)
        return t.amount * give[:, :, None] * take[:, None, :]

    def _pay(self, ctx: Context, t: Transfer, sources: np.ndarray, targets: np.ndarray) -> None:
        self._post(ctx, t, sources, targets, self._amounts(ctx, t, sources, targets))

    def _post(
        self,
        ctx: Context,
        t: Transfer,
        sources: np.ndarray,
        targets: np.ndarray,
        amounts: np.ndarray,
    ) -> None:
        src = np.repeat(sources, targets.size)
        tgt = np.tile(targets, sources.size)
        ctx.ledger.post(src, tgt, amounts.reshape(ctx.R, -1), t.category, t.recurrence, t.kind)
        # each recipient's receipt: summed over the sources (axis 1), not over the recipients
        received = row_sum(np.swapaxes(amounts, 1, 2))
        ctx.events.record(targets, "transfer", t.id, amount=received)
