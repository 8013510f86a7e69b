"""Allocations: the treasury funds the centre, the centre allocates to commissioners.

What it models: each financial year Parliament votes the NHS revenue envelope
(``treasury`` -> ``centre``, category ``funding``) and the centre (NHS England,
or the Department of Health before it) allocates it to commissioners
(category ``allocation``), who draw it down in twelve monthly instalments.

Allocations are *recurrent*: a commissioner's allocation for a year is its
recurrent baseline from the year before (every recurrent ``allocation`` and
``reallocation`` it received, net) grown by the year's uplift. Non-recurrent
money does not enter the baseline (see docs/concepts.md, "Recurrence"), so a
one-off re-allocation in March is gone in April while a recurrent one carries.

Source: NHS England, Fundamental Review of Allocations Policy (seed 001) and
the recurrent / non-recurrent re-allocations of seed 000. Targets, streams and
pace of change build on this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
from pydantic import Field

from finsim.economy import TREASURY
from finsim.ledger import CATEGORIES, RECURRENCE, scatter_add
from finsim.mechanisms.base import Context, Mechanism
from finsim.registry import register_mechanism
from finsim.scenario.models import Money, StrictModel
from finsim.scenario.params import ByYear, NonNegativeByYear
from finsim.scenario.validate import References


class AllocationsConfig(StrictModel):
    """How commissioners are funded."""

    opening: dict[str, Money] = Field(
        description="each commissioner's recurrent allocation in the first simulated year, GBP m"
    )
    uplift: ByYear = Field(
        default_factory=lambda: ByYear.constant(0.0),
        description="growth of the recurrent baseline into each year (0.021 = 2.1%); "
        "not applied in the first simulated year",
    )
    central_reserve: NonNegativeByYear = Field(
        default_factory=lambda: NonNegativeByYear.constant(0.0),
        description="funding the centre holds back each year, GBP m (non-recurrent)",
    )


@register_mechanism
class Allocations(Mechanism):
    """Treasury -> centre funding and centre -> commissioner allocations, recurrent baselines."""

    section = "allocations"
    Config = AllocationsConfig
    config: AllocationsConfig

    def __init__(self, config: AllocationsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.commissioners = economy.of_type("commissioner")
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        opening = np.array(
            [config.opening.get(economy.ids[i], 0.0) for i in self.commissioners], dtype=np.float64
        )
        #: This year's recurrent allocation per commissioner, (R, n_commissioners).
        self.allocation = np.broadcast_to(opening, (ctx.R, opening.size)).copy()
        ctx.state["allocations.allocation"] = self.allocation

    @classmethod
    def check(cls, config: AllocationsConfig, refs: References) -> None:
        for org_id in config.opening:
            refs.org(("allocations", "opening", org_id), org_id, ("commissioner",))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.set_year, "allocation": self.draw_down}

    def set_year(self, ctx: Context) -> None:
        """Set the year's allocations and fund the centre for them."""
        if ctx.fy > 0:
            baseline = recurrent_baseline(ctx, ctx.fy - 1, self.commissioners)
            self.allocation[:] = baseline * (1.0 + self.config.uplift.at(ctx.fy_start_year))
        total = self.allocation.sum(axis=1, keepdims=True)
        ctx.ledger.post(TREASURY, self.centre, total, "funding", "recurrent")
        reserve = self.config.central_reserve.at(ctx.fy_start_year)
        ctx.ledger.post(
            TREASURY, self.centre, np.full((ctx.R, 1), reserve), "funding", "non_recurrent"
        )

    def draw_down(self, ctx: Context) -> None:
        """Pay one twelfth of the year's allocation."""
        ctx.ledger.post(self.centre, self.commissioners, self.allocation / 12.0, "allocation")


def recurrent_baseline(ctx: Context, fy: int, accounts: np.ndarray) -> np.ndarray:
    """Net recurrent ``allocation`` and ``reallocation`` money each account received in ``fy``.

    Returns ``(R, len(accounts))``: the baseline that carries into the next year.
    """
    table, amounts = ctx.ledger.flow_table()
    mask = (
        (table["fy"].to_numpy() == fy)
        & np.isin(
            table["category"].to_numpy(),
            [CATEGORIES.index("allocation"), CATEGORIES.index("reallocation")],
        )
        & (table["recurrence"].to_numpy() == RECURRENCE.index("recurrent"))
    )
    position = np.full(ctx.economy.n_accounts, -1)
    position[accounts] = np.arange(accounts.size)
    out = np.zeros((ctx.R, accounts.size))
    tgt = position[table["target"].to_numpy()]
    src = position[table["source"].to_numpy()]
    into = mask & (tgt >= 0)
    out_of = mask & (src >= 0)
    scatter_add(out, tgt[into], amounts[:, into])
    scatter_add(out, src[out_of], -amounts[:, out_of])
    return out
