"""Control totals, and each body's decision to accept or reject its own (seeds 002, 003, 004).

What it models: NHS Improvement and NHS England set each provider and
commissioner a *control total*: the surplus it must deliver (or the largest
deficit it may run), measured before incentive funding. A system's total is
the sum of its members' (or a set target), with net-neutral *flexibility* to
move amounts between members; a region's is the sum of its systems' (or a set
target, as the regional control totals of 2019/20). Several levels bind at once.

Each body accepts or rejects its total at the start of the year, under a rule:

* ``always`` / ``never``;
* ``rational``: accept when the expected incentive gain, less a risk-aversion
  penalty on its spread, outweighs the expected cost of the required improvement:

      E[gain] - risk_aversion x SD[gain] >= improvement_cost x improvement

  where *improvement* = max(control total - expected surplus, 0). The gain
  is what the scenario's incentive scheme would pay the body over the year
  (:meth:`finsim.mechanisms.incentives.IncentiveScheme.expected_payment`: for
  the built-in scheme, the allocation times the chance of passing its tests,
  the finance test resting ``system_share`` on the system total).
  Expectations come from the engine's own replications: a *pilot* run of the
  year, once per run (so decisions do not depend on chunking), every body
  rejecting, with the acceptor's improvement delivered at a random rate. With
  ``level: system`` the system decides for all its members on their summed
  gains and costs, as the ICSs did in 2018/19. The decisions are made in
  :mod:`finsim.decisions`, outside the mechanisms.

Acceptors set about their improvement: extra savings delivered at a random
rate through the year, non-recurrent (a negative ``operating_cost``, so the
underlying position does not count them). Decisions are events
(``accepted_control_total`` / ``rejected_control_total``) and rows of
``res.table("acceptance")``. Positions report each body's total, its system's
and its region's, and whether each was met.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from finsim.distributions import share
from finsim.economy import EXTERNAL, ORG_TYPES, Economy
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Mechanism
from finsim.positions import PositionColumn, PositionView
from finsim.scenario.models import FYLabel, Id, StrictModel
from finsim.scenario.params import SignedMoneyByYear
from finsim.scenario.units import RATE, SHARE, WHOLE, Share, SignedMoney
from finsim.state import Slot

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Delivery(StrictModel):
    """Share of a planned saving actually delivered: a random share with this mean and sd
    (logit-normal, see :mod:`finsim.distributions`)."""

    mean: Share = Field(default=1.0, description="mean share delivered")
    sd: Annotated[float, SHARE(le=0.5)] = Field(
        default=0.0, description="standard deviation of the share delivered"
    )

    @model_validator(mode="after")
    def _possible(self) -> Delivery:
        # (savings and interventions use it too: checked here, not by one mechanism)
        if self.sd > 0 and self.sd**2 >= self.mean * (1 - self.mean):
            raise ValueError(
                f"a share with mean {self.mean} cannot have sd {self.sd}: "
                f"sd must be below {np.sqrt(self.mean * (1 - self.mean)):.3f}"
            )
        return self

    def draw(self, u: np.ndarray) -> np.ndarray:
        """Delivery rates for uniforms ``u``."""
        return share(u, self.mean, self.sd)


class Acceptance(StrictModel):
    """How bodies decide whether to accept their control totals."""

    rule: Literal["always", "never", "rational", "behavioural"] = Field(
        default="always",
        description="always or never accept; rational: accept when the expected incentive, "
        "less risk_aversion x its sd, covers the improvement's cost (from a pilot run); "
        "behavioural: weigh the whole position against the status quo (finsim.behaviour)",
    )
    level: Literal["organisation", "system"] = Field(
        default="organisation", description="who decides: each body, or each system for its members"
    )
    risk_aversion: Annotated[float, RATE(le=100)] = Field(
        default=0.0, description="GBP of expected incentive given up per GBP of its sd"
    )
    improvement_cost: Annotated[float, RATE] = Field(
        default=1.0, description="cost to the body of each GBP of improvement it must find"
    )
    delivery: Delivery = Field(
        default_factory=Delivery, description="share of the required improvement acceptors deliver"
    )
    loss_aversion: Annotated[float, RATE(ge=1, le=100)] = Field(
        default=1.0,
        description="behavioural: weight of a loss against the status quo relative to an "
        "equal gain (1: none)",
    )
    miss_penalty: Annotated[float, RATE(le=1e6)] = Field(
        default=0.0,
        description="behavioural: GBP m a body counts against missing a total it accepted "
        "(financial special measures, loans at 6%, lost capital access)",
    )
    miss_rate: Annotated[float, RATE(le=100)] = Field(
        default=0.0,
        description="behavioural: GBP counted per GBP by which an accepted total is missed",
    )
    side_payments: bool = Field(
        default=False,
        description="behavioural, level system: members share the system's gain in proportion "
        "to their funding allocations, so no member is worse off alone",
    )
    pilot_seed: Annotated[int, WHOLE(le=2**62)] | None = Field(
        default=None,
        description="behavioural: the pilot's seed (default: from the scenario's name, so "
        "decisions are the same for every run seed and every variant)",
    )
    pilot_replications: Annotated[int, WHOLE(ge=10, le=100_000)] = Field(
        default=200, description="replications of the pilot run that rational decisions use"
    )
    overrides: dict[str, Literal["accept", "reject"]] = Field(
        default_factory=dict, description="bodies whose decision is set, whatever the rule"
    )


class Flexibility(StrictModel):
    """A net-neutral move of control total between two members of a system."""

    fy: FYLabel = Field(description="the year whose totals move")
    from_: Id = Field(alias="from", description="the body whose control total falls")
    to: Id = Field(description="the body whose control total rises")
    amount: SignedMoney = Field(
        description="GBP m of surplus moved from one body's total to the other's"
    )


class ControlTotalsConfig(StrictModel):
    """Control totals (surplus required before incentives, GBP m; negative: largest deficit)."""

    organisations: dict[str, SignedMoneyByYear] = Field(
        default_factory=dict, description="each commissioner's or provider's control total, GBP m"
    )
    systems: dict[str, SignedMoneyByYear] = Field(
        default_factory=dict, description="set system totals (default: the sum of members')"
    )
    regions: dict[str, SignedMoneyByYear] = Field(
        default_factory=dict, description="set regional totals (default: the sum of systems')"
    )
    flexibility: list[Flexibility] = Field(
        default_factory=list, description="net-neutral moves of total between system members"
    )
    acceptance: Acceptance = Field(
        default_factory=Acceptance, description="how bodies decide to accept their totals"
    )


def totals(config: ControlTotalsConfig, economy: Economy) -> dict[str, np.ndarray]:
    """Control totals by year and account, ``(F, A)``, at organisation, system and region level."""
    calendar = economy.calendar
    F, A = calendar.n_years, economy.n_accounts
    org = np.full((F, A), np.nan)
    for org_id, value in config.organisations.items():
        org[:, economy.index(org_id)] = value.series(calendar.start_year, F)
    for move in config.flexibility:
        y = calendar.fy_index(move.fy)
        if 0 <= y < F:
            org[y, economy.index(move.from_)] -= move.amount
            org[y, economy.index(move.to)] += move.amount
    out = {"org": org}
    # a system's default is the sum of its members'; a region's, the sum of its systems'
    below = org
    for level, given in (("system", config.systems), ("region", config.regions)):
        summed = np.nan_to_num(below) @ economy.membership(level)
        any_member = (~np.isnan(below)).astype(float) @ economy.membership(level)
        level_total = np.where(any_member > 0, summed, np.nan)
        is_level = economy.org_type == ORG_TYPES.index(level)
        level_total = np.where(is_level, level_total, np.nan)
        for body, value in given.items():
            level_total[:, economy.index(body)] = value.series(calendar.start_year, F)
        out[level] = level_total
        below = level_total
    return out


def _met(surplus: np.ndarray, total: np.ndarray) -> np.ndarray:
    """1.0 where a surplus meets a control total (to 1e-9), 0.0 where not, NaN where no total."""
    met = (surplus >= total - 1e-9).astype(float)
    met[np.isnan(total)] = np.nan
    return met


class ControlTotals(Mechanism):
    """Control totals at every level, acceptance decisions, and acceptors' improvements."""

    section = "control_totals"
    order = 65
    categories = (
        Category("incentive_payment", "a quarter's incentive payment", "incentive"),
        Category("incentive_bonus", "a year-end bonus from unearned incentive money", "incentive"),
        Category(
            "general_distribution", "unearned incentive money shared at year end", "incentive"
        ),
    )
    Config = ControlTotalsConfig
    config: ControlTotalsConfig
    provides = (
        Slot(
            "control_totals.totals",
            "dict level -> (F, A)",
            "control totals by year and account at levels 'org', 'system' and 'region', GBP m "
            "(NaN: none)",
        ),
        Slot("control_totals.accepted", "(F, A) bool", "whether each body accepted its total"),
        Slot(
            "control_totals.option",
            "(F, A) bool",
            "the acceptors on the scenario's scheme; the others keep their own total's scheme "
            "(a system's share of funding does not apply to them)",
        ),
        Slot("output.control_total", "(F, A)", "each body's control total, GBP m"),
        Slot(
            "output.accepted_control_total",
            "(F, A)",
            "1 accepted, 0 rejected, NaN no control total",
        ),
        Slot("output.system_control_total", "(F, A)", "each system's control total, GBP m"),
        Slot("output.region_control_total", "(F, A)", "each region's control total, GBP m"),
    )

    columns = (
        PositionColumn("control_total", 60, "the body's control total (raised in-year), GBP m"),
        PositionColumn(
            "met_control_total", 61, "surplus before incentives met the control total", True
        ),
        PositionColumn("accepted_control_total", 62, "the body accepted its control total", True),
        PositionColumn("system_control_total", 63, "the body's system's control total, GBP m"),
        PositionColumn(
            "met_system_control_total", 64, "the system's summed position met its total", True
        ),
        PositionColumn("region_control_total", 65, "the body's region's control total, GBP m"),
        PositionColumn(
            "met_region_control_total", 66, "the region's summed position met its total", True
        ),
    )

    @classmethod
    def positions(cls, view: PositionView) -> None:
        """Control totals at each level beside each body's position, and whether each was met
        (surplus before incentives at least the total, to 1e-9; NaN where there is none).

        A total raised in the year (``output.control_total_raised``, published by whichever
        mechanism asks bodies for extra surplus: interventions) raises the body's total and
        its system's; the regional total it serves stays where it was. A system's or
        region's position is the sum of its members' and own account's.
        """
        arrays = view.arrays
        control = view.full("control_total")
        system = view.full("system_control_total")
        raised = view.outputs.get("control_total_raised")
        if raised is not None:
            control = control + raised
            system = system + view.summed(raised, "system")
        arrays["control_total"] = control
        arrays["met_control_total"] = _met(arrays["surplus_before_incentives"], control)
        arrays["accepted_control_total"] = view.full("accepted_control_total")
        for level, total in (("system", system), ("region", view.full("region_control_total"))):
            before = view.summed(arrays["surplus_before_incentives"], level)
            arrays[f"{level}_surplus_before_incentives"] = view.of_parent(before, level)
            arrays[f"{level}_control_total"] = view.of_parent(total, level)
            arrays[f"met_{level}_control_total"] = _met(
                arrays[f"{level}_surplus_before_incentives"], arrays[f"{level}_control_total"]
            )

    def __init__(self, config: ControlTotalsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.totals = totals(config, economy)
        F = economy.calendar.n_years
        has_total = ~np.isnan(self.totals["org"])
        prepared = None
        if f"prepared.{self.section}" in ctx.state:  # rational decisions, made once per run
            prepared = ctx.state[f"prepared.{self.section}"]
        if prepared is not None:
            accepted = prepared["accepted"]
            self.improvement = prepared["improvement"]
        else:
            accepted = np.full((F, economy.n_accounts), config.acceptance.rule == "always")
            self.improvement = np.zeros((F, economy.n_accounts))
        accepted = apply_overrides(accepted, config.acceptance.overrides, economy)
        self.accepted = accepted & has_total
        # who is on the scenario's scheme: every acceptor, unless a behavioural decision has
        # bodies declining a system option keep their own total's scheme
        option = prepared.get("option") if prepared is not None else None
        self.option = self.accepted if option is None else (option & self.accepted)
        self.bodies = np.flatnonzero(has_total.any(axis=0))
        self.delivered = np.zeros((ctx.R, self.bodies.size))
        ctx.state["control_totals.totals"] = self.totals
        ctx.state["control_totals.accepted"] = self.accepted
        ctx.state["control_totals.option"] = self.option
        # static (F, A) outputs for Results.positions
        ctx.state["output.control_total"] = self.totals["org"]
        ctx.state["output.accepted_control_total"] = np.where(has_total, self.accepted, np.nan)
        ctx.state["output.system_control_total"] = self.totals["system"]
        ctx.state["output.region_control_total"] = self.totals["region"]

    @classmethod
    def check(cls, config: ControlTotalsConfig, refs: ReferencesLike) -> None:
        for org_id in config.organisations:
            refs.org(
                ("control_totals", "organisations", org_id), org_id, ("commissioner", "provider")
            )
        for org_id in config.systems:
            refs.org(("control_totals", "systems", org_id), org_id, ("system",))
        for org_id in config.regions:
            refs.org(("control_totals", "regions", org_id), org_id, ("region",))
        for org_id in config.acceptance.overrides:
            refs.org(
                ("control_totals", "acceptance", "overrides", org_id),
                org_id,
                ("commissioner", "provider"),
            )
        orgs = refs.model.organisations  # type: ignore[attr-defined]
        system_of = {m.id: m.system for m in [*orgs.commissioners, *orgs.providers]}
        for i, move in enumerate(config.flexibility):
            path = ("control_totals", "flexibility", i)
            ok = refs.org(path + ("from",), move.from_, ("commissioner", "provider"))
            ok &= refs.org(path + ("to",), move.to, ("commissioner", "provider"))
            if ok and system_of[move.from_] != system_of[move.to]:
                refs.add(
                    path,
                    f"flexibility moves totals within a system: '{move.from_}' and '{move.to}' are in different systems",
                )
        d = config.acceptance.delivery
        if d.sd > 0 and d.sd**2 >= d.mean * (1 - d.mean):
            refs.add(
                ("control_totals", "acceptance", "delivery", "sd"),
                f"a share with mean {d.mean} cannot have sd {d.sd}",
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.decide, "costs": self.deliver}

    def decide(self, ctx: Context) -> None:
        """Record the year's decisions; acceptors draw how much of their improvement they deliver."""
        y = ctx.fy
        has = ~np.isnan(self.totals["org"][y, self.bodies])
        acc = self.accepted[y, self.bodies]
        totals_now = self.totals["org"][y, self.bodies]
        ctx.events.record(
            self.bodies, "accepted_control_total", "", has & acc, totals_now, detailed=True
        )
        ctx.events.record(
            self.bodies, "rejected_control_total", "", has & ~acc, totals_now, detailed=True
        )
        u = self.rng.uniform("delivery", y, shape=(self.bodies.size,))
        rate = self.config.acceptance.delivery.draw(u)
        self.delivered = rate * self.improvement[y, self.bodies] * acc

    def deliver(self, ctx: Context) -> None:
        """Acceptors' extra savings: a twelfth a month, non-recurrent cost reductions."""
        if self.delivered.any():
            ctx.ledger.post(
                self.bodies, EXTERNAL, -self.delivered / 12.0, "operating_cost", "non_recurrent"
            )


def apply_overrides(
    accepted: np.ndarray, overrides: Mapping[str, str], economy: Economy
) -> np.ndarray:
    out = accepted.copy()
    for org_id, choice in overrides.items():
        out[:, economy.index(org_id)] = choice == "accept"
    return out
