"""The Elective Recovery Fund (ERF): a national fund for elective activity against targets.

What it models (aligned payment and incentive and the NHS Payment Scheme, 2022/23 on; policy
tree ``api_erf``). Each year NHS England sets an elective **target** for every commissioner
(ICB): a multiple of its 2019/20 value-weighted elective activity (``api_erf.elective_target``:
104% in 2022/23, A1-A3, S; 107% at plan, cut to 103% in November 2023 with £800m, A4, A5, C).
It allocates a national **fund** among the ICBs (``api_erf.erf_size``: £2.3bn in 2022/23 of
£8bn over three years, A1, S), by their share of the national target or by fair share of an
allocation stream (2024/25, A6, C). The allocation funds activity up to the target. At the
year end the ICB's elective activity is measured against its target:

* **above target**, NHS England pays the ICB ``variable_rate`` of the price of the activity
  above it (75% in 2022/23, A1-A3, S; 100% from 2023/24, T11, C), subject to the caps:
  a **national cap** on the activity funded, a multiple of the national 2019/20 value
  (about 118% expected for 2025/26, ``api_erf.erf_cap``, A7, S: over-target payments are
  scaled down pro rata so that the activity funded nationally is at most the cap), and a
  **Q4 cap** on each provider's activity at its November estimate (2024/25,
  ``api_erf.q4_cap``, A7, S);
* **below target**, the **downward adjustment** is ``variable_rate`` of the price of the
  shortfall, at most ``downward_floor`` x the ICB's ERF allocation (75% in 2022/23, A1-A3,
  S: read as the most that can be recovered); NHS England recovers the share ``clawback``
  of it (``api_erf.clawback_enforced``: not enforced in practice in 2022/23, S).

Providers are paid by their contracts (:mod:`finsim.mechanisms.contracts`): an api contract a
fixed element plus its variable rate of price off target, both ways; an activity or blended
contract elective activity at the full price (the 2023/24 rule). Where the downward
adjustment is not enforced (``clawback`` below 1, or beyond the floor) an ICB gives its api
providers back that share of what their contracts deducted below target (``erf_adjustment``):
of each contract's variable element as it was paid (``contracts.variable_now``: at the case
mix reported, against the target at the case mix accepted), so that a provider given all of
it back is paid exactly its fixed element. Where the ERF does not fund
over-target activity (the caps), ICBs pay their providers for it regardless unless
``payment_limit`` says they limit their payments (proposed for 2025/26 and dropped, A8, C):
then they recover that share of it (``erf_payment_limit``).

Activity is valued at this year's national prices x the provider's market forces factor,
before coding drift; the 2019/20 base of each contract is its ``target_base`` if given, else
its first year's plan (start the scenario in 2019/20, or give ``target_base``), on the
points of delivery ``pods``, for contracts of ``contract_types``. The ICB's position is
netted over its contracts: its contracts' over- and under-delivery, uncapped, say whether it
is above or below target and size the downward adjustment; above target, the fund pays for
its contracts' values netted after the Q4 cap (so a capped excess never turns an ICB over
target into one recovered from). Simplifications: the target, allocation and settlement are
annual (no in-year payments on account beyond the allocation's twelfths; the year's final
target only); the payment limit and the Q4 cap are per contract; low-volume activity blocks
(``api_erf.lva_threshold``: under £0.5m in 2023/24, at most £1.5m in 2025/26, T11, A9, C)
are not modelled: write such a contract as a block outside ``contract_types``.

Postings, all non-recurrent: ``funding`` treasury to centre (the fund as new money, if
``new_money``), ``erf_allocation`` centre to ICB (twelfths, each month), ``erf_payment``
centre to ICB and ``erf_recovery`` ICB to centre (year end), ``erf_adjustment`` ICB to
provider and ``erf_payment_limit`` provider to ICB (year end). ``res.table("erf")`` holds
each year's target, delivered value, over (+) or under (-) delivery, allocation, payment,
recovery, adjustment and payment limit per ICB (``level: icb``), provider and system.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from finsim.calendar import parse_fy
from finsim.economy import TREASURY
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.mechanisms.contracts.rules import (
    PER_MILLION,
    elective_pay_rate,
    elective_weights,
    given_else_plan,
    plan_matrix,
    weighted,
)
from finsim.mechanisms.erf_config import DEFAULT_PODS, ErfConfig, check_erf
from finsim.numeric import row_sum
from finsim.state import optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


def incidence(group: np.ndarray, n: int) -> sp.csr_matrix:
    """``(n, C)`` ones at (group[c], c) for group[c] >= 0: summing ``(R, C)`` by group."""
    keep = group >= 0
    cols = np.flatnonzero(keep)
    return sp.csr_matrix((np.ones(cols.size), (group[keep], cols)), shape=(n, group.size))


def summed_by(matrix: sp.csr_matrix, values: np.ndarray) -> np.ndarray:
    """``(R, n)`` sums of ``values`` (R, C) by group (each row on its own: chunk-invariant)."""
    return np.asarray(matrix @ values.T).T


def q4_capped(over: np.ndarray, estimate_over: np.ndarray, funded_share: float) -> np.ndarray:
    """Over-target value the fund pays for under the Q4 cap (A7, S): all of it up to the
    estimate's excess over target, ``estimate_over``, and ``funded_share`` of the rest
    (0: capped at the estimate). Below target, the shortfall stands.

    >>> q4_capped(np.array([5.0, 5.0, -2.0]), np.array([3.0, -1.0, 3.0]), 0.0).tolist()
    [3.0, 0.0, -2.0]
    """
    if funded_share >= 1.0:
        return over
    allowed = np.maximum(estimate_over, 0.0)
    capped = np.minimum(over, allowed) + funded_share * np.maximum(over - allowed, 0.0)
    return np.where(over > 0.0, capped, over)


def icb_positions(
    over: np.ndarray, capped: np.ndarray, by_icb: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    """Each ICB's position, ``(R, K)`` twice, from its contracts' ``over`` (+) or under (-)
    target and the same after the Q4 cap, ``capped`` (:func:`q4_capped`), both ``(R, C)``:
    ``net``, ``over`` netted, which says whether the ICB is above or below target and sizes
    the downward adjustment; and ``funded``, ``capped`` netted where positive (else 0), the
    value above target the fund pays for (never more than ``net``: the cap only lowers).

    >>> by_icb = incidence(np.array([0, 0]), 1)
    >>> over = np.array([[10.0, -5.0]])  # the first capped at its estimate, at target
    >>> [a.tolist() for a in icb_positions(over, q4_capped(over, np.zeros((1, 2)), 0.0), by_icb)]
    [[[5.0]], [[0.0]]]
    """
    net = summed_by(by_icb, over)
    return net, np.maximum(summed_by(by_icb, capped), 0.0)


class Erf(Mechanism):
    """The national Elective Recovery Fund: allocations, over-target payments, recoveries."""

    section = "erf"
    order = 46
    Config = ErfConfig
    config: ErfConfig
    categories = (
        Category("erf_allocation", "the centre's elective recovery fund allocation to an ICB"),
        Category(
            "erf_payment", "the centre's payment to an ICB for elective activity above target"
        ),
        Category("erf_recovery", "an ICB's elective recovery funding recovered below target"),
        Category("erf_adjustment", "a downward elective adjustment an ICB gives its provider back"),
        Category("erf_payment_limit", "over-target activity unfunded that an ICB does not pay for"),
    )
    drivers = (
        Driver(
            "elective recovery",
            45,
            (
                "erf_allocation",
                "erf_payment",
                "erf_recovery",
                "erf_adjustment",
                "erf_payment_limit",
            ),
        ),
    )
    requires = (
        "contracts.ids",
        "contracts.provider",
        "contracts.commissioner",
        "contracts.variable_now",
        optional("tariff.pods"),
        optional("tariff.price"),
        optional("activity.plan"),
        optional("activity.profile"),
        optional("activity.realised"),
        optional("allocations.streams"),
    )

    def __init__(self, config: ErfConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.contracts = ctx.scenario.model.contracts or []  # type: ignore[attr-defined]
        self.pods: tuple[str, ...] = (
            tuple(ctx.state["tariff.pods"]) if "tariff.pods" in ctx.state else ()
        )
        measured = config.pods or DEFAULT_PODS
        self.erf_pods = np.array([p in measured for p in self.pods], dtype=bool)
        self.ids = ctx.state["contracts.ids"]
        self.commissioner = np.asarray(ctx.state["contracts.commissioner"])
        self.provider = np.asarray(ctx.state["contracts.provider"])
        scope = [c.type in config.contract_types for c in self.contracts]
        self.scope = np.array(scope, dtype=bool)
        self.api = np.array([c.type == "api" for c in self.contracts], dtype=bool)
        self.variable_now: Callable[[], np.ndarray] = ctx.state["contracts.variable_now"]
        mff = {p.id: p.market_forces_factor for p in ctx.scenario.model.organisations.providers}  # type: ignore[attr-defined]
        self.scale = np.array([mff[c.provider] for c in self.contracts]) * PER_MILLION
        self.plan = plan_matrix(self.contracts, self.pods)
        self.base_units = given_else_plan(self.contracts, self.pods, "target_base", self.plan)
        self.icbs = economy.of_type("commissioner")
        self.providers = economy.of_type("provider")
        self.systems = economy.of_type("system")
        position = np.full(economy.n_accounts, -1, dtype=np.int64)
        position[self.icbs] = np.arange(self.icbs.size)
        position[self.providers] = np.arange(self.providers.size)
        position[self.systems] = np.arange(self.systems.size)
        self.icb_of = position[self.commissioner]
        self.by_icb = incidence(self.icb_of, self.icbs.size)
        self.by_provider = incidence(position[self.provider], self.providers.size)
        self.icb_system = position[economy.system[self.icbs]]
        self.by_system = incidence(self.icb_system, self.systems.size)
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        first = ctx.calendar.start_year
        self.start = parse_fy(config.start) if config.start else first
        self.active = False
        R, C = ctx.R, len(self.contracts)
        self.delivered = np.zeros((R, C))  # year to date, this year's prices, GBP
        self.estimate = np.zeros((R, C))  # GBP m
        self.allocation = np.zeros((R, self.icbs.size))

    @classmethod
    def check(cls, config: ErfConfig, refs: ReferencesLike) -> None:
        check_erf(config, refs)

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": self.new_year,
            "allocation": self.allocate,
            "billing": self.count,
            "year_end": self.settle,
        }

    # -- the year's targets and allocations ------------------------------------------------
    def new_year(self, ctx: Context) -> None:
        """Set the year's targets (GBP m, this year's prices) and the ICBs' allocations."""
        year = ctx.fy_start_year
        self.active = year >= self.start
        self.delivered[:] = 0.0
        self.estimate[:] = 0.0
        if not self.active:
            return
        c = self.config
        price = np.asarray(ctx.state["tariff.price"]) if self.pods else np.zeros(0)
        self.w_erf = elective_weights(self.contracts, self.pods, price, self.erf_pods)
        self.w_erf *= self.scope[:, None]
        self.base = weighted(self.base_units[None], self.w_erf)[0] * self.scale  # (C,) GBP m
        self.target = c.target.at(year) * self.base
        self.rate = c.variable_rate.at(year)
        self.pay_rate = elective_pay_rate(self.contracts, year) * self.scope
        if c.allocation == "fair_share":
            stream = ctx.state["allocations.streams"][c.stream]
            weight = np.zeros(ctx.economy.n_accounts)
            weight[stream.holders] = stream.need_share
            weight = weight[self.icbs]
        else:
            weight = summed_by(self.by_icb, self.target[None])[0]
        share = weight / weight.sum() if weight.sum() > 0 else weight
        self.share = share
        self.allocation = np.broadcast_to(c.fund.at(year) * share, (ctx.R, share.size)).copy()
        self.monthly = self.allocation / 12.0  # the fund's twelfths; the additional aside
        if c.new_money:
            fund = np.full((ctx.R, 1), c.fund.at(year) + c.additional.at(year))
            ctx.ledger.post(TREASURY, self.centre, fund, "funding", "non_recurrent")

    def allocate(self, ctx: Context) -> None:
        """A twelfth of each ICB's allocation a month; the additional money in its month."""
        if not self.active:
            return
        paid = self.monthly
        if ctx.month == self.config.additional_month:
            extra = self.config.additional.at(ctx.fy_start_year) * self.share
            if extra.any():
                self.allocation = self.allocation + extra  # the year's, as recorded
                paid = paid + extra
        ctx.ledger.post(self.centre, self.icbs, paid, "erf_allocation", "non_recurrent")

    def count(self, ctx: Context) -> None:
        """Value the month's activity; at the estimate month, each contract's run rate."""
        if not self.active:
            return
        if "activity.realised" in ctx.state:
            realised = np.asarray(ctx.state["activity.realised"])
        else:  # no activity section: the plan is done exactly, a twelfth a month
            plan = (
                np.asarray(ctx.state["activity.plan"])
                if "activity.plan" in ctx.state
                else self.plan
            )
            realised = plan[None] / 12.0
        self.delivered += weighted(realised, self.w_erf)
        if ctx.month == self.config.estimate_month:
            done = (
                float(ctx.state["activity.profile"][ctx.month - 1])
                if "activity.profile" in ctx.state
                else ctx.month / 12.0
            )  # > 0: check_erf rejects an estimate month with no activity planned by it
            self.estimate = self.delivered * self.scale / done

    # -- the year end ------------------------------------------------------------------------
    def settle(self, ctx: Context) -> None:
        """Measure each ICB against its target; pay over-target activity within the caps,
        recover the downward adjustment below it; adjust providers' payments; record it."""
        if not self.active:
            return
        c, year = self.config, ctx.fy_start_year
        delivered = self.delivered * self.scale  # (R, C) GBP m
        over = delivered - self.target
        # the Q4 cap: the fund pays a share q4 of activity above the November estimate
        funded = q4_capped(over, self.estimate - self.target, c.q4_cap.at(year))
        # (R, K) netted over the ICB's contracts: uncapped, the side of target it is on and
        # its shortfall; capped, what is paid above target
        icb_over, above = icb_positions(over, funded, self.by_icb)
        # the national cap: over-target payments scaled so that the activity funded
        # nationally is at most cap x the national base value (sums in a fixed order)
        scale = np.ones((ctx.R, 1))
        cap = c.cap.at(year)
        if cap > 0.0:
            national_target = row_sum(summed_by(self.by_icb, self.target[None])[0])
            at_or_below = national_target + row_sum(np.minimum(icb_over, 0.0), keepdims=True)
            room = np.maximum(cap * row_sum(self.base) - at_or_below, 0.0)
            total = row_sum(above, keepdims=True)
            scale = np.where(total > room, room / np.where(total > 0.0, total, 1.0), 1.0)
        paid = self.rate * scale * above
        gross = self.rate * np.maximum(-icb_over, 0.0)
        downward = gross
        if c.downward_floor is not None:
            downward = np.minimum(downward, c.downward_floor.at(year) * self.allocation)
        enforced = c.clawback.at(year)
        recovered = enforced * downward
        ctx.ledger.post(self.centre, self.icbs, paid, "erf_payment", "non_recurrent")
        ctx.ledger.post(self.icbs, self.centre, recovered, "erf_recovery", "non_recurrent")
        # providers: the share not enforced (or beyond the floor) of what each api contract
        # deducted below target (its variable element, as paid) given back; over-target
        # activity unfunded, limited
        kept = np.where(gross > 0.0, recovered / np.where(gross > 0.0, gross, 1.0), enforced)
        shortfall = np.where(self.api, np.maximum(-self.variable_now(), 0.0), 0.0)
        adjustment = (1.0 - kept[:, self.icb_of]) * shortfall
        unfunded = np.maximum(over, 0.0) - scale * np.maximum(funded, 0.0)
        limited = c.payment_limit.at(year) * self.pay_rate * unfunded
        ctx.ledger.post(
            self.commissioner, self.provider, adjustment, "erf_adjustment", "non_recurrent"
        )
        ctx.ledger.post(
            self.provider, self.commissioner, limited, "erf_payment_limit", "non_recurrent"
        )
        self._record(ctx, delivered, over, paid, recovered, adjustment, limited)

    def _record(
        self,
        ctx: Context,
        delivered: np.ndarray,
        over: np.ndarray,
        paid: np.ndarray,
        recovered: np.ndarray,
        adjustment: np.ndarray,
        limited: np.ndarray,
    ) -> None:
        """``res.table("erf")``: the year per ICB, provider and system."""
        if not ctx.records.enabled:
            return
        per_contract = {
            "base": np.broadcast_to(self.base, delivered.shape),
            "target": np.broadcast_to(self.target, delivered.shape),
            "delivered": delivered,
            "over": over,
            "adjustment": adjustment,
            "payment_limit": limited,
            "estimate": self.estimate,
        }
        icb = {k: summed_by(self.by_icb, v) for k, v in per_contract.items()}
        icb.update(allocation=self.allocation, paid=paid, recovered=recovered)
        system = {k: summed_by(self.by_system, v) for k, v in icb.items()}
        provider = {k: summed_by(self.by_provider, v) for k, v in per_contract.items()}
        nothing = np.zeros((ctx.R, self.providers.size))
        provider.update(allocation=nothing, paid=nothing, recovered=nothing)
        for level, orgs, values in (
            ("icb", self.icbs, icb),
            ("provider", self.providers, provider),
            ("system", self.systems, system),
        ):
            has = values["base"] > 0.0
            # a body's over is its measure netted: below target if negative
            values["below_target"] = (values["over"] < 0.0) & has
            ctx.records.record("erf", orgs, {"level": level}, mask=has, **values)
