"""Incentive schemes: the settings of an incentive fund and the rules by which it is earned
(:class:`IncentiveScheme`, the built-in sustainability-fund rules; a user's scheme subclasses
it), used by :mod:`finsim.mechanisms.incentives` and by the acceptance decisions
(:mod:`finsim.decisions`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, NoReturn, TypeVar

import numpy as np
from pydantic import Field, field_validator

from finsim.calendar import fy_label, parse_fy
from finsim.economy import Economy
from finsim.numeric import row_sum
from finsim.scenario.models import FYLabel, Money, ProviderKind, StrictModel
from finsim.scenario.params import MoneyByYear, RateByYear, ShareByYear
from finsim.scenario.units import Share

if TYPE_CHECKING:
    from finsim.mechanisms.base import Context
    from finsim.types import SystemLike


T = TypeVar("T")

#: When a quarter's money is paid: ``arrears`` at the quarter's end on the year-to-date tests
#: (Q4 on the outturn); ``advance`` early in the quarter, on the tests at the previous
#: quarter's end (Q1 on acceptance alone).
Timing = Literal["arrears", "advance"]


def in_force(value: T | Mapping[str, T], year: int) -> T:
    """A setting written as one value or by financial year (``{2019/20: ..., 2020/21: ...}``):
    the value in force in the year starting in April of ``year`` (a year's value holds until
    the next year given)."""
    if not isinstance(value, Mapping):
        return value
    chosen: list[T] = [v for label, v in sorted(value.items()) if parse_fy(label) <= year]
    if not chosen:
        raise KeyError(f"no value for {fy_label(year)}: the first year given is {min(value)}")
    return chosen[-1]


def _check_phasing(value: list[float]) -> list[float]:
    if len(value) != 4 or any(v < 0 for v in value) or abs(sum(value) - 1.0) > 1e-9:
        raise ValueError("expected four quarterly shares summing to 1, e.g. [0.15, 0.2, 0.3, 0.35]")
    return value


class IncentivesConfig(StrictModel):
    """An incentive fund and the rules for earning it."""

    scheme: str = Field(default="sustainability_fund", description="a registered scheme name")
    fund: MoneyByYear = Field(description="size of the fund each year, GBP m")
    allocation: dict[str, Money] = Field(
        description="each body's allocation of the first year's fund, GBP m (scaled with the fund)"
    )
    allocated_of: Money | None = Field(
        default=None,
        description="the size of fund the allocations are of, GBP m, when not the first "
        "year's (a fund cut or grown from the one they were set for: each allocation scales "
        "by fund / allocated_of)",
    )
    phasing: list[Share] | dict[FYLabel, list[Share]] = Field(
        default_factory=lambda: [0.15, 0.20, 0.30, 0.35],
        description="share of the year's allocation earnable in each quarter (sums to 1), or "
        "by year ({2019/20: [0.15, 0.2, 0.3, 0.35], 2020/21: [0.25, 0.25, 0.25, 0.25]})",
    )
    timing: Timing | dict[FYLabel, Timing] = Field(
        default="arrears",
        description="arrears: each quarter paid at its end on the year-to-date tests (Q4 on "
        "the outturn); advance: paid early in the quarter on the tests at the previous "
        "quarter's end, Q1 on acceptance alone (the FRF planned for 2020/21); or by year",
    )
    finance_share: ShareByYear = Field(
        default_factory=lambda: ShareByYear.constant(0.7),
        description="share earned by meeting the year-to-date control total (0.7 = 70%)",
    )
    finance_share_by_kind: dict[ProviderKind, ShareByYear] = Field(
        default_factory=dict,
        description="the finance share of providers of a kind, in place of finance_share "
        "(2016/17-2018/19: trusts without an A&E department had all of it on finance, e.g. "
        "{mental_health: 1, community: 1, specialist: 1})",
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
    def _quarters(
        cls, value: list[float] | dict[str, list[float]]
    ) -> list[float] | dict[str, list[float]]:
        for one in value.values() if isinstance(value, dict) else [value]:
            _check_phasing(one)
        return value

    def phasing_at(self, year: int) -> list[float]:
        """The quarterly phasing in force in the year starting in April of ``year``."""
        return in_force(self.phasing, year)

    def timing_at(self, year: int) -> str:
        """When quarters are paid in the year starting in April of ``year``."""
        return in_force(self.timing, year)


def provider_kinds(model: Any, economy: Economy) -> np.ndarray:
    """Each account's provider kind (``organisations.providers[].kind``), "" for others."""
    kinds = np.full(economy.n_accounts, "", dtype=object)
    for provider in model.organisations.providers:
        kinds[economy.index(provider.id)] = provider.kind
    return kinds


def fund_allocation(config: IncentivesConfig, economy: Economy) -> np.ndarray:
    """Each body's allocation of the fund by year, ``(F, A)``, scaled with the fund's size
    (from the first year's, or ``allocated_of``)."""
    calendar = economy.calendar
    sizes = np.array(config.fund.series(calendar.start_year, calendar.n_years))
    base = np.zeros(economy.n_accounts)
    for org_id, amount in config.allocation.items():
        base[economy.index(org_id)] = amount
    first = sizes[0] if sizes[0] > 0 else 1.0
    if config.allocated_of is not None and config.allocated_of > 0:
        first = config.allocated_of
    return sizes[:, None] / first * base[None, :]


class IncentiveScheme:
    """How an incentive fund is earned. Subclass and add to a System to write your own.

    ``ctx`` is None when the scheme is made for the acceptance pilot
    (:func:`finsim.decisions.decide`), which asks only :meth:`expected_payment`.
    """

    name: ClassVar[str] = "sustainability_fund"

    def __init__(self, config: IncentivesConfig, ctx: Context | None) -> None:
        self.config = config
        #: each body's provider kind ("" for a commissioner), in the order of the arrays the
        #: scheme is given (:meth:`bind`); None: every body has the one finance share
        self.kinds: np.ndarray | None = None

    def bind(self, kinds: np.ndarray) -> None:
        """Say which bodies the arrays the scheme is given are about: their provider kinds
        (finsim calls it before asking the scheme anything)."""
        self.kinds = np.asarray(kinds, dtype=object)

    def finance_share(self, year: int) -> float | np.ndarray:
        """The share of the fund earned on finance in the year: one value, or one per body
        where ``finance_share_by_kind`` sets some kinds apart."""
        share = self.config.finance_share.at(year)
        by_kind = self.config.finance_share_by_kind
        if not by_kind or self.kinds is None:
            return share
        return np.array([by_kind[k].at(year) if k in by_kind else share for k in self.kinds])

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
        finance = self.finance_share(year)
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
        finance = self.finance_share(year)
        s = self.config.system_share.at(year)
        finance_met = (1.0 - s) * own_pass + s * system_pass
        earned = finance * finance_met + (1.0 - finance) * performance_pass
        return allocation * self.config.phasing_at(year)[q - 1] * earned

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


def scheme_names(system: SystemLike | None = None) -> list[str]:
    """Names of the incentive schemes (of ``system``, else the built-ins and registered)."""
    return list(schemes(system))
