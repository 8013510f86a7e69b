"""Incentive funds tied to control totals: STF, PSF, FRF, CSF (seeds 002, 003).

What it models: the centre holds a fund (the Sustainability and Transformation
Fund of 2016/17-2017/18, GBP 1.8bn; the Provider Sustainability Fund of
2018/19, GBP 2.45bn; later the Financial Recovery and Commissioner
Sustainability Funds) and allocates it to bodies that *accept* their control
totals. Each quarter, in arrears, an acceptor earns the quarter's phasing
(e.g. 15/20/30/35%) of its allocation:

* the **finance share** (e.g. 70%) if it meets its year-to-date control total
  (measured before incentive funding, pro rata through the year). The scheme's
  ``system_share`` rests that much of the finance share on the *system's*
  year-to-date total instead of the body's own: 0 (own only), 0.25 (2018/19's
  "interim" ICS option) or 1 ("fully system-based");
* the **performance share** if it meets its performance trajectories, with
  ``performance_chance`` each quarter.

Money not earned returns at year end through the schemes listed in
``unearned``, in order: ``bonus`` (GBP ``bonus_ratio`` for every GBP 1 by which
an acceptor beat its control total, 1 then 2 in later years) and
``general_distribution`` (the rest to acceptors that met their total,
weighted by allocation); what is left stays with the centre.

The fund is funded from the treasury each year (``funding``, non-recurrent);
payments are ``incentive_payment``, ``incentive_bonus`` and
``general_distribution`` (non-recurrent). How a quarter's payment or the year
end is worked out is an :class:`IncentiveScheme`; write your own by
subclassing it and adding it to a System (``System.default().with_scheme(cls)``),
then name it in the
scenario's ``scheme:``. No engine code changes. A scheme's
:meth:`~IncentiveScheme.expected_payment` is what bodies deciding whether to
accept their control totals expect to earn (:mod:`finsim.decisions`).

A quarter is paid in arrears by default (``timing: arrears``); ``timing: advance`` pays it
early in the quarter, on the tests at the previous quarter's end (Q1 on acceptance alone), as
the Financial Recovery Fund planned for 2020/21 (F19, F20; S for "paid early in the quarter",
U for the test it is paid on). Phasing and timing may be given by year.

The machinery is shared: :class:`Incentives` is written for a second fund to run it with its
own section, categories, tables, allocation and eligibility (the Financial Recovery Fund,
:mod:`finsim.mechanisms.recovery_fund`; the Commissioner Sustainability Fund,
:mod:`finsim.mechanisms.commissioner_funds`). Every fund's tests are on the surplus before
*all* incentive money: the payments of every fund in :data:`FUND_SLOTS` are left out.

Tables: ``res.table("incentive_quarters")``, each quarter's tests (finance, system,
performance) and payment per funded body (Q4's on the outturn), and ``res.table("incentives")``,
the year per body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from finsim.economy import TREASURY
from finsim.errors import did_you_mean
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.mechanisms.incentive_schemes import (
    BUILTIN_SCHEMES,
    IncentiveScheme,
    IncentivesConfig,
    fund_allocation,
    provider_kinds,
    register_scheme,
    scheme_names,
    schemes,
)
from finsim.numeric import row_sum
from finsim.state import Need, Slot, later

__all__ = [
    "BUILTIN_SCHEMES",
    "FUND_SLOTS",
    "IncentiveScheme",
    "Incentives",
    "IncentivesConfig",
    "fund_allocation",
    "incentive_money",
    "provider_kinds",
    "register_scheme",
    "scheme_names",
    "schemes",
]

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

#: The ``ctx.state`` slots in which each incentive fund publishes what every body received
#: from it this year to date: a control total is tested before all of them.
FUND_SLOTS = (
    "incentives.received_ytd",
    "recovery_fund.received_ytd",
    "commissioner_sustainability_fund.received_ytd",
    "covid.elective_received_ytd",  # the Covid elective incentive: incentive money too
)


def incentive_money(ctx: Context, leave_out: str = "") -> np.ndarray | float:
    """Incentive money each body received this year to date from every fund of the run, but
    the one published in ``leave_out``, ``(R, A)`` (0.0 if none).

    A fund adds these slots read with :func:`finsim.state.later`: every fund keeps its slot in
    step with its postings, so whichever acts first in a phase, the ledger less this is the
    same surplus before incentives."""
    total: np.ndarray | float = 0.0
    for slot in FUND_SLOTS:
        if slot != leave_out and slot in ctx.state:
            total = total + ctx.state[slot]
    return total


class Incentives(Mechanism):
    """Quarterly incentive payments to acceptors, and the year-end return of unearned money.

    A second fund subclasses it, naming its own ``section``, ``Config``, ``categories``,
    ``provides`` (its ``<section>.received_ytd`` first, one of :data:`FUND_SLOTS`),
    ``table``, ``quarters_table`` and ``posts`` (the category of a payment, bonus and distribution), and
    overriding :meth:`make_allocation` and :meth:`taking_part`.
    """

    section = "incentives"
    order = 66
    categories = (
        Category("incentive_payment", "a quarter's incentive payment", "incentive"),
        Category("incentive_bonus", "a year-end bonus from unearned incentive money", "incentive"),
        Category(
            "general_distribution", "unearned incentive money shared at year end", "incentive"
        ),
    )
    drivers = (
        Driver(
            "incentive funding",
            50,
            ("incentive_payment", "incentive_bonus", "general_distribution"),
        ),
    )
    Config = IncentivesConfig
    config: IncentivesConfig
    provides = (
        Slot(
            "incentives.received_ytd",
            "(R, A)",
            "incentive money each body received this year to date, GBP m: quarterly payments "
            "(monitoring phase), then the year end's redistributions",
        ),
        Slot("output.incentive_allocation", "(F, A)", "each body's allocation of the fund, GBP m"),
    )
    requires: ClassVar[tuple[str | Need, ...]] = (
        "control_totals.totals",
        "control_totals.accepted",
        "control_totals.option",
        *(later(slot, optional=True) for slot in FUND_SLOTS[1:]),
    )
    #: The kinds of organisation the fund may be allocated to.
    funded_kinds: ClassVar[tuple[str, ...]] = ("commissioner", "provider")
    #: The names of its tables: the year's per body, and each quarter's.
    table: ClassVar[str] = "incentives"
    quarters_table: ClassVar[str] = "incentive_quarters"
    #: The category it posts a quarter's payment, a bonus and a distribution as.
    posts: ClassVar[dict[str, str]] = {
        "payment": "incentive_payment",
        "incentive_bonus": "incentive_bonus",
        "general_distribution": "general_distribution",
    }

    def __init__(self, config: IncentivesConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        self.scheme = schemes(getattr(ctx, "system", None))[config.scheme](config, ctx)
        self.allocation = self.make_allocation(config, ctx)
        self.bodies = np.flatnonzero(self.allocation.any(axis=0))
        self.scheme.bind(provider_kinds(ctx.scenario.model, economy)[self.bodies])
        self.paid = np.zeros((ctx.R, economy.n_accounts))
        self.member = economy.membership("system")
        #: advance timing: the tests at the last quarter's end (own, system, performance)
        self.last_tests: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        received, allocation = (slot.name for slot in self.provides[:2])
        ctx.state[received] = self.paid
        ctx.state[allocation] = self.allocation  # static (F, A)

    def make_allocation(self, config: IncentivesConfig, ctx: Context) -> np.ndarray:
        """Each body's allocation of the fund by year, ``(F, A)``: the section's, scaled with
        the fund's size."""
        return fund_allocation(config, ctx.economy)

    def taking_part(self, ctx: Context) -> np.ndarray:
        """Which funded bodies may earn the fund this year, ``(n,)``: those that accepted
        their control totals."""
        return ctx.state["control_totals.accepted"][ctx.fy, self.bodies]

    @classmethod
    def check(cls, config: IncentivesConfig, refs: ReferencesLike) -> None:
        for org_id in config.allocation:
            refs.org((cls.section, "allocation", org_id), org_id, cls.funded_kinds)
        known = schemes(getattr(refs, "system", None))
        if config.scheme not in known:
            refs.add(
                (cls.section, "scheme"),
                f"unknown scheme '{config.scheme}'; registered: {', '.join(known)}",
                did_you_mean(config.scheme, known),
            )
        for name, at in (("phasing", config.phasing_at), ("timing", config.timing_at)):
            try:
                at(refs.start_year)
            except KeyError as exc:
                refs.add((cls.section, name), str(exc.args[0]))
        first = config.fund.at(refs.start_year)
        if config.allocated_of is not None:
            first = config.allocated_of
        if sum(config.allocation.values()) > first + 1e-9:
            what = "allocated_of" if config.allocated_of is not None else "fund"
            refs.add(
                (cls.section, "allocation"),
                f"allocations sum to {sum(config.allocation.values()):,.1f} but the {what} is "
                f"{first:,.1f}",
            )
        if getattr(refs.model, "control_totals", None) is None:
            refs.add(
                (cls.section,),
                "an incentive fund is tied to control totals: add a 'control_totals' section",
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        out = {"year_start": self.fund, "monitoring": self.quarter_end, "outturn": self.outturn}
        if "advance" in (
            self.config.timing.values()
            if isinstance(self.config.timing, dict)
            else [self.config.timing]
        ):
            out["allocation"] = self.advance
        return out

    def fund(self, ctx: Context) -> None:
        """The treasury funds the centre's incentive fund for the year."""
        self.paid[:] = 0.0
        size = self.config.fund.at(ctx.fy_start_year)
        ctx.ledger.post(
            TREASURY, self.centre, np.full((ctx.R, 1), size), "funding", "non_recurrent"
        )

    def _tests(self, ctx: Context, fraction: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(own pass, system pass, surplus before incentives) year to date, ``(R, A)``."""
        totals = ctx.state["control_totals.totals"]
        before = ctx.ledger.year_to_date() - self.paid
        others = incentive_money(ctx, leave_out=self.provides[0].name)
        if isinstance(others, np.ndarray):  # another fund runs: its money is left out too
            before = before - others
        own = before >= totals["org"][ctx.fy] * fraction - 1e-9
        system_before = np.asarray(before @ self.member)
        system_ok = system_before >= totals["system"][ctx.fy] * fraction - 1e-9
        parent = ctx.economy.system
        system_pass = np.where(parent >= 0, system_ok[:, np.maximum(parent, 0)], own)
        return own, system_pass, before

    def quarter_end(self, ctx: Context) -> None:
        """At the end of Q1-Q3, pay acceptors what the quarter's tests on the year-to-date
        accrued position earn them (Q4 is tested on the outturn: :meth:`outturn`); paying
        in advance, keep the tests for the next quarter's payment (:meth:`advance`)."""
        if ctx.month % 3 or ctx.month == 12:
            return
        own, system_pass, _ = self._tests(ctx, ctx.month / 12.0)
        q = ctx.month // 3
        if self.config.timing_at(ctx.fy_start_year) == "advance":
            self.last_tests = (own, system_pass, self._performance(ctx, q + 1))
            return
        self._pay_quarter(ctx, q, own, system_pass, self._performance(ctx, q))

    def advance(self, ctx: Context) -> None:
        """Early in each quarter (its first month), pay the quarter's share on the tests at
        the last quarter's end; Q1 on acceptance alone (there is no position yet)."""
        if ctx.month % 3 != 1 or self.config.timing_at(ctx.fy_start_year) != "advance":
            return
        q = ctx.month // 3 + 1
        tests = self.last_tests
        if q == 1 or tests is None:
            passed = np.ones((ctx.R, ctx.economy.n_accounts), dtype=bool)
            tests = (passed, passed, np.ones((ctx.R, self.bodies.size), dtype=bool))
        self._pay_quarter(ctx, q, *tests)

    def outturn(self, ctx: Context) -> None:
        """Q4 on the full-year outturn, after the year-end reconciliations (paid in arrears);
        then the year-end rules for unearned money."""
        if self.config.timing_at(ctx.fy_start_year) == "arrears":
            own, system_pass, _ = self._tests(ctx, 1.0)
            self._pay_quarter(ctx, 4, own, system_pass, self._performance(ctx, 4))
        self.last_tests = None
        self.year_end(ctx)

    def _performance(self, ctx: Context, q: int) -> np.ndarray:
        """Whether each funded body meets its performance trajectories in quarter ``q``."""
        u = self.rng.uniform("performance", ctx.fy, q, shape=(self.bodies.size,))
        return u < self.config.performance_chance

    def _pay_quarter(
        self,
        ctx: Context,
        q: int,
        own: np.ndarray,
        system_pass: np.ndarray,
        performance: np.ndarray,
    ) -> None:
        b = self.bodies
        # a body not on the scenario's scheme (it declined a system option) is tested on
        # its own total alone
        system_pass = np.where(ctx.state["control_totals.option"][ctx.fy], system_pass, own)
        accepted = self.taking_part(ctx)
        amount = self.scheme.quarter(
            ctx, q, self.allocation[ctx.fy, b], own[:, b], system_pass[:, b], performance
        )
        amount = amount * accepted
        ctx.ledger.post(self.centre, b, amount, self.posts["payment"], "non_recurrent")
        self.paid[:, b] += amount
        phasing = self.config.phasing_at(ctx.fy_start_year)
        ctx.records.record(
            self.quarters_table,
            b,
            {"quarter": q},
            accepted=accepted,
            finance_test=own[:, b],
            system_test=system_pass[:, b],
            performance_test=performance,
            earnable=self.allocation[ctx.fy, b] * phasing[q - 1] * accepted,
            paid=amount,
        )

    def year_end(self, ctx: Context) -> None:
        """Return unearned money through the scheme's year-end rules."""
        b = self.bodies
        accepted = self.taking_part(ctx)
        totals = ctx.state["control_totals.totals"]["org"][ctx.fy, b]
        _, _, before = self._tests(ctx, 1.0)
        # only an acceptor has a total to beat: a body without one (NaN) beats nothing, and
        # its NaN must not reach the arithmetic (NaN x 0 is NaN, not 0)
        beaten = np.where(accepted, before[:, b] - np.where(accepted, totals, 0.0), 0.0)
        met = (beaten >= -1e-9) & accepted
        unearned = self.config.fund.at(ctx.fy_start_year) - row_sum(self.paid[:, b])
        earned = self.paid[:, b].copy()
        for category, amount in self.scheme.year_end(
            ctx, unearned, self.allocation[ctx.fy, b] * accepted, beaten, met
        ):
            ctx.ledger.post(self.centre, b, amount, self.posts[category], "non_recurrent")
            self.paid[:, b] += amount
        ctx.records.record(
            self.table,
            b,
            allocation=self.allocation[ctx.fy, b],
            accepted=accepted,
            earned=earned,
            redistributed=self.paid[:, b] - earned,
            surplus_before_incentives=before[:, b],
            control_total=totals,
        )
