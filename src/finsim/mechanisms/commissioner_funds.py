"""Commissioners' money held back and topped up: the CCG risk reserve and its non-recurrent
spending rule (2016/17-2018/19), and the Commissioner Sustainability Fund (2018/19).

What it models (fact sheet section 5; policy tree ``commissioner.*``):

* **CCG risk reserve** (:class:`CommissionerReserves`, section ``commissioner_reserves``).
  In 2016/17 CCGs held 1% of their allocations, about GBP 800m, as a non-recurrent risk
  reserve, uncommitted, released only with HM Treasury sign-off (F21, F22; S); it was not
  released for spending but counted, as CCG underspend, against the provider deficit
  (F22). In 2017/18 and 2018/19 the 1% was split: 0.5% held as a reserve released only if
  the system (STP) met its control total, and 0.5% spent non-recurrently (F21; S). For
  2018/19 both rules were lifted, releasing GBP 370m (F12; S), and from 2019/20 the reserve
  was removed (F17; S).

  Rules chosen: the reserve, ``share`` x the commissioner's allocation for the year (every
  allocation stream it holds), is held *by the CCG*, uncommitted: the CCG's spending as the
  scenario states it is its plan before the reserve, and a twelfth of the reserve is held
  back from it each month (``risk_reserve_held``, a non-recurrent negative cost), so a CCG
  planning to break even runs a surplus of its reserve until it is released. At the
  outturn, under ``release``:

  - ``kept``: it stays unspent, the CCG's underspend (2016/17);
  - ``system_control_total``: released if the CCG's system met its control total (the
    members' summed surplus before incentives at least the system's total), and the
    CCG spends it; otherwise kept (2017/18-2018/19 as planned);
  - ``released``: released and spent whatever happens.

  Released money is spent non-recurrently (``risk_reserve_release``) with the providers of
  the CCG's own system, in proportion to its planned contract value with each
  (``spend_with: system_providers``; a CCG with no such contract spends it outside the
  NHS), or outside the NHS (``spend_with: external``). Where it goes is not in the sources
  (U); within the system it leaves the system's position unchanged.
  ``non_recurrent_share`` of the allocation is spending the CCG may make only
  non-recurrently: the same money relabelled (a non-recurrent ``operating_cost`` and an
  equal recurrent one taken off), so the surplus is unchanged and the underlying position
  shows it. Nothing is held in a year whose ``share`` is 0 (2018/19 once lifted, 2019/20).
* **Commissioner Sustainability Fund** (:class:`CommissionerSustainabilityFund`, section
  ``commissioner_sustainability_fund``): GBP 400m in 2018/19, so that CCGs with control
  totals balance after it, overspenders improving by at least 1% of their allocation (F12;
  S). It runs the incentive fund's machinery for commissioners with a deficit control total
  that accepted it (:class:`~finsim.mechanisms.recovery_fund.DeficitFund`): each one's
  allocation is its planned deficit (so meeting the total and receiving the fund is
  break-even), scaled pro rata if the fund is smaller. ``improvement`` (``commissioner.
  overspender_improvement``, 0.01 in 2018/19) makes a CCG eligible only if its control
  total improves on its previous year's outturn before incentives by at least that share
  of its allocation (not tested in the first simulated year, which has no previous
  outturn: U). Phasing and the payment's tests are the incentive fund's (U: the CSF's
  are not in the sources read).

Categories: ``risk_reserve_held`` and ``risk_reserve_release`` (non-recurrent), ``csf_payment``, ``csf_bonus``,
``csf_distribution`` (incentive money: a CCG's control total is tested before its CSF).
Tables: ``res.table("risk_reserve")``, ``"csf"``, ``"csf_quarters"``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar, Literal

import numpy as np
from pydantic import Field

from finsim.economy import EXTERNAL
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.mechanisms.incentive_schemes import in_force
from finsim.mechanisms.incentives import FUND_SLOTS, incentive_money
from finsim.mechanisms.recovery_fund import DeficitFund, DeficitFundConfig
from finsim.numeric import scatter_add
from finsim.scenario.models import FYLabel, StrictModel
from finsim.scenario.params import ShareByYear
from finsim.state import Need, Slot, later, optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

__all__ = [
    "CommissionerReserves",
    "CommissionerReservesConfig",
    "CommissionerSustainabilityFund",
    "CommissionerSustainabilityFundConfig",
    "commissioner_allocation",
]

Release = Literal["kept", "system_control_total", "released"]


def commissioner_allocation(ctx: Context) -> np.ndarray:
    """Each body's allocation this year from every allocation stream it holds, ``(R, A)``
    (0 without an allocations section)."""
    out = np.zeros((ctx.R, ctx.economy.n_accounts))
    if "allocations.streams" in ctx.state:
        for stream in ctx.state["allocations.streams"].values():
            if stream.holders.size:
                scatter_add(out, stream.holders, stream.allocation)
    return out


class CommissionerReservesConfig(StrictModel):
    """The CCG risk reserve and non-recurrent spending rule (see the module docstring)."""

    share: ShareByYear = Field(
        description="share of each commissioner's allocation held as a risk reserve "
        "(2016/17: 0.01; 2017/18-2018/19: 0.005; once lifted, 0)"
    )
    release: Release | dict[FYLabel, Release] = Field(
        description="required (the rule differed by year: kept in 2016/17, F22; on the "
        "system total in 2017/18, F21; released in 2018/19, F12): "
        "kept: the reserve stays unspent (underspend); system_control_total: "
        "released and spent if the CCG's system met its control total; released: always; "
        "or by year",
    )
    spend_with: Literal["system_providers", "external"] = Field(
        default="system_providers",
        description="who a released reserve is spent with: the providers of the CCG's own "
        "system by planned contract value, or outside the NHS",
    )
    non_recurrent_share: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.0),
        description="share of the allocation the commissioner may spend only "
        "non-recurrently (2017/18-2018/19: 0.005)",
    )


class CommissionerReserves(Mechanism):
    """Commissioners' risk reserves, released on the year's rule, and non-recurrent spending."""

    section = "commissioner_reserves"
    order = 65.5  # after control totals (whose outcome it reads), before the incentive fund
    categories = (
        Category("risk_reserve_release", "a commissioner's released risk reserve, spent"),
        Category(
            "risk_reserve_held",
            "spending a commissioner holds back as its risk reserve (a negative cost)",
        ),
    )
    drivers = (Driver("other", 1000, ("risk_reserve_release", "risk_reserve_held")),)
    Config = CommissionerReservesConfig
    config: CommissionerReservesConfig
    requires: ClassVar[tuple[str | Need, ...]] = (
        optional("allocations.streams"),
        optional("control_totals.totals"),
        optional("contracts.plan_value_now"),
        optional("contracts.commissioner"),
        optional("contracts.provider"),
        *(later(slot, optional=True) for slot in FUND_SLOTS),
    )

    def __init__(self, config: CommissionerReservesConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.commissioners = economy.of_type("commissioner")
        self.held = np.zeros((ctx.R, economy.n_accounts))
        self.nonrecurrent = np.zeros((ctx.R, self.commissioners.size))

    @classmethod
    def check(cls, config: CommissionerReservesConfig, refs: ReferencesLike) -> None:
        rules = config.release.values() if isinstance(config.release, dict) else [config.release]
        try:
            in_force(config.release, refs.start_year)
        except KeyError as exc:
            refs.add((cls.section, "release"), str(exc.args[0]))
        if "system_control_total" in rules and getattr(refs.model, "control_totals", None) is None:
            refs.add(
                (cls.section, "release"),
                "release on the system control total needs a 'control_totals' section",
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.hold, "costs": self.relabel, "outturn": self.release}

    def hold(self, ctx: Context) -> None:
        """The year's reserve and non-recurrent spending, shares of the year's allocation."""
        year = ctx.fy_start_year
        allocation = commissioner_allocation(ctx)[:, self.commissioners]
        self.held[:] = 0.0
        self.held[:, self.commissioners] = self.config.share.at(year) * allocation
        self.nonrecurrent = self.config.non_recurrent_share.at(year) * allocation

    def relabel(self, ctx: Context) -> None:
        """Each month a twelfth of the reserve held back from the commissioner's spending, and
        a twelfth of the non-recurrent spending: part of its own spending counted
        non-recurrent (surplus unchanged; the underlying position shows it)."""
        held = self.held[:, self.commissioners]
        if held.any():
            ctx.ledger.post(
                self.commissioners, EXTERNAL, -held / 12.0, "risk_reserve_held", "non_recurrent"
            )
        if self.nonrecurrent.any():
            amount = self.nonrecurrent / 12.0
            c = self.commissioners
            ctx.ledger.post(c, EXTERNAL, amount, "operating_cost", "non_recurrent")
            ctx.ledger.post(c, EXTERNAL, -amount, "operating_cost", "recurrent")

    def release(self, ctx: Context) -> None:
        """At the outturn, release and spend each reserve the year's rule releases."""
        held = self.held[:, self.commissioners]
        if not held.any():
            return
        rule = in_force(self.config.release, ctx.fy_start_year)
        if rule == "system_control_total":
            released = self._system_met(ctx)[:, self.commissioners]
        else:
            released = np.full(held.shape, rule == "released")
        amount = held * released
        ctx.records.record("risk_reserve", self.commissioners, held=held, released=amount)
        self._spend(ctx, amount)

    def _system_met(self, ctx: Context) -> np.ndarray:
        """Whether each body's system met its control total at the outturn, ``(R, A)``: the
        members' summed surplus before incentives (reserves still held) against its total."""
        economy = ctx.economy
        before = ctx.ledger.year_to_date() - incentive_money(ctx)
        system_total = ctx.state["control_totals.totals"]["system"][ctx.fy]
        summed = np.asarray(before @ economy.membership("system"))
        met = summed >= np.nan_to_num(system_total, nan=np.inf) - 1e-9
        parent = economy.system
        return np.where(parent >= 0, met[:, np.maximum(parent, 0)], False)

    def _spend(self, ctx: Context, amount: np.ndarray) -> None:
        """Spend released reserves ``(R, n)`` with the CCG's system's providers by planned
        contract value, or outside the NHS."""
        c = self.commissioners
        outside = amount
        if self.config.spend_with == "system_providers" and "contracts.plan_value_now" in ctx.state:
            payer = ctx.state["contracts.commissioner"]
            payee = ctx.state["contracts.provider"]
            system = ctx.economy.system
            local = (system[payer] == system[payee]) & (system[payer] >= 0)
            weight = ctx.state["contracts.plan_value_now"]() * local
            per_payer = np.zeros((ctx.R, ctx.economy.n_accounts))
            scatter_add(per_payer, payer, weight)
            reserve = np.zeros((ctx.R, ctx.economy.n_accounts))
            reserve[:, c] = amount
            denominator = per_payer[:, payer]
            paid = np.where(
                denominator > 0,
                reserve[:, payer] * weight / np.where(denominator > 0, denominator, 1.0),
                0.0,
            )
            ctx.ledger.post(payer, payee, paid, "risk_reserve_release", "non_recurrent")
            outside = np.where(per_payer[:, c] > 0, 0.0, amount)
        ctx.ledger.post(c, EXTERNAL, outside, "risk_reserve_release", "non_recurrent")


class CommissionerSustainabilityFundConfig(DeficitFundConfig):
    """The Commissioner Sustainability Fund (see the module docstring)."""

    improvement: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.0),
        description="least improvement of a CCG's control total on its previous outturn "
        "before incentives, a share of its allocation, to be eligible (2018/19: 0.01)",
    )


class CommissionerSustainabilityFund(DeficitFund):
    """The Commissioner Sustainability Fund for CCGs with a deficit control total."""

    section = "commissioner_sustainability_fund"
    order = 68
    kind = "commissioner"
    funded_kinds = ("commissioner",)
    categories = (
        Category(
            "csf_payment", "a quarter's Commissioner Sustainability Fund payment", "incentive"
        ),
        Category("csf_bonus", "a year-end bonus from unearned CSF money", "incentive"),
        Category("csf_distribution", "unearned CSF money shared at year end", "incentive"),
    )
    drivers = (Driver("recovery and commissioner funds", 51, tuple(c.name for c in categories)),)
    Config = CommissionerSustainabilityFundConfig
    config: CommissionerSustainabilityFundConfig
    provides = (
        Slot(
            "commissioner_sustainability_fund.received_ytd",
            "(R, A)",
            "Commissioner Sustainability Fund money each CCG received this year to date, GBP m",
        ),
        Slot("output.csf_allocation", "(F, A)", "each CCG's CSF allocation, GBP m"),
    )
    requires: ClassVar[tuple[str | Need, ...]] = (
        "control_totals.totals",
        "control_totals.accepted",
        "control_totals.option",
        optional("allocations.streams"),
        *(
            later(slot, optional=True)
            for slot in FUND_SLOTS
            if slot != "commissioner_sustainability_fund.received_ytd"
        ),
    )
    table = "csf"
    quarters_table = "csf_quarters"
    posts: ClassVar[dict[str, str]] = {
        "payment": "csf_payment",
        "incentive_bonus": "csf_bonus",
        "general_distribution": "csf_distribution",
    }

    def __init__(self, config: CommissionerSustainabilityFundConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        #: each funded CCG's outturn before incentives last year (NaN: none yet), (R, n)
        self.last_outturn = np.full((ctx.R, self.bodies.size), np.nan)
        self.improved = np.ones((ctx.R, self.bodies.size), dtype=bool)

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {**super().phases(), "year_start": self.start_year}

    def start_year(self, ctx: Context) -> None:
        """Fund the year; find which CCGs' totals improve enough on last year's outturn."""
        self.fund(ctx)
        need = self.config.improvement.at(ctx.fy_start_year)
        allocation = commissioner_allocation(ctx)[:, self.bodies]
        total = np.nan_to_num(ctx.state["control_totals.totals"]["org"][ctx.fy, self.bodies])
        # no previous outturn (the first year): nothing to improve on, so no test
        self.improved = np.isnan(self.last_outturn) | (
            total >= np.nan_to_num(self.last_outturn) + need * allocation - 1e-9
        )

    def taking_part(self, ctx: Context) -> np.ndarray:
        """CCGs with an accepted deficit total that improves enough, ``(R, n)``."""
        return super().taking_part(ctx) & self.improved

    def year_end(self, ctx: Context) -> None:
        """The year-end rules; keep each CCG's outturn before incentives for next year's test."""
        super().year_end(ctx)
        before = ctx.ledger.year_to_date() - incentive_money(ctx)
        self.last_outturn = before[:, self.bodies]
