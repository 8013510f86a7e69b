"""Contracts between commissioners and providers: paid on account, reconciled at year end.

What it models (the NHS standard contract and national tariff; seeds 002, 004):

* **activity** (Payment by Results): the plan's value at tariff (units x price x
  market forces factor x accepted case mix) is paid in twelve instalments on
  account; at year end actual activity is valued the same way, emergency
  activity above its baseline at the marginal rate where the tariff sets one,
  and the difference is paid (or refunded);
* **block**: a fixed annual sum in twelve instalments, whatever the activity;
* **blended** (aligned payment and incentive): the plan's value on account, and
  at year end a variable element of ``variable_rate`` x price for activity
  above or below plan.

Payments are ``contract_payment`` postings (recurrent) from commissioner to
provider. The provider's reported case mix is the case mix the commissioner
accepted (1 at the start) raised by its coding drift; the difference is the
*coding* component of what it bills. If a commissioner has challenged a
contract (``disputes.challenged``), the reconciliation withholds the disputed
sum (the coding component, or the value above plan) and publishes it as
``contracts.withheld`` for :mod:`finsim.mechanisms.disputes`, which settles it
and, through ``contracts.accept``, may move the accepted case mix or add to the
plan's value (GBP m, grown with the tariff) for following years.

Each contract's year is reported in ``res.table("contracts")``: plan value,
value due, paid on account, withheld and the year-end reconciliation.
Publishes ``contracts.activity_value`` ``(R, C)``, the month's activity at
tariff without coding drift (what the provider's variable costs follow); every
slot it writes and reads is declared on :class:`Contracts` (see :mod:`finsim.state`).

Contracts and disputes need each other within a year: disputes are built on the
contracts' arrays (they require them, so contracts act first), and contracts read
the challenges disputes made (at the review month's settlement phase) only at the
year-end reconciliation, a later phase: a ``later`` need, which orders nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import Field

from finsim.errors import did_you_mean
from finsim.ledger import Category
from finsim.mechanisms.base import BridgeView, Context, Driver, Mechanism
from finsim.scenario.models import Id, Money, StrictModel
from finsim.scenario.params import Growth
from finsim.scenario.units import Count, Share
from finsim.state import Slot, later, optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

#: GBP per unit x units -> GBP m.
PER_MILLION = 1e-6
TYPES = ("activity", "block", "blended")


class Contract(StrictModel):
    """One contract between a commissioner and a provider."""

    id: Id = Field(description="unique among the contracts")
    commissioner: Id = Field(description="the commissioner paying")
    provider: Id = Field(description="the provider paid")
    type: Literal["activity", "block", "blended"] = Field(
        default="activity",
        description="activity: paid at tariff for activity; block: a fixed value; blended: "
        "the plan's value, plus or minus a share of price for activity off plan",
    )
    plan: dict[str, Count] = Field(
        default_factory=dict,
        description="planned activity per point of delivery in the first simulated year, units",
    )
    value: Money | None = Field(
        default=None, description="block contracts: annual value in the first simulated year, GBP m"
    )
    growth: Growth | None = Field(
        default=None,
        description="block contracts: growth of the value into each year "
        "(default: the tariff's cost uplift less efficiency)",
    )
    variable_rate: Share = Field(
        default=0.2, description="blended contracts: share of price paid for activity off plan"
    )
    emergency_baseline: dict[str, Count] | None = Field(
        default=None,
        description="units above which emergency activity is paid at the marginal rate, first "
        "year (default: the plan), grown with the plan",
    )


def plan_matrix(
    contracts: list[Contract], pods: tuple[str, ...], field: str = "plan"
) -> np.ndarray:
    """Each contract's first-year units per point of delivery, ``(C, P)``."""
    pod_index = {p: i for i, p in enumerate(pods)}
    out = np.zeros((len(contracts), len(pods)))
    for i, contract in enumerate(contracts):
        for pod, units in (getattr(contract, field) or {}).items():
            out[i, pod_index[pod]] = units
    return out


class Contracts(Mechanism):
    """Activity-based, block and blended contracts paying providers each month."""

    section = "contracts"
    order = 40
    categories = (Category("contract_payment", "a commissioner's payment to a provider"),)
    drivers = (
        Driver("activity", 10),
        Driver("tariff & coding", 20),
        Driver("disputes", 40),
    )

    @classmethod
    def waterfall(cls, view: BridgeView) -> Mapping[str, float]:
        """*activity*: value due for the activity done less the plan's value; *tariff &
        coding*: the part of the value due from case mix reported above the case mix the
        commissioner accepts (taken as 1 where the table does not record it); *disputes*:
        sums withheld at the reconciliation."""
        contracts = view.table("contracts", needed_for="contract_payment")
        if contracts is None or not len(contracts):
            return {}
        R = view.R
        side_c = contracts["org"].isin(view.ids).astype(float) - contracts["commissioner"].isin(
            view.ids
        ).astype(float)
        due, planned = contracts["due"], contracts["plan_value"]
        # the case mix the commissioner accepts is priced into the plan; without that
        # column (older tables) it is taken as 1, as it is until a dispute moves it
        accepted = contracts.get("accepted_case_mix", 1.0)
        coding = np.where(due == planned, 0.0, due * (1.0 - accepted / contracts["case_mix"]))
        tariff = float((side_c * coding).sum()) / R
        activity = float((side_c * (due - planned)).sum()) / R - tariff
        withheld = float((side_c * contracts["withheld"]).sum()) / R
        return {"activity": activity, "tariff & coding": tariff, "disputes": -withheld}

    Config = list[Contract]
    config: list[Contract]
    provides = (
        Slot("contracts.ids", "(C,)", "each contract's id"),
        Slot("contracts.provider", "(C,)", "each contract's provider, an account index"),
        Slot("contracts.commissioner", "(C,)", "each contract's commissioner, an account index"),
        Slot(
            "contracts.plan_value_now",
            "callable () -> (R, C)",
            "this year's plan (or block) value of each contract, GBP m",
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
            "contracts.withheld",
            "dict fy -> (R, C)",
            "the sum withheld at each year's reconciliation, GBP m (from year end)",
        ),
        Slot(
            "contracts.accept",
            "callable (ctx, share, fy, basis, amount)",
            "a settled dispute moves the contract's basis for the years after fy",
        ),
    )
    requires = (
        optional("tariff.pods"),
        optional("tariff.price"),
        optional("tariff.marginal_rate"),
        optional("activity.plan"),
        optional("activity.case_mix_uplift"),
        optional("activity.realised"),
        # written by disputes at a review month's settlement phase (and at their
        # construction), read here only at the year-end reconciliation
        later("disputes.challenged", optional=True),
        later("disputes.basis", optional=True),
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
        given = np.array([c.emergency_baseline is not None for c in config], dtype=bool)
        self.emergency_base = np.where(
            given[:, None], plan_matrix(config, self.pods, "emergency_baseline"), self.plan
        )
        self.kind = np.array([TYPES.index(c.type) for c in config], dtype=np.int64)
        self.block_value = np.array([c.value or 0.0 for c in config], dtype=np.float64)
        self.variable_rate = np.array([c.variable_rate for c in config], dtype=np.float64)
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
        ctx.state.update(
            {
                "contracts.ids": self.ids,
                "contracts.provider": self.provider,
                "contracts.commissioner": self.commissioner,
                "contracts.accept": self.accept,
                "contracts.plan_value_now": lambda: self.plan_value,
                "contracts.withheld": self.withheld_by_year,
            }
        )
        self._reset_year(R, C)

    def _reset_year(self, R: int, C: int) -> None:
        self.plan_value = np.zeros((R, C))
        self.on_account = np.zeros((R, C))
        self.units_ytd = np.zeros((R, C, len(self.pods)))
        self.true_value_ytd = np.zeros((R, C))
        self.reported = np.ones((R, C))

    @classmethod
    def check(cls, config: list[Contract], refs: ReferencesLike) -> None:
        tariff = getattr(refs.model, "tariff", None)
        pods = list(tariff.prices) if tariff is not None else []
        seen: dict[str, int] = {}
        for i, contract in enumerate(config):
            path = ("contracts", i)
            if contract.id in seen:
                refs.add(
                    path + ("id",),
                    f"duplicate contract id '{contract.id}' (also contracts[{seen[contract.id]}])",
                )
            seen.setdefault(contract.id, i)
            refs.org(path + ("commissioner",), contract.commissioner, ("commissioner",))
            refs.org(path + ("provider",), contract.provider, ("provider",))
            for field in ("plan", "emergency_baseline"):
                for pod, units in (getattr(contract, field) or {}).items():
                    if pod not in pods:
                        where = (
                            "the tariff's prices" if pods else "a 'tariff' section (none is given)"
                        )
                        refs.add(
                            path + (field, pod),
                            f"unknown point of delivery '{pod}'; expected one of {where}",
                            did_you_mean(pod, pods),
                        )
                    if units < 0:
                        refs.add(path + (field, pod), f"expected activity >= 0, got {units}")
            if contract.type == "block" and contract.value is None:
                refs.add(path + ("value",), "a block contract needs its annual value, GBP m")
            if contract.type != "block" and not contract.plan:
                refs.add(
                    path + ("plan",),
                    f"an {contract.type} contract needs a plan of activity per point of delivery",
                )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": self.new_year,
            "billing": self.bill,
            "payment": self.pay,
            "year_end": self.reconcile,
        }

    # -- the year's plan -------------------------------------------------------------------
    def _value(self, units: np.ndarray, case_mix: np.ndarray) -> np.ndarray:
        """GBP m of units (R or 1, C, P) at this year's prices, mff and case mix (R, C)."""
        price = self.price()
        # POD by POD, not ``units @ price``: a matrix product's order of summation can depend
        # on how many rows it has, and a replication must not depend on its chunk's size
        value = np.zeros(units.shape[:-1])
        for pod, unit_price in enumerate(price):
            value += units[..., pod] * unit_price
        return value * self.mff * case_mix * PER_MILLION

    def price(self) -> np.ndarray:
        return np.asarray(self.state["tariff.price"]) if self.pods else np.zeros(0)

    def _set_plan_value(self) -> None:
        plan_units = self._plan_units(self.state)
        self.reported = self.accepted * (1.0 + self.uplift)
        self.plan_value = np.where(
            self.kind == TYPES.index("block"),
            self.block_value,
            self._value(plan_units[None], self.accepted) + self.adjustment,
        )

    def _plan_units(self, state: Mapping[str, object]) -> np.ndarray:
        """This year's planned units (C, P): the activity mechanism's, else the contracts'."""
        return np.asarray(state["activity.plan"] if "activity.plan" in state else self.plan)

    def accept(
        self, ctx: Context, share: np.ndarray, disputed_fy: int, basis: str, amount: np.ndarray
    ) -> None:
        """A settled dispute moves the contract's basis for the years after ``disputed_fy``.

        ``share`` (R, C) is the provider's share of the outcome (1 = it won all). On the
        case-mix basis the accepted case mix moves that share of the way to the case mix
        reported in the disputed year; on the activity basis ``share x amount`` GBP m joins
        the plan's value. If the current year is after the disputed one, its plan changes too
        (what was paid on account is trued up at year end).
        """
        if basis == "case_mix":
            disputed_reported = self.reported_by_year[disputed_fy]
            self.accepted += share * (disputed_reported - self.accepted)
        else:
            self.adjustment += share * amount
        if ctx.fy > disputed_fy:
            self._set_plan_value()

    def new_year(self, ctx: Context) -> None:
        """Set the year's plan value and reported case mix; uplift block values and adjustments."""
        R, C = ctx.R, len(self.config)
        if ctx.fy > 0:
            year = ctx.fy_start_year
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
            value = self._value(realised, np.ones((ctx.R, len(self.config))))
        self.true_value_ytd += value
        ctx.state["contracts.activity_value"] = value
        ctx.state["contracts.ytd"] = {
            "months": ctx.month,
            "plan": self.plan_value * ctx.month / 12.0,
            "reported": self.true_value_ytd * self.reported,
            "accepted": self.true_value_ytd * self.accepted,
        }

    def pay(self, ctx: Context) -> None:
        """Pay a twelfth of each contract's plan (or block) value on account."""
        amount = self.plan_value / 12.0
        self.on_account += amount
        ctx.ledger.post(self.commissioner, self.provider, amount, "contract_payment")

    # -- year end ----------------------------------------------------------------------------
    def due(self, ctx: Context, case_mix: np.ndarray) -> np.ndarray:
        """What the year's actual activity earns (R, C), GBP m, at a case mix."""
        units = self.units_ytd
        rule = ctx.state["tariff.marginal_rate"] if "tariff.marginal_rate" in ctx.state else None
        if rule is not None:
            mask, rate = rule
            base = self.emergency_base * self.plan_factor
            above = np.maximum(units - base, 0.0)
            units = np.where(mask, units - (1.0 - rate) * above, units)
        actual = self._value(units, case_mix) + self.adjustment
        blended = self.plan_value + self.variable_rate * (actual - self.plan_value)
        by_type = np.stack([actual, self.plan_value, blended])
        return np.take_along_axis(by_type, np.broadcast_to(self.kind, actual.shape)[None], axis=0)[
            0
        ]

    def reconcile(self, ctx: Context) -> None:
        """Settle actual against plan; withhold what a commissioner has challenged."""
        due = self.due(ctx, self.reported)
        challenged = None
        if "disputes.challenged" in ctx.state:  # only with a disputes section
            challenged = ctx.state["disputes.challenged"].get(ctx.fy)
        withheld = np.zeros_like(due)
        if challenged is not None:
            basis = ctx.state["disputes.basis"]
            if basis == "case_mix":
                disputed = due - self.due(ctx, self.accepted)
            else:
                disputed = due - self.plan_value
            withheld = np.where(challenged, np.maximum(disputed, 0.0), 0.0)
        # a block is its value: nothing to reconcile (not even rounding in the twelfths)
        payment = np.where(self.kind == TYPES.index("block"), 0.0, due - self.on_account - withheld)
        ctx.ledger.post(self.commissioner, self.provider, payment, "contract_payment")
        self.withheld_by_year[ctx.fy] = withheld
        ctx.records.record(
            "contracts",
            self.provider,
            {
                "contract": self.ids,
                "commissioner": np.array(ctx.economy.ids, dtype=object)[self.commissioner],
            },
            plan_value=self.plan_value,
            due=due,
            on_account=self.on_account,
            withheld=withheld,
            reconciliation=payment,
            case_mix=self.reported,
            accepted_case_mix=self.accepted,
        )
