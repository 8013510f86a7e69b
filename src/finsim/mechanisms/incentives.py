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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn

import numpy as np
from pydantic import Field, field_validator

from finsim.economy import TREASURY, Economy
from finsim.errors import did_you_mean
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.numeric import row_sum
from finsim.scenario.models import Money, StrictModel
from finsim.scenario.params import MoneyByYear, RateByYear, ShareByYear
from finsim.scenario.units import Share
from finsim.state import Slot

if TYPE_CHECKING:
    from finsim.types import ReferencesLike, SystemLike


class IncentivesConfig(StrictModel):
    """An incentive fund and the rules for earning it."""

    scheme: str = Field(default="sustainability_fund", description="a registered scheme name")
    fund: MoneyByYear = Field(description="size of the fund each year, GBP m")
    allocation: dict[str, Money] = Field(
        description="each body's allocation of the first year's fund, GBP m (scaled with the fund)"
    )
    phasing: list[Share] = Field(
        default_factory=lambda: [0.15, 0.20, 0.30, 0.35],
        description="share of the year's allocation earnable in each quarter (sums to 1)",
    )
    finance_share: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.7),
        description="share earned by meeting the year-to-date control total (0.7 = 70%)",
    )
    performance_chance: Share = Field(
        default=1.0, description="chance each quarter of meeting the performance trajectories"
    )
    system_share: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.0),
        description="share of the finance share resting on the system's total (0.25; 1 = fully "
        "system-based)",
    )
    unearned: list[Literal["bonus", "general_distribution"]] = Field(
        default_factory=list,
        description="how unearned money returns at year end, in order (the rest stays central)",
    )
    bonus_ratio: RateByYear = Field(
        default_factory=lambda: RateByYear.constant(1.0),
        description="bonus GBP for each GBP by which an acceptor beat its control total",
    )

    @field_validator("phasing")
    @classmethod
    def _quarters(cls, value: list[float]) -> list[float]:
        if len(value) != 4 or any(v < 0 for v in value) or abs(sum(value) - 1.0) > 1e-9:
            raise ValueError(
                "expected four quarterly shares summing to 1, e.g. [0.15, 0.2, 0.3, 0.35]"
            )
        return value


def fund_allocation(config: IncentivesConfig, economy: Economy) -> np.ndarray:
    """Each body's allocation of the fund by year, ``(F, A)``, scaled with the fund's size."""
    calendar = economy.calendar
    sizes = np.array(config.fund.series(calendar.start_year, calendar.n_years))
    base = np.zeros(economy.n_accounts)
    for org_id, amount in config.allocation.items():
        base[economy.index(org_id)] = amount
    first = sizes[0] if sizes[0] > 0 else 1.0
    return sizes[:, None] / first * base[None, :]


class IncentiveScheme:
    """How an incentive fund is earned. Subclass and add to a System to write your own.

    ``ctx`` is None when the scheme is made for the acceptance pilot
    (:func:`finsim.decisions.decide`), which asks only :meth:`expected_payment`.
    """

    name: ClassVar[str] = "sustainability_fund"

    def __init__(self, config: IncentivesConfig, ctx: Context | None) -> None:
        self.config = config

    def expected_payment(
        self,
        year: int,
        allocation: np.ndarray,
        own_pass: np.ndarray,
        system_pass: np.ndarray,
        performance_pass: np.ndarray | float,
    ) -> np.ndarray:
        """What a body that accepted would earn over the year, ``(P, n)``, in each of the
        acceptance pilot's P replications: the quarterly payments, summed.

        ``year`` is the calendar year the financial year starts in; ``allocation`` ``(n,)``
        each body's allocation that year; ``own_pass`` and ``system_pass`` ``(P, n)`` whether
        its year-end surplus (before incentives) meets its own and its system's control
        total; ``performance_pass`` the chance it meets its performance trajectories.
        Bodies accept or reject on this (:mod:`finsim.decisions`). A scheme that overrides
        :meth:`quarter` but not this method gets the sum of its four quarters on the year's
        tests (its ``quarter`` then sees a context with ``fy_start_year`` only).
        """
        cls = type(self)
        if (
            cls.quarter is not IncentiveScheme.quarter
            and cls.expected_payment is IncentiveScheme.expected_payment
        ):
            pilot: Any = _PilotYear(year)
            total = np.zeros(np.shape(own_pass))
            for q in range(1, 5):
                total = total + self.quarter(
                    pilot, q, allocation, own_pass, system_pass, np.asarray(performance_pass)
                )
            return total
        finance = self.config.finance_share.at(year)
        s = self.config.system_share.at(year)
        finance_met = (1 - s) * own_pass + s * system_pass
        return allocation * (finance * finance_met + (1 - finance) * performance_pass)

    def quarter(
        self,
        ctx: Context,
        q: int,
        allocation: np.ndarray,
        own_pass: np.ndarray,
        system_pass: np.ndarray,
        performance_pass: np.ndarray,
    ) -> np.ndarray:
        """The quarter's payment to each body, ``(R, n)``, before the acceptance mask."""
        year = ctx.fy_start_year
        finance = self.config.finance_share.at(year)
        s = self.config.system_share.at(year)
        finance_met = (1.0 - s) * own_pass + s * system_pass
        earned = finance * finance_met + (1.0 - finance) * performance_pass
        return allocation * self.config.phasing[q - 1] * earned

    def year_end(
        self,
        ctx: Context,
        unearned: np.ndarray,
        allocation: np.ndarray,
        beaten: np.ndarray,
        met: np.ndarray,
    ) -> list[tuple[str, np.ndarray]]:
        """Redistributions of unearned money: (category, (R, n) amounts) in order."""
        out = []
        pool = unearned.copy()
        for rule in self.config.unearned:
            if rule == "bonus":
                wanted = self.config.bonus_ratio.at(ctx.fy_start_year) * np.maximum(beaten, 0.0)
                amount = _capped(wanted, pool)
                out.append(("incentive_bonus", amount))
            else:
                weights = allocation * met
                total = row_sum(weights, keepdims=True)
                amount = np.where(
                    total > 0, pool[:, None] * weights / np.where(total > 0, total, 1.0), 0.0
                )
                out.append(("general_distribution", amount))
            pool = pool - row_sum(amount)
        return out


class _PilotYear:
    """What :meth:`IncentiveScheme.quarter` may read of the context when the pilot asks it."""

    def __init__(self, year: int) -> None:
        self.fy_start_year = year


def _capped(wanted: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """Pay what is wanted, scaled down pro rata where the pool is smaller."""
    total = row_sum(wanted)
    scale = np.where(total > pool, pool / np.where(total > 0, total, 1.0), 1.0)
    return wanted * np.maximum(scale, 0.0)[:, None]


#: The incentive schemes finsim has, by name.
BUILTIN_SCHEMES: dict[str, type[IncentiveScheme]] = {"sustainability_fund": IncentiveScheme}


def register_scheme(cls: type[IncentiveScheme]) -> NoReturn:
    """Removed: raises :class:`TypeError`; use ``finsim.System.default().with_scheme(cls)``."""
    raise TypeError(
        f"register_scheme({getattr(cls, '__name__', cls)!r}) was removed: registering no "
        "longer changes a process-wide table. Use a System: "
        "system = finsim.System.default().with_scheme(cls), then "
        "finsim.load_scenario(path, system=system)"
    )


def schemes(system: SystemLike | None = None) -> dict[str, type[IncentiveScheme]]:
    """The incentive schemes by name: the built-ins, and the System's (``system.schemes``)."""
    if system is None:
        return dict(BUILTIN_SCHEMES)
    return {**BUILTIN_SCHEMES, **system.schemes}


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
    requires = ("control_totals.totals", "control_totals.accepted")

    def __init__(self, config: IncentivesConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        self.scheme = schemes(getattr(ctx, "system", None))[config.scheme](config, ctx)
        self.allocation = fund_allocation(config, economy)
        self.bodies = np.flatnonzero(self.allocation.any(axis=0))
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
        return {"year_start": self.fund, "monitoring": self.quarter_end, "year_end": self.year_end}

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
        """At each quarter end, pay acceptors what the quarter's tests earn them."""
        if ctx.month % 3:
            return
        q = ctx.month // 3
        own, system_pass, _ = self._tests(ctx, ctx.month / 12.0)
        b = self.bodies
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


def scheme_names(system: SystemLike | None = None) -> list[str]:
    """Names of the incentive schemes (of ``system``, else the built-ins and registered)."""
    return list(schemes(system))
