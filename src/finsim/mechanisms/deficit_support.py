"""Deficit support funding (DSF): central support to systems with deficit plans, withheld
from those off plan, and withdrawn over years.

What it models. From 2024/25 NHS England gave non-recurrent revenue support to systems
(paid to ICBs for their system) whose plans were in deficit, so that plans could be
agreed: deficit support funding. In 2025/26 it was made conditional on delivering the
plan: 13 systems off plan at month 9 got no DSF for the fourth quarter (D4, C;
``deficits.dsf.rule`` and ``deficits.dsf.systems_withheld`` in the policy tree). The
medium-term planning framework removes DSF by gradual withdrawal over 2026/27 to 2028/29,
as ICBs move to their fair share of funding by 2028/29 (T14, C; D5, D6, S); an aggregator
reported about £2.2bn of DSF redirected (D7, S, weak). The amounts by year and by system
were not found (a gap): a scenario states them, and they are illustrative.

The rules, as a scenario states them (section ``deficit_support``):

* ``support``: each recipient's support for a year, GBP m (or by year). A recipient is a
  system (paid to the system's own account: the ICB's, for its system), a commissioner or
  a provider. Each year's support is paid from the centre in equal instalments, quarterly
  in arrears (M3, M6, M9, M12) or monthly, in the ``allocation`` phase.
* ``withdrawal``: the share of the support withdrawn in each year, from the first
  simulated year; what is withdrawn accumulates (withdrawal 1/3 from 2026/27 leaves
  2/3, 1/3, then none), so the support paid in year *y* is ``support_y x (1 - W_y)`` with
  ``W_y`` the withdrawal shares summed to *y* (at most 1). With a constant support this is
  a share of the first year's support withdrawn each year. What is withdrawn or withheld
  stays with the centre (its redirection towards fair shares is the allocations' pace of
  change, not modelled here).
* ``condition``: at the end of each decision month (``monitoring`` phase), from a start
  year, a recipient whose year-to-date position is below its plan phased evenly
  (``plan x month / 12``) by more than ``tolerance`` GBP m is *off plan*; its instalments
  until the next decision month are withheld (D4: Q4 withheld at M9). A later decision
  that finds it back on plan releases the instalments after it, never those withheld.
* ``plans``: each recipient's planned surplus *after* support (negative: a planned
  deficit), GBP m (or by year); a recipient not named has its control total (the
  system's, for a system, from the control totals mechanism) if one is set, else
  breakeven (0).
* ``repayable``: by default support is revenue income (``deficit_support``, non-recurrent
  by default, so it is outside the underlying position). Repayable support is a loan, as
  the interim revenue support of 2015/16 to 2019/20 was: cash, not a better position
  (``loan``, capital), bearing interest (``loan_interest``, revenue), repaid from the year
  after on a profile (``loan_repayment``, capital; :mod:`finsim.mechanisms.loans`), and
  rolled over by a recipient whose year's position is in deficit if ``rollover`` says so.

Positions. A system's position is the sum over its members' and its own account (the
membership incidence); a body's is its own. The year's outturn is measured at the close
of March, counting money by when it moved (the ledger's year to date): a prior-year item
settled after March is not in it. ``res.table("deficit_support")`` holds, per recipient and
year: ``support`` (after withdrawal), ``withdrawn``, ``paid``, ``withheld``, ``off_plan`` (at
a decision), ``variance_at_decision`` (year to date less phased plan at the last decision),
``plan``, ``position_before`` (outturn without the year's support: less the support received
as income, plus interest paid on repayable support), ``position_after`` (the outturn),
``missed_plan`` (outturn below plan), ``in_deficit`` (outturn below zero), ``breach`` (one of
the two, by ``breach``), ``interest``, ``repaid`` and ``rolled_over``. Events:
``deficit_support_withheld`` (at a decision, the amount to be withheld) and
``deficit_support_breach`` (at the close of March).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from finsim.calendar import parse_fy
from finsim.economy import ORG_TYPES
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.mechanisms.loans import LoanBook, Profile
from finsim.scenario.models import FYLabel, StrictModel
from finsim.scenario.params import MoneyByYear, ShareByYear, SignedMoneyByYear
from finsim.scenario.units import RATE, WHOLE, Month
from finsim.state import later

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

RECIPIENT_KINDS = ("system", "commissioner", "provider")


class Condition(StrictModel):
    """Support conditional on being on plan at decision months (D4: M9, Q4 withheld)."""

    months: list[Month] = Field(
        default_factory=lambda: [9],
        description="the decision months (1-11): each decides the instalments paid after it "
        "until the next",
    )
    tolerance: MoneyByYear = Field(
        default_factory=lambda: MoneyByYear.constant(0.0),
        description="how far below its phased plan (GBP m, year to date) a recipient may be "
        "and still count as on plan",
    )
    start: FYLabel | None = Field(
        default=None,
        description="the first year the condition applies (2025/26 in England); default the "
        "first simulated year",
    )


class Repayment(StrictModel):
    """Repayable support: a loan from the centre (see :mod:`finsim.mechanisms.loans`)."""

    rate: Annotated[float, RATE(le=1)] = Field(
        default=0.0, description='annual interest on the balance (0.015 or "1.5%")'
    )
    term: Annotated[int, WHOLE(ge=1, le=30)] = Field(
        default=3, description="years over which it is repaid, from the year after"
    )
    profile: Profile = Field(
        default="straight_line",
        description="straight_line (equal principal), annuity (equal payments) or bullet",
    )
    rollover: Literal["never", "when_in_deficit"] = Field(
        default="never",
        description="when_in_deficit: a recipient whose year's position is below zero "
        "repays none of that year's principal (the schedule moves a year)",
    )


class DeficitSupportConfig(StrictModel):
    """Deficit support by recipient and year, its payment, condition and withdrawal."""

    support: dict[str, MoneyByYear] = Field(
        min_length=1,
        description="each recipient's (system, commissioner or provider) support for a "
        "year before withdrawal, GBP m (or by year)",
    )
    plans: dict[str, SignedMoneyByYear] = Field(
        default_factory=dict,
        description="each recipient's planned surplus after support, GBP m (negative: a "
        "deficit); default its control total, else 0",
    )
    payment: Literal["quarterly", "monthly"] = Field(
        default="quarterly", description="equal instalments, quarterly in arrears or monthly"
    )
    withdrawal: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.0),
        description="share of the support withdrawn in each year (accumulating, from the "
        "first simulated year)",
    )
    condition: Condition | None = Field(
        default=None, description="support withheld from recipients off plan (default: none)"
    )
    recurrence: Literal["non_recurrent", "recurrent"] = Field(
        default="non_recurrent", description="the support's recurrence (DSF: non-recurrent)"
    )
    repayable: Repayment | None = Field(
        default=None, description="repayable support is a loan; default: revenue income"
    )
    breach: Literal["plan", "deficit"] = Field(
        default="plan",
        description="a breach is an outturn below plan (plan) or below zero (deficit)",
    )


class DeficitSupport(Mechanism):
    """Deficit support paid to recipients, withheld when off plan, withdrawn over years."""

    section = "deficit_support"
    order = 85
    Config = DeficitSupportConfig
    config: DeficitSupportConfig
    categories = (
        Category("deficit_support", "deficit support funding from the centre (revenue)"),
        Category("loan", "a loan to a body in difficulty"),
        Category("loan_repayment", "a loan repaid"),
        Category("loan_interest", "interest on a loan, paid by the borrower to the lender"),
    )
    drivers = (Driver("interventions", 60, ("deficit_support",)),)
    # control totals are set at construction; read here only from the monitoring phase on
    requires = (later("control_totals.totals", optional=True),)

    def __init__(self, config: DeficitSupportConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy, calendar = ctx.economy, ctx.calendar
        self.recipients = economy.indices(list(config.support))
        n, F = self.recipients.size, calendar.n_years
        self.is_system = economy.org_type[self.recipients] == ORG_TYPES.index("system")
        self.scope = scope_matrix(economy.membership("system"), self.recipients, self.is_system)
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        years = [calendar.start_year + f for f in range(F)]
        withdrawn = np.minimum(np.cumsum([config.withdrawal.at(y) for y in years]), 1.0)
        full = np.array([[s.at(y) for s in config.support.values()] for y in years])
        #: each year's support after withdrawal, and what was withdrawn, (F, n)
        self.support = full * (1.0 - withdrawn[:, None])
        self.withdrawn = full - self.support
        self.given_plan = np.full((F, n), np.nan)
        for j, org_id in enumerate(config.support):
            if org_id in config.plans:
                self.given_plan[:, j] = [config.plans[org_id].at(y) for y in years]
        self.pay_months = (3, 6, 9, 12) if config.payment == "quarterly" else tuple(range(1, 13))
        #: the index of the first year the condition applies (None: it never does)
        self.first_condition: int | None = None
        if config.condition is not None:
            start = config.condition.start
            self.first_condition = 0 if start is None else parse_fy(start) - calendar.start_year
        r = config.repayable
        self.book = None if r is None else LoanBook(r.rate, r.term, r.profile)
        self._new_year(ctx.R, n)

    def _new_year(self, R: int, n: int) -> None:
        self.allowed = np.ones((R, n), dtype=bool)
        # the year's money per recipient, (R, n)
        self.paid, self.withheld, self.interest = (np.zeros((R, n)) for _ in range(3))
        self.repaid, self.rolled = np.zeros((R, n)), np.zeros((R, n))
        self.off = np.zeros((R, n), dtype=bool)
        self.variance = np.full((R, n), np.nan)

    @classmethod
    def check(cls, config: DeficitSupportConfig, refs: ReferencesLike) -> None:
        for org_id in config.support:
            refs.org(("deficit_support", "support", org_id), org_id, RECIPIENT_KINDS)
        for org_id in config.plans:
            if org_id not in config.support:
                refs.add(
                    ("deficit_support", "plans", org_id),
                    f"'{org_id}' has a plan but no support: plans are for the recipients "
                    "named in deficit_support.support",
                )
        if config.condition is not None:
            for i, month in enumerate(config.condition.months):
                if month == 12:
                    refs.add(
                        ("deficit_support", "condition", "months", i),
                        "a decision at M12 can withhold nothing (the last instalment is paid "
                        "in M12 before it): give a month from 1 to 11",
                    )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": lambda ctx: self._new_year(ctx.R, self.recipients.size),
            "allocation": self.pay,
            "monitoring": self.decide,
            "year_end": self.settle_loans,
            "close": self.assess,
        }

    # -- the year's figures ----------------------------------------------------------------
    def position(self, ctx: Context) -> np.ndarray:
        """Each recipient's year-to-date revenue position, ``(R, n)``: a system's summed
        over its members and its own account."""
        return np.asarray(ctx.ledger.year_to_date() @ self.scope)

    def plan(self, ctx: Context) -> np.ndarray:
        """This year's plan of each recipient, ``(n,)``: given, else its control total, else 0."""
        plan = self.given_plan[ctx.fy]
        if "control_totals.totals" in ctx.state:
            totals = ctx.state["control_totals.totals"]
            total = np.where(
                self.is_system,
                totals["system"][ctx.fy, self.recipients],
                totals["org"][ctx.fy, self.recipients],
            )
            plan = np.where(np.isnan(plan), total, plan)
        return np.where(np.isnan(plan), 0.0, plan)

    def instalment(self, fy: int) -> np.ndarray:
        """One instalment of each recipient's support this year, ``(n,)``."""
        return self.support[fy] / len(self.pay_months)

    # -- phases ----------------------------------------------------------------------------
    def pay(self, ctx: Context) -> None:
        """Pay the month's instalment to recipients allowed it; withhold the others'."""
        if ctx.month not in self.pay_months:
            return
        due = np.broadcast_to(self.instalment(ctx.fy), self.allowed.shape)
        pay = np.where(self.allowed, due, 0.0)
        self.paid += pay
        self.withheld += due - pay
        if self.book is None:
            ctx.ledger.post(
                self.centre, self.recipients, pay, "deficit_support", self.config.recurrence
            )
            return
        ctx.ledger.post(self.centre, self.recipients, pay, "loan", "non_recurrent", "capital")
        self.book.lend(ctx.fy, self.recipients, pay, (12 - ctx.month) / 12.0)

    def decide(self, ctx: Context) -> None:
        """At a decision month: recipients off their phased plan lose the instalments until
        the next decision month."""
        condition = self.config.condition
        if (
            condition is None
            or self.first_condition is None
            or ctx.fy < self.first_condition
            or ctx.month not in condition.months
        ):
            return
        tolerance = condition.tolerance.at(ctx.fy_start_year)
        self.variance = self.position(ctx) - self.plan(ctx) * ctx.month / 12.0
        off = self.variance < -tolerance
        self.allowed = ~off
        self.off |= off
        later_decisions = [m for m in condition.months if m > ctx.month]
        until = min(later_decisions) if later_decisions else 12
        affected = sum(1 for m in self.pay_months if ctx.month < m <= until)
        at_stake = self.instalment(ctx.fy) * affected
        ctx.events.record(
            self.recipients,
            "deficit_support_withheld",
            f"off plan at M{ctx.month}",
            off & (at_stake > 0),
            np.broadcast_to(at_stake, off.shape),
        )

    def settle_loans(self, ctx: Context) -> None:
        """Repayable support: the year's interest, then the principal due (rolled over by a
        recipient in deficit, if the scenario says so)."""
        if self.book is None:
            return
        # every tranche lends to all recipients in the same order: amounts line up with them
        for tranche, interest in self.book.interest(ctx.fy):
            ctx.ledger.post(
                tranche.borrowers, self.centre, interest, "loan_interest", "non_recurrent"
            )
            self.interest += interest
        repayment = self.config.repayable
        in_deficit = self.position(ctx) < 0.0
        for tranche, due in self.book.due(ctx.fy):
            pays = ~in_deficit if repayment and repayment.rollover == "when_in_deficit" else True
            repaid, rolled = LoanBook.repay(tranche, due, np.broadcast_to(pays, due.shape))
            ctx.ledger.post(
                tranche.borrowers, self.centre, repaid, "loan_repayment", "non_recurrent", "capital"
            )
            self.repaid += repaid
            self.rolled += rolled

    def assess(self, ctx: Context) -> None:
        """At the close of March: each recipient's outturn against its plan, and its breach."""
        if ctx.month != 12:
            return
        after = self.position(ctx)
        effect = (self.paid if self.book is None else 0.0) - self.interest
        plan = np.broadcast_to(self.plan(ctx), after.shape)
        missed, deficit = after < plan, after < 0.0
        breach = missed if self.config.breach == "plan" else deficit
        decided = (
            self.first_condition is not None
            and ctx.fy >= self.first_condition
            and self.config.condition is not None
        )
        ctx.records.record(
            "deficit_support",
            self.recipients,
            support=self.support[ctx.fy],
            withdrawn=self.withdrawn[ctx.fy],
            paid=self.paid,
            withheld=self.withheld,
            off_plan=self.off.astype(float) if decided else np.nan,
            variance_at_decision=self.variance,
            plan=plan,
            position_before=after - effect,
            position_after=after,
            missed_plan=missed.astype(float),
            in_deficit=deficit.astype(float),
            breach=breach.astype(float),
            interest=self.interest,
            repaid=self.repaid,
            rolled_over=self.rolled,
        )
        ctx.events.record(
            self.recipients,
            "deficit_support_breach",
            f"outturn below {self.config.breach}",
            breach,
            after,
        )


def scope_matrix(
    membership: sp.csr_matrix, recipients: np.ndarray, is_system: np.ndarray
) -> sp.csc_matrix:
    """The incidence ``(A, n)`` whose column j sums recipient j's position: a system's
    members and its own account (the system membership column), or the body itself."""
    A, n = membership.shape[0], recipients.size
    systems = membership.tocsc()[:, recipients] @ sp.diags(is_system.astype(float))
    bodies = sp.csc_matrix(
        (np.ones(int((~is_system).sum())), (recipients[~is_system], np.flatnonzero(~is_system))),
        shape=(A, n),
    )
    return sp.csc_matrix(systems + bodies)
