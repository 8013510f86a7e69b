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

Tables: ``res.table("incentive_quarters")``, each quarter's tests (finance, system,
performance) and payment per funded body (Q4's on the outturn), and ``res.table("incentives")``,
the year per body.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

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
from finsim.state import Slot

__all__ = [
    "BUILTIN_SCHEMES",
    "IncentiveScheme",
    "Incentives",
    "IncentivesConfig",
    "fund_allocation",
    "provider_kinds",
    "register_scheme",
    "scheme_names",
    "schemes",
]

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Incentives(Mechanism):
    """Quarterly incentive payments to acceptors, and the year-end return of unearned money."""

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
    requires = ("control_totals.totals", "control_totals.accepted", "control_totals.option")

    def __init__(self, config: IncentivesConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        self.scheme = schemes(getattr(ctx, "system", None))[config.scheme](config, ctx)
        self.allocation = fund_allocation(config, economy)
        self.bodies = np.flatnonzero(self.allocation.any(axis=0))
        self.scheme.bind(provider_kinds(ctx.scenario.model, economy)[self.bodies])
        self.paid = np.zeros((ctx.R, economy.n_accounts))
        self.member = economy.membership("system")
        ctx.state["incentives.received_ytd"] = self.paid
        ctx.state["output.incentive_allocation"] = self.allocation  # static (F, A)

    @classmethod
    def check(cls, config: IncentivesConfig, refs: ReferencesLike) -> None:
        for org_id in config.allocation:
            refs.org(("incentives", "allocation", org_id), org_id, ("commissioner", "provider"))
        known = schemes(getattr(refs, "system", None))
        if config.scheme not in known:
            refs.add(
                ("incentives", "scheme"),
                f"unknown scheme '{config.scheme}'; registered: {', '.join(known)}",
                did_you_mean(config.scheme, known),
            )
        first = config.fund.at(refs.start_year)
        if sum(config.allocation.values()) > first + 1e-9:
            refs.add(
                ("incentives", "allocation"),
                f"allocations sum to {sum(config.allocation.values()):,.1f} but the fund is {first:,.1f}",
            )
        if getattr(refs.model, "control_totals", None) is None:
            refs.add(
                ("incentives",),
                "an incentive fund is tied to control totals: add a 'control_totals' section",
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": self.fund,
            "monitoring": self.quarter_end,
            "outturn": self.outturn,
        }

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
        own = before >= totals["org"][ctx.fy] * fraction - 1e-9
        system_before = np.asarray(before @ self.member)
        system_ok = system_before >= totals["system"][ctx.fy] * fraction - 1e-9
        parent = ctx.economy.system
        system_pass = np.where(parent >= 0, system_ok[:, np.maximum(parent, 0)], own)
        return own, system_pass, before

    def quarter_end(self, ctx: Context) -> None:
        """At the end of Q1-Q3, pay acceptors what the quarter's tests on the year-to-date
        accrued position earn them (Q4 is tested on the outturn: :meth:`outturn`)."""
        if ctx.month % 3 or ctx.month == 12:
            return
        self._pay_quarter(ctx)

    def outturn(self, ctx: Context) -> None:
        """Q4 on the full-year outturn, after the year-end reconciliations; then the year-end
        rules for unearned money."""
        self._pay_quarter(ctx)
        self.year_end(ctx)

    def _pay_quarter(self, ctx: Context) -> None:
        q = ctx.month // 3
        own, system_pass, _ = self._tests(ctx, ctx.month / 12.0)
        b = self.bodies
        # a body not on the scenario's scheme (it declined a system option) is tested on
        # its own total alone
        system_pass = np.where(ctx.state["control_totals.option"][ctx.fy], system_pass, own)
        accepted = ctx.state["control_totals.accepted"][ctx.fy, b]
        performance = (
            self.rng.uniform("performance", ctx.fy, q, shape=(b.size,))
            < self.config.performance_chance
        )
        amount = self.scheme.quarter(
            ctx, q, self.allocation[ctx.fy, b], own[:, b], system_pass[:, b], performance
        )
        amount = amount * accepted
        ctx.ledger.post(self.centre, b, amount, "incentive_payment", "non_recurrent")
        self.paid[:, b] += amount
        ctx.records.record(
            "incentive_quarters",
            b,
            {"quarter": q},
            accepted=accepted,
            finance_test=own[:, b],
            system_test=system_pass[:, b],
            performance_test=performance,
            earnable=self.allocation[ctx.fy, b] * self.config.phasing[q - 1] * accepted,
            paid=amount,
        )

    def year_end(self, ctx: Context) -> None:
        """Return unearned money through the scheme's year-end rules."""
        b = self.bodies
        accepted = ctx.state["control_totals.accepted"][ctx.fy, b]
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
            ctx.ledger.post(self.centre, b, amount, category, "non_recurrent")
            self.paid[:, b] += amount
        ctx.records.record(
            "incentives",
            b,
            allocation=self.allocation[ctx.fy, b],
            accepted=accepted,
            earned=earned,
            redistributed=self.paid[:, b] - earned,
            surplus_before_incentives=before[:, b],
            control_total=totals,
        )
