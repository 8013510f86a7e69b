"""How a contract is paid for the activity done: its settings and the payment rules by type.

The rules, each from its source (confidence marks as in finsim's policy tree,
``python -m finsim.policy``: C official, S secondary):

* **activity** (Payment by Results): every unit at the national price x market forces
  factor x case mix. Under the **emergency marginal rate** (tariff section; 2010/11-2018/19)
  emergency activity above a *baseline fixed in a base year* is paid at a share of price:
  30% from 2010/11 (baseline: the value of 2008/09 emergency activity, adjusted only for
  tariff changes; M1-M3, S), 70% under the 2015/16 enhanced tariff option and from 2016/17
  (T7, T8, C; T2, M5, M6, S). The baseline is in units of the base year, so its value moves
  with the tariff only; the commissioner keeps the rest of the price, to be reinvested in
  admission-avoidance schemes (from 2013/14 agreed with providers; M2, S).
* **block**: a fixed annual value, whatever the activity.
* **blended** (the 2019/20 blended payment for emergency care, M9, M10, S): for the
  emergency points of delivery a fixed payment on planned activity plus a variable 20% of
  price for activity above or below plan; every other point of delivery at tariff.
* **api** (aligned payment and incentive, 2022/23 on; A1-A3, S; T11, C): a fixed element (the
  plan's value) plus, for elective activity only, a variable element of a share of price
  for activity above or below a target that is a share of a base year's value (2022/23:
  75% of price against 104% of 2019/20 value-weighted activity; 2023/24: elective paid at
  100% of price against the elective recovery fund target). The elective recovery fund
  (:mod:`finsim.mechanisms.erf`) settles the commissioner's side at year end, with the
  functions at the end of this module: the elective value of each contract, what it pays for
  activity above target, and each contract's variable element as paid, of which it may give
  back what was deducted below target.

Everything is year to date: :func:`due` is what a contract has earned by the end of a month
for the units done so far, each reference (plan, target, baseline) taken at its share of the
year so far (the activity's seasonal profile), so the month's accrual is the change in it and
the year end's equals the annual rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import Field

from finsim.errors import did_you_mean
from finsim.scenario.models import Id, Money, StrictModel
from finsim.scenario.params import Growth, RateByYear, ShareByYear
from finsim.scenario.units import Count

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

#: GBP per unit x units -> GBP m.
PER_MILLION = 1e-6
TYPES = ("activity", "block", "blended", "api")
#: How a point of delivery of a contract is paid: at tariff, within the fixed element, or
#: fixed with a variable element.
TARIFF, FIXED, VARIABLE = 0, 1, 2
#: The points of delivery with a variable element when the contract does not say.
DEFAULT_VARIABLE_PODS = {
    "blended": ("non_elective",),
    "api": ("elective", "day_case", "outpatient_first"),
}
#: The share of price of the variable element when the contract does not say.
DEFAULT_VARIABLE_RATE = {"blended": 0.2, "api": 0.75}


class Contract(StrictModel):
    """One contract between a commissioner and a provider."""

    id: Id = Field(description="unique among the contracts")
    commissioner: Id = Field(description="the commissioner paying")
    provider: Id = Field(description="the provider paid")
    type: Literal["activity", "block", "blended", "api"] = Field(
        default="activity",
        description="activity: at tariff for activity; block: a fixed value; blended: 2019/20 "
        "emergency care, a fixed payment plus a variable share of price off plan; api: aligned "
        "payment and incentive, a fixed element plus an elective variable element off target",
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
    variable_rate: ShareByYear | None = Field(
        default=None,
        description="blended and api contracts: share of price paid for activity off plan "
        "(blended) or off target (api); default 0.2 (blended), 0.75 (api)",
    )
    variable_pods: list[str] | None = Field(
        default=None,
        description="blended and api contracts: the points of delivery with a variable element "
        "(default: non_elective for blended; elective, day_case and outpatient_first for api)",
    )
    target_share: RateByYear | None = Field(
        default=None,
        description="api contracts: the elective target as a share of the base year's value "
        "(1.04 in 2022/23); default 1",
    )
    target_base: dict[str, Count] | None = Field(
        default=None,
        description="api contracts: units per variable point of delivery in the base year the "
        "target is a share of (default: the first year's plan), valued at each year's prices",
    )
    emergency_baseline: dict[str, Count] | None = Field(
        default=None,
        description="units above which emergency activity is paid at the marginal rate, in "
        "the base year (default: the first year's plan)",
    )


def plan_matrix(
    contracts: list[Contract], pods: tuple[str, ...], field: str = "plan"
) -> np.ndarray:
    """Each contract's first-year units per point of delivery, ``(C, P)``."""
    pod_index = {p: i for i, p in enumerate(pods)}
    out = np.zeros((len(contracts), len(pods)))
    for i, contract in enumerate(contracts):
        for pod, units in (getattr(contract, field) or {}).items():
            if pod in pod_index:
                out[i, pod_index[pod]] = units
    return out


def treatment(contracts: list[Contract], pods: tuple[str, ...]) -> np.ndarray:
    """How each contract pays each point of delivery, ``(C, P)``: TARIFF, FIXED or VARIABLE."""
    out = np.full((len(contracts), len(pods)), TARIFF, dtype=np.int64)
    for i, contract in enumerate(contracts):
        if contract.type in ("blended", "api"):
            variable = contract.variable_pods or DEFAULT_VARIABLE_PODS[contract.type]
            rest = FIXED if contract.type == "api" else TARIFF
            out[i] = [VARIABLE if pod in variable else rest for pod in pods]
        elif contract.type == "block":
            out[i] = FIXED
    return out


def variable_rate(contracts: list[Contract], year: int) -> np.ndarray:
    """Each contract's variable share of price in the year starting in ``year``, ``(C,)``."""
    return np.array(
        [
            c.variable_rate.at(year)
            if c.variable_rate is not None
            else DEFAULT_VARIABLE_RATE.get(c.type, 0.0)
            for c in contracts
        ]
    )


def target_share(contracts: list[Contract], year: int) -> np.ndarray:
    """Each api contract's target as a share of its base, ``(C,)`` (1 where none is set)."""
    return np.array([c.target_share.at(year) if c.target_share else 1.0 for c in contracts])


@dataclass
class Rules:
    """A year's payment rules of ``C`` contracts over ``P`` points of delivery, reduced to
    what :func:`due` needs: price weights per contract and point of delivery, and each
    contract's annual references at this year's prices (GBP per unit x units, before the
    market forces factor and case mix). Built by :func:`year_rules`."""

    block: np.ndarray  # (C,) bool
    block_value: np.ndarray  # (C,) this year's block values, GBP m
    #: (C, P) GBP per unit taken off the tariff value of the units done: the price where a POD
    #: is not paid at tariff (blocks aside), less ``variable_rate`` x price where it has a
    #: variable element (that share of its actual value is paid)
    not_at_tariff: np.ndarray
    variable_rate: np.ndarray  # (C,)
    fixed_reference: np.ndarray  # (C,) the plan's value of fixed and variable PODs, GBP
    variable_reference: np.ndarray  # (C,) plan (blended) or target (api) of variable PODs, GBP
    #: the marginal rate, per POD it covers: (POD index, (C,) baseline units, (C,) the price
    #: the commissioner keeps per unit above it, GBP: (1 - rate) x price on activity contracts)
    marginal: list[tuple[int, np.ndarray, np.ndarray]]


def year_rules(
    kind: np.ndarray,
    treat: np.ndarray,
    price: np.ndarray,
    plan_units: np.ndarray,
    target_units: np.ndarray,
    rate: np.ndarray,
    block_value: np.ndarray,
    marginal: tuple[np.ndarray, float] | None,
    baseline_units: np.ndarray,
) -> Rules:
    """The year's :class:`Rules`: ``kind`` (C,) index into TYPES, ``treat`` (C, P) TARIFF,
    FIXED or VARIABLE, ``price`` (P,) this year's, ``plan_units`` and ``target_units`` (C, P)
    (api: the target; others: the plan), ``rate`` (C,) variable shares, ``marginal`` the
    marginal rate ((P,) mask, rate) or None, ``baseline_units`` (C, P) its baseline."""
    variable = treat == VARIABLE
    fixed_or_variable = (treat == FIXED) | variable
    is_api = (kind == TYPES.index("api"))[:, None]
    reference = np.where(is_api, target_units, plan_units)
    activity = kind == TYPES.index("activity")
    pods = [] if marginal is None else np.flatnonzero(marginal[0]).tolist()
    return Rules(
        block=kind == TYPES.index("block"),
        block_value=block_value,
        not_at_tariff=np.where(
            (treat != TARIFF) & (kind != TYPES.index("block"))[:, None], price, 0.0
        )
        - rate[:, None] * np.where(variable, price, 0.0),
        variable_rate=rate,
        fixed_reference=summed(np.where(fixed_or_variable, plan_units * price, 0.0)),
        variable_reference=summed(np.where(variable, reference * price, 0.0)),
        marginal=[
            (p, baseline_units[:, p], activity * (1.0 - marginal[1]) * price[p])
            for p in pods
            if marginal is not None
        ],
    )


def summed(values: np.ndarray) -> np.ndarray:
    """Sum over the last axis in a fixed order (POD by POD, not a reduction whose order could
    depend on the number of rows: a replication must not depend on its chunk's size)."""
    out = np.zeros(values.shape[:-1])
    for pod in range(values.shape[-1]):
        out += values[..., pod]
    return out


def weighted(units: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``sum_p units[..., p] x weights[:, p]``, ``(R, C)``, POD by POD (see :func:`summed`)."""
    out = np.zeros(units.shape[:-1])
    for pod in range(units.shape[-1]):
        if weights[:, pod].any():
            out += units[..., pod] * weights[:, pod]
    return out


def planned(
    rules: Rules, mff: np.ndarray, accepted: np.ndarray, adjustment: np.ndarray
) -> np.ndarray:
    """The part of each contract's year that is fixed by its plan, ``(R, C)`` GBP m: the
    plan's value of its fixed and variable PODs less the variable element's reference
    (``variable_rate`` x plan or target), at the case mix the commissioner accepts, plus
    settled disputes' ``adjustment``. :func:`due` accrues it in proportion to the year done."""
    reference = rules.fixed_reference - rules.variable_rate * rules.variable_reference
    return reference * (mff * accepted * PER_MILLION) + adjustment


def due(
    rules: Rules,
    units: np.ndarray,
    priced: np.ndarray,
    done: float,
    scale: np.ndarray,
    plan: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """What each contract has earned for ``units`` (R, C, P) done by a point of the year at
    which a share ``done`` of the year's activity was planned to be done; ``priced`` (R, C)
    is those units at this year's prices, GBP (kept as the units are counted); ``scale``
    (R, C) turns GBP into GBP m at the market forces factor and the case mix the units are
    valued at; ``plan`` is :func:`planned`. A block is its value: ``done`` of it (the
    contracts mechanism accrues a block by time).

    Each rule is linear in the units, so it is worked out as sums over points of delivery
    (never an ``(R, C, P)`` temporary): at tariff, price x units; fixed, the plan's value
    x ``done``; variable, that plus ``variable_rate`` x (actual - reference x ``done``).

    Returns (due, retained), ``(R, C)`` GBP m: ``retained`` is the part of the price of
    emergency activity above the marginal-rate baseline the commissioner keeps.
    """
    retained = np.zeros(scale.shape)
    for pod, baseline, kept in rules.marginal:
        retained += np.maximum(units[..., pod] - baseline * done, 0.0) * kept
    # at tariff: every POD's units at price, less those of PODs paid otherwise (few) but
    # for the variable element's share of their actual value
    paid = priced - weighted(units, rules.not_at_tariff) - retained
    value = paid * scale + plan * done
    return np.where(rules.block, rules.block_value * done, value), retained * scale


def at_prices(units: np.ndarray, price: np.ndarray) -> np.ndarray:
    """GBP of units (R or 1, C, P) at ``price`` (P,), summed POD by POD (see :func:`summed`)."""
    value = np.zeros(units.shape[:-1])
    for pod, unit_price in enumerate(price):
        value += units[..., pod] * unit_price
    return value


def total_value(units: np.ndarray, price: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """GBP m of units (R or 1, C, P) at ``price`` (P,) x ``scale`` (mff x case mix)."""
    return at_prices(units, price) * (scale * PER_MILLION)


def given_else_plan(
    contracts: list[Contract], pods: tuple[str, ...], field: str, plan: np.ndarray
) -> np.ndarray:
    """Each contract's units of ``field`` where it gives them, else its plan, ``(C, P)``."""
    given = np.array([getattr(c, field) is not None for c in contracts], dtype=bool)
    return np.where(given[:, None], plan_matrix(contracts, pods, field), plan)


def check_contracts(config: list[Contract], refs: ReferencesLike) -> None:
    """Cross-check the contracts against the scenario: ids unique, bodies of the right kind,
    points of delivery priced by the tariff, the settings each type needs."""
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
        named = [
            ((field, pod), pod, units)
            for field in ("plan", "emergency_baseline", "target_base")
            for pod, units in (getattr(contract, field) or {}).items()
        ]
        named += [
            (("variable_pods", j), pod, 0.0) for j, pod in enumerate(contract.variable_pods or [])
        ]
        for where_in, pod, units in named:
            if pod not in pods:
                where = "the tariff's prices" if pods else "a 'tariff' section (none is given)"
                refs.add(
                    path + where_in,
                    f"unknown point of delivery '{pod}'; expected one of {where}",
                    did_you_mean(pod, pods),
                )
            if units < 0:
                refs.add(path + where_in, f"expected activity >= 0, got {units}")
        if contract.type == "block" and contract.value is None:
            refs.add(path + ("value",), "a block contract needs its annual value, GBP m")
        if contract.type not in ("blended", "api"):
            for field in ("variable_rate", "variable_pods"):
                if getattr(contract, field) is not None:
                    refs.add(path + (field,), f"only blended and api contracts have a {field}")
        if contract.type != "api":
            for field in ("target_share", "target_base"):
                if getattr(contract, field) is not None:
                    refs.add(path + (field,), f"only api contracts have a {field}")
        if contract.type != "block" and not contract.plan:
            refs.add(
                path + ("plan",),
                f"an {contract.type} contract needs a plan of activity per point of delivery",
            )


# -- the elective element as the elective recovery fund settles it --------------------------
# (used by :mod:`finsim.mechanisms.erf` at year end; the monthly accrual is :func:`due`)


def elective_weights(
    contracts: list[Contract], pods: tuple[str, ...], price: np.ndarray, erf_pods: np.ndarray
) -> np.ndarray:
    """GBP per unit, ``(C, P)``, of the points of delivery ``erf_pods`` (P,) bool the
    elective recovery fund measures, on every contract: summing units x these weights
    (:func:`weighted`) values activity at this year's national prices."""
    erf = np.broadcast_to(erf_pods[None, :] * price[None, :], (len(contracts), len(pods)))
    return erf.copy()


def elective_pay_rate(contracts: list[Contract], year: int) -> np.ndarray:
    """The share of price each contract pays its provider for elective activity above target,
    ``(C,)``: an api contract its variable rate (2022/23: 0.75; from 2023/24: 1.0, T11, C;
    A3, S), an activity or blended contract the full price (elective is at tariff), a block
    nothing."""
    rate = variable_rate(contracts, year)
    kind = np.array([c.type for c in contracts], dtype=object)
    return np.where(kind == "api", rate, np.where(kind == "block", 0.0, 1.0))


def variable_element(contracts: Any) -> np.ndarray:
    """Each contract's variable element for the year, at its end, ``(R, C)`` GBP m, as
    :func:`due` paid it: ``variable_rate`` x (the units of its variable points of delivery
    at price x ``scale``, the case mix reported, less the reference, plan or api target, at
    the case mix accepted). Negative below the reference (api: the downward adjustment the
    elective recovery fund may give back, A1-A3, S); 0 off blended and api contracts and
    under a Covid block. ``contracts`` is the contracts mechanism (``contracts.variable_now``)."""
    rules, mff = contracts.rules, contracts.mff
    if rules is None or contracts.covid is not None:
        return np.zeros(contracts.accrued.shape)
    price = np.where(contracts.treatment == VARIABLE, contracts.price()[None, :], 0.0)
    actual = weighted(contracts.units_ytd, price) * contracts.scale
    reference = rules.variable_reference * (mff * contracts.accepted * PER_MILLION)
    return rules.variable_rate * (actual - reference)
