"""The contracts mechanism: accruals, cash on account, the year-end reconciliation (see
:mod:`finsim.mechanisms.contracts`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from finsim.economy import EXTERNAL
from finsim.ledger import Category
from finsim.mechanisms.base import BridgeView, Context, Driver, Mechanism
from finsim.mechanisms.contracts.balances import Balances, commissioner_view
from finsim.mechanisms.contracts.bridge import bridge
from finsim.mechanisms.contracts.rules import (
    PER_MILLION,
    TYPES,
    Contract,
    Rules,
    at_prices,
    check_contracts,
    due,
    given_else_plan,
    plan_matrix,
    planned,
    target_share,
    total_value,
    treatment,
    variable_element,
    variable_rate,
    year_rules,
)
from finsim.state import Slot, later, optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Contracts(Mechanism):
    """Activity-based, block and blended contracts paying providers each month."""

    section = "contracts"
    order = 40
    categories = (
        Category("contract_payment", "a commissioner's payment to a provider (accrued)"),
        Category(
            "mret_reinvestment",
            "a commissioner's reinvestment of the price retained under the marginal rate",
        ),
    )
    drivers = (
        Driver("activity", 10),
        Driver("tariff & coding", 20),
        Driver("disputes", 40),
    )

    @classmethod
    def waterfall(cls, view: BridgeView) -> Mapping[str, float]:
        """*activity*: value due for the activity done less the plan's value; *tariff &
        coding*: the part of the value due from case mix reported above the case mix the
        commissioner accepts; *disputes*: sums withheld at the reconciliation."""
        return bridge(view)

    Config = list[Contract]
    config: list[Contract]
    provides = (
        Slot("contracts.ids", "(C,)", "each contract's id"),
        Slot("contracts.provider", "(C,)", "each contract's provider, an account index"),
        Slot("contracts.commissioner", "(C,)", "each contract's commissioner, an account index"),
        Slot("contracts.variable_now", "callable () -> (R, C)", "year-end variable element, GBP m"),
        Slot(
            "contracts.plan_value_now",
            "callable () -> (R, C)",
            "this year's plan (or block, or api fixed element) value of each contract, GBP m",
        ),
        Slot(
            "contracts.activity_value",
            "(R, C)",
            "the month's activity at tariff without coding drift, GBP m (from billing)",
        ),
        Slot(
            "contracts.ytd",
            "dict of (R, C)",
            "year to date: months, plan, reported and accepted value, GBP m (from billing)",
        ),
        Slot(
            "contracts.accrued_ytd",
            "(R, C)",
            "income accrued on each contract this year to date, GBP m (from payment)",
        ),
        Slot(
            "contracts.withheld",
            "dict fy -> (R, C)",
            "the sum withheld at each year's reconciliation, GBP m (from year end)",
        ),
        Slot(
            "contracts.accept",
            "callable (ctx, share, fy, basis, amount, decided)",
            "a decided dispute moves the contract's basis for the years after fy",
        ),
    )
    requires = (
        optional("tariff.pods"),
        optional("tariff.price"),
        optional("tariff.marginal_rate"),
        optional("activity.plan"),
        optional("activity.profile"),
        optional("activity.case_mix_uplift"),
        optional("activity.realised"),
        # written by disputes at a review month's settlement phase (and at their
        # construction), read here only at the year-end reconciliation
        later("disputes.challenged", optional=True),
        later("disputes.basis", optional=True),
        later("covid.blocks", optional=True),  # set a year ahead (mechanisms.covid)
    )

    def __init__(self, config: list[Contract], ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        R, C = ctx.R, len(config)
        self.ids = np.array([c.id for c in config], dtype=object)
        self.pods: tuple[str, ...] = ctx.state["tariff.pods"] if "tariff.pods" in ctx.state else ()
        self.commissioner = economy.indices([c.commissioner for c in config])
        self.provider = economy.indices([c.provider for c in config])
        self.plan = plan_matrix(config, self.pods)
        self.emergency_base = given_else_plan(config, self.pods, "emergency_baseline", self.plan)
        self.target_base = given_else_plan(config, self.pods, "target_base", self.plan)
        self.treatment = treatment(config, self.pods)
        self.kind = np.array([TYPES.index(c.type) for c in config], dtype=np.int64)
        self.block = self.kind == TYPES.index("block")
        self.has_block = bool(self.block.any())
        self.block_value = np.array([c.value or 0.0 for c in config], dtype=np.float64)
        mff = {p.id: p.market_forces_factor for p in ctx.scenario.model.organisations.providers}  # type: ignore[attr-defined]
        self.mff = np.array([mff[c.provider] for c in config], dtype=np.float64)
        self.tariff = ctx.scenario.model.tariff  # type: ignore[attr-defined]
        self.state = ctx.state
        self.plan_factor = 1.0
        self.uplift = np.zeros(C)
        # what a settled dispute moves (through contracts.accept)
        self.accepted = np.ones((R, C))
        self.adjustment = np.zeros((R, C))
        #: each year's reported case mix (R, C), by year: a dispute settles to it
        self.reported_by_year: dict[int, np.ndarray] = {}
        self.withheld_by_year: dict[int, np.ndarray] = {}
        self.rules: Rules | None = None
        self.balances = Balances(economy.ids, self.ids, self.commissioner, self.provider)
        self.covid: tuple[np.ndarray, np.ndarray] | None = None  # this year's Covid block
        ctx.state.update(
            {
                "contracts.ids": self.ids,
                "contracts.provider": self.provider,
                "contracts.commissioner": self.commissioner,
                "contracts.accept": self.accept,
                "contracts.plan_value_now": lambda: self.plan_value,
                "contracts.variable_now": lambda: variable_element(self),
                "contracts.withheld": self.withheld_by_year,
            }
        )
        self._reset_year(R, C)

    def _reset_year(self, R: int, C: int) -> None:
        self.plan_value = np.zeros((R, C))
        self.on_account = np.zeros((R, C))
        self.accrued = np.zeros((R, C))
        self.retained = np.zeros((R, C))
        self.units_ytd = np.zeros((R, C, len(self.pods)))
        self.true_value_ytd = np.zeros((R, C))
        self.priced_ytd = np.zeros((R, C))  # units to date at this year's prices, GBP
        self.reported = np.ones((R, C))
        self.state["contracts.accrued_ytd"] = self.accrued

    @classmethod
    def check(cls, config: list[Contract], refs: ReferencesLike) -> None:
        check_contracts(config, refs)

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": self.new_year,
            "billing": self.bill,
            "payment": self.accrue,
            "year_end": self.reconcile,
        }

    # -- the year's plan -------------------------------------------------------------------
    def price(self) -> np.ndarray:
        return np.asarray(self.state["tariff.price"]) if self.pods else np.zeros(0)

    def _done(self, ctx: Context) -> float:
        """The share of the year's activity planned to be done by the end of this month."""
        if "activity.profile" in ctx.state:  # its last entry is exactly 1.0
            return float(ctx.state["activity.profile"][ctx.month - 1])
        return ctx.month / 12.0

    def _due(
        self, units: np.ndarray, done: float, case_mix: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        assert self.rules is not None
        scale = self.scale if case_mix is self.reported else self.mff * case_mix * PER_MILLION
        return due(self.rules, units, self.priced_ytd, done, scale, self.planned)

    def _set_plan_value(self) -> None:
        """The year's plan value (the api fixed element; a block's value): ``due`` of the
        planned units, at the case mix the commissioner accepts, for the whole year."""
        self.reported = self.accepted * (1.0 + self.uplift)
        plan_units = self._plan_units(self.state)
        self.scale = self.mff * self.reported * PER_MILLION  # GBP to GBP m, as billed
        if self.rules is not None:
            self.planned = planned(self.rules, self.mff, self.accepted, self.adjustment)
            self.plan_value = np.where(
                self.kind == TYPES.index("block"),
                self.block_value,
                total_value(plan_units[None], self.price(), self.mff * self.accepted)
                + self.adjustment,
            )
        if self.covid is not None:  # the year's plan is its Covid block
            self.plan_value = self.covid[0] * float(self.covid[1].sum())
        self.instalment = self.plan_value / 12.0  # paid on account each month

    def _plan_units(self, state: Mapping[str, object]) -> np.ndarray:
        """This year's planned units (C, P): the activity mechanism's, else the contracts'."""
        return np.asarray(state["activity.plan"] if "activity.plan" in state else self.plan)

    def accept(
        self,
        ctx: Context,
        share: np.ndarray,
        disputed_fy: int,
        basis: str,
        amount: np.ndarray,
        decided: np.ndarray | None = None,
    ) -> None:
        """A settled dispute moves the contract's basis for the years after ``disputed_fy``.

        ``share`` (R, C) is the provider's share of the outcome (1 = it won all). On the
        case-mix basis the accepted case mix moves that share of the way to the case mix
        reported in the disputed year; on the activity basis ``share x amount`` GBP m joins
        the plan's value. If the current year is after the disputed one, its plan changes too
        (the next month's accrual catches up). ``decided`` (R, C) marks the disputes decided,
        which the provider then holds as owed to it no longer.
        """
        self.balances.decided(disputed_fy, share > 0 if decided is None else decided)
        if basis == "case_mix":
            disputed_reported = self.reported_by_year[disputed_fy]
            self.accepted += share * (disputed_reported - self.accepted)
        else:
            self.adjustment += share * amount
        if ctx.fy > disputed_fy:
            self._set_plan_value()
        elif self.rules is not None:  # the year's accruals are done; keep the plan coherent
            self.planned = planned(self.rules, self.mff, self.accepted, self.adjustment)

    def new_year(self, ctx: Context) -> None:
        """Set the year's rules, plan value and reported case mix; uplift block values and
        adjustments."""
        R, C = ctx.R, len(self.config)
        year = ctx.fy_start_year
        if ctx.fy > 0:
            net = 0.0
            if self.tariff is not None:
                net = self.tariff.cost_uplift.at(year) - self.tariff.efficiency.at(year)
            growth = np.array(
                [c.growth.at(year) if c.growth is not None else net for c in self.config]
            )
            self.block_value *= 1.0 + growth
            self.adjustment *= 1.0 + net
        self._reset_year(R, C)
        plan_units = self._plan_units(ctx.state)
        self.plan_factor = plan_units.sum() / self.plan.sum() if self.plan.sum() > 0 else 1.0
        self.uplift = np.asarray(
            ctx.state["activity.case_mix_uplift"]
            if "activity.case_mix_uplift" in ctx.state
            else np.zeros(C)
        )
        marginal = (
            ctx.state["tariff.marginal_rate"] if "tariff.marginal_rate" in ctx.state else None
        )
        baseline = self.emergency_base
        if marginal is not None and marginal.baseline == "plan":
            baseline = self.emergency_base * self.plan_factor  # grown with the plan
        self.rules = year_rules(
            self.kind,
            self.treatment,
            self.price(),
            plan_units,
            self.target_base * target_share(self.config, year)[:, None],
            variable_rate(self.config, year),
            self.block_value,
            None if marginal is None else (marginal.mask, marginal.rate),
            baseline,
        )
        self.reinvest = marginal.reinvested if marginal is not None else 0.0
        self.reinvest_with = marginal.reinvested_with if marginal is not None else "provider"
        blocks = ctx.state["covid.blocks"] if "covid.blocks" in ctx.state else {}
        self.covid = blocks.get(ctx.fy)  # (mechanisms.covid)
        self._set_plan_value()
        self.reported_by_year[ctx.fy] = self.reported

    # -- monthly -----------------------------------------------------------------------------
    def bill(self, ctx: Context) -> None:
        """Count the month's activity; publish its true value at tariff (GBP m) per contract."""
        realised = ctx.state["activity.realised"] if "activity.realised" in ctx.state else None
        if realised is None and self.pods:  # no activity section: plans are realised exactly
            realised = np.broadcast_to(self.plan[None] / 12.0, (ctx.R, *self.plan.shape))
        if realised is None or not self.pods:
            value = np.zeros((ctx.R, len(self.config)))
        else:
            self.units_ytd += realised
            priced = at_prices(realised, self.price())
            self.priced_ytd += priced
            value = priced * (self.mff * PER_MILLION)
        self.true_value_ytd += value
        ctx.state["contracts.activity_value"] = value
        ctx.state["contracts.ytd"] = {
            "months": ctx.month,
            "plan": self.plan_value * self._done(ctx),
            "reported": self.true_value_ytd * self.reported,
            "accepted": self.true_value_ytd * self.accepted,
        }
        if self.covid is not None:  # nothing is billed under a Covid block: nothing to dispute
            paid = self.covid[0] * float(self.covid[1][: ctx.month].sum())
            ctx.state["contracts.ytd"].update(plan=paid, reported=paid, accepted=paid)

    def accrue(self, ctx: Context) -> None:
        """Accrue the month's income at each contract's rules for the activity done to date;
        pay a twelfth of the plan's value on account in cash; record both sides' balances."""
        done = self._done(ctx)
        earned, retained = self._due(self.units_ytd, done, self.reported)
        instalment = self.instalment
        accrual = earned - self.accrued
        if self.has_block:
            # a block accrues what it is paid, a twelfth a month: its cash and accruals agree
            # to the bit, with nothing to settle at year end
            accrual = np.where(self.block, instalment, accrual)
            earned = np.where(self.block, self.accrued + instalment, earned)
        if self.covid is not None:  # the Covid block: accrued as paid, nothing retained
            instalment = accrual = self.covid[0] * self.covid[1][ctx.month - 1]
            earned, retained = self.accrued + instalment, np.zeros_like(instalment)
        ctx.ledger.post(self.commissioner, self.provider, accrual, "contract_payment", cash=False)
        self.accrued = earned
        self.retained = retained
        ctx.ledger.pay(self.commissioner, self.provider, instalment)
        self.on_account += instalment
        ctx.state["contracts.accrued_ytd"] = self.accrued
        if ctx.records.enabled and ctx.month < 12:  # March's after the reconciliation
            disputed = self._disputed(ctx, earned, done)
            view = commissioner_view(earned, *disputed)
            self.balances.record(ctx.records, earned, view, self.on_account)

    def _disputed(
        self, ctx: Context, earned: np.ndarray, done: float
    ) -> tuple[np.ndarray | None, np.ndarray]:
        """Which contracts the commissioner has challenged this year (None: none), and the sum
        it disputes on each to date: the coding above the case mix it accepts, or the value
        above plan."""
        challenged = None
        if "disputes.challenged" in ctx.state:  # only with a disputes section
            challenged = ctx.state["disputes.challenged"].get(ctx.fy)
        if challenged is None or not np.any(challenged):
            return None, np.zeros_like(earned)
        if ctx.state["disputes.basis"] == "case_mix":
            return challenged, earned - self._due(self.units_ytd, done, self.accepted)[0]
        return challenged, earned - self.plan_value * done

    # -- year end ----------------------------------------------------------------------------
    def reconcile(self, ctx: Context) -> None:
        """Withhold what a commissioner has challenged; reinvest the retained marginal price;
        record the year, and the cash that settles it against what was paid on account."""
        earned = self.accrued  # the whole year's, accrued by March
        challenged, disputed = self._disputed(ctx, earned, 1.0)
        withheld = earned - commissioner_view(earned, challenged, disputed)
        ctx.ledger.post(self.commissioner, self.provider, -withheld, "contract_payment", cash=False)
        self.accrued = earned - withheld
        ctx.state["contracts.accrued_ytd"] = self.accrued
        # the year's balance settled in cash: the agreed accrual less what was paid on account
        settlement = self.accrued - self.on_account
        ctx.ledger.pay(self.commissioner, self.provider, settlement)
        self.balances.withheld(ctx.fy, withheld)
        if ctx.records.enabled:  # the year's cash: paid on account, then the settlement
            paid = self.on_account + settlement
            self.balances.record(ctx.records, self.accrued, self.accrued, paid)
        if self.reinvest > 0 and self.retained.any():
            target = self.provider if self.reinvest_with == "provider" else EXTERNAL
            amount = self.reinvest * self.retained
            ctx.ledger.post(self.commissioner, target, amount, "mret_reinvestment", "non_recurrent")
        self.withheld_by_year[ctx.fy] = withheld
        ctx.records.record(
            "contracts",
            self.provider,
            self.balances.labels,
            plan_value=self.plan_value,
            due=earned,
            on_account=self.on_account,
            withheld=withheld,
            reconciliation=settlement,
            case_mix=self.reported,
            accepted_case_mix=self.accepted,
            retained=self.retained,
        )
