"""Risk share within a system: gains and losses against control totals pooled and shared.

What it models (seed 004; ICS alliance agreements): the members of a system
agree to pool their variances against their control totals at year end and
share the pooled result by agreed percentages. A member that beat its total by
more than its share of the pooled result pays the difference into the pool
(the system's account) and a member that fell short draws from it
(``risk_share``, non-recurrent); the pool nets to zero, so the system's total
position is unchanged and only who holds it moves.

Variances are measured on the surplus before incentive funding, in the
``year_end`` phase before incentive funds are settled.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, field_validator

from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.numeric import row_sum
from finsim.scenario.models import Id, StrictModel
from finsim.scenario.units import Share
from finsim.state import later

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Agreement(StrictModel):
    """A system's members pooling their variances against control totals."""

    system: Id = Field(description="the system whose members share risk")
    shares: dict[str, Share] = Field(
        description="each member's share of the pooled variance (sums to 1)"
    )

    @field_validator("shares")
    @classmethod
    def _sum_to_one(cls, value: dict[str, float]) -> dict[str, float]:
        if any(v < 0 for v in value.values()) or abs(sum(value.values()) - 1.0) > 1e-9:
            raise ValueError("expected shares >= 0 summing to 1")
        return value


class RiskShare(Mechanism):
    """Year-end pooling of members' variances against control totals."""

    section = "risk_share"
    order = 64
    categories = (Category("risk_share", "a risk share paid between bodies", "subsidy"),)
    drivers = (Driver("other", 1000, ("risk_share",)),)
    Config = list[Agreement]
    config: list[Agreement]
    # both read only at the year end. The incentives' payments to date are read as they stand
    # after the fourth quarter's (monitoring phase), before the incentives' own year end adds
    # the redistributions: risk shares settle first in the year end (order 64 before 66), and
    # the incentives' year end sees the risk-share transfers in the ledger
    requires = (
        later("control_totals.totals"),
        later("incentives.received_ytd", optional=True),
    )

    def __init__(self, config: list[Agreement], ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.deals = [
            (
                economy.index(a.system),
                economy.indices(list(a.shares)),
                np.array(list(a.shares.values())),
            )
            for a in config
        ]

    @classmethod
    def check(cls, config: list[Agreement], refs: ReferencesLike) -> None:
        orgs = refs.model.organisations  # type: ignore[attr-defined]
        system_of = {m.id: m.system for m in [*orgs.commissioners, *orgs.providers]}
        for i, agreement in enumerate(config):
            refs.org(("risk_share", i, "system"), agreement.system, ("system",))
            for org_id in agreement.shares:
                if refs.org(
                    ("risk_share", i, "shares", org_id), org_id, ("commissioner", "provider")
                ):
                    if system_of[org_id] != agreement.system:
                        refs.add(
                            ("risk_share", i, "shares", org_id),
                            f"'{org_id}' is not a member of system '{agreement.system}'",
                        )
        if getattr(refs.model, "control_totals", None) is None:
            refs.add(
                ("risk_share",),
                "a risk share pools variances against control totals: add a 'control_totals' section",
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_end": self.share}

    def share(self, ctx: Context) -> None:
        """Pool members' variances and settle each member's difference with the pool."""
        totals = ctx.state["control_totals.totals"]["org"][ctx.fy]
        received = (
            ctx.state["incentives.received_ytd"] if "incentives.received_ytd" in ctx.state else 0.0
        )
        before = ctx.ledger.year_to_date() - received
        for system, members, shares in self.deals:
            variance = before[:, members] - np.nan_to_num(totals[members])
            pooled = row_sum(variance, keepdims=True)
            transfer = shares * pooled - variance  # > 0: the member draws from the pool
            ctx.ledger.post(
                system, members, np.maximum(transfer, 0.0), "risk_share", "non_recurrent"
            )
            ctx.ledger.post(
                members, system, np.maximum(-transfer, 0.0), "risk_share", "non_recurrent"
            )
            ctx.records.record(
                "risk_share",
                members,
                {"system": ctx.economy.ids[system]},
                variance=variance,
                after=shares * pooled,
                transfer=transfer,
            )
