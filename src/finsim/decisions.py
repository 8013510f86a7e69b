"""Start-of-year decisions: whether each body accepts its control total, from a pilot run.

A body under the ``rational`` rule (:mod:`finsim.mechanisms.control_totals`) accepts when

    E[gain] - risk_aversion x SD[gain] >= improvement_cost x improvement

where *improvement* = max(control total - expected surplus, 0) and *gain* is what the
scenario's incentive scheme would pay it over the year if it accepted: the scheme's own
:meth:`~finsim.mechanisms.incentives.IncentiveScheme.expected_payment`, so a scheme a user
adds to the System is what bodies weigh. Expectations come from a *pilot*: the engine's own
replications of the scenario with every body rejecting, once per run (so decisions do not
depend on chunking), the acceptor's improvement delivered at a random rate. With
``level: system`` the system decides for all its members on their summed gains and costs.

This module does not run the engine: the runner hands :func:`prepare` (or :func:`decide`) a
``simulate`` callable that does (a mechanism running the engine was an import cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from finsim.behaviour import accepts, offer_value, position, system_decision
from finsim.economy import Economy
from finsim.mechanisms.control_totals import ControlTotalsConfig, totals
from finsim.mechanisms.incentives import fund_allocation, provider_kinds, schemes
from finsim.random import Streams, stable_hash

if TYPE_CHECKING:
    from finsim.types import ScenarioLike

#: ``simulate(scenario, replications, seed)``: run the engine on ``scenario`` for the
#: replication numbers ``replications`` from ``seed``; return each body's position arrays,
#: ``(P, F, A)`` by name, at least ``"surplus"`` and ``"incentive_earned"``
#: (``Results._position_arrays``). The runner supplies it.
Simulate = Callable[[Any, np.ndarray, int], Mapping[str, np.ndarray]]


def prepare(scenario: ScenarioLike, seed: int, simulate: Simulate) -> dict[str, Any]:
    """What the run's chunks share of start-of-year decisions, by section (as
    ``RunOptions.prepared``): ``{"control_totals": decide(...)}`` when bodies decide rationally."""
    config = getattr(scenario.model, "control_totals", None)
    if config is None or config.acceptance.rule not in ("rational", "behavioural"):
        return {}
    return {"control_totals": decide(config, scenario, seed, simulate)}


class Pilot(NamedTuple):
    """A pilot run in which every body rejects: the economy, each body's surplus before
    incentives ``(P, F, A)``, the improvement it would deliver if it accepted ``(P, F, A)``
    (the improvement asked times a random delivery) and the improvement asked ``(F, A)``."""

    economy: Economy
    before: np.ndarray
    delivered: np.ndarray
    improvement: np.ndarray


def pilot(
    config: ControlTotalsConfig, scenario: ScenarioLike, seed: int, simulate: Simulate
) -> Pilot:
    """Run the pilot of :func:`decide`: the scenario with every body rejecting, for the
    acceptance's ``pilot_replications``. Its seed is the run's (``rational``) or the
    scenario's (``behavioural``: its ``pilot_seed``, else its name), so that behavioural
    decisions are the same for every run seed and compare variants on common numbers."""
    acceptance = config.acceptance
    doc = scenario.to_data()
    doc.pop("variants", None)
    doc["control_totals"].setdefault("acceptance", {})["rule"] = "never"
    pilot_scenario = _like(scenario, doc)
    pilot_seed = stable_hash(f"pilot:{seed}") % (2**63)
    if acceptance.rule == "behavioural":
        given = acceptance.pilot_seed
        pilot_seed = stable_hash(f"pilot:{scenario.name}") % (2**63) if given is None else given
    reps = np.arange(acceptance.pilot_replications)
    arrays = simulate(pilot_scenario, reps, pilot_seed)
    economy = Economy.from_scenario(scenario)  # type: ignore[arg-type]
    before = arrays["surplus"] - arrays["incentive_earned"]  # (P, F, A)
    ct = totals(config, economy)["org"]
    improvement = np.where(np.isnan(ct), 0.0, np.maximum(ct - before.mean(axis=0), 0.0))
    u = Streams(pilot_seed, reps).uniform(
        "control_totals", "pilot_delivery", shape=before.shape[1:]
    )
    return Pilot(economy, before, acceptance.delivery.draw(u) * improvement, improvement)


def decide(
    config: ControlTotalsConfig, scenario: ScenarioLike, seed: int, simulate: Simulate
) -> dict[str, Any]:
    """Decide from a pilot run in which every body rejects (see the module docstring).

    Returns ``accepted`` ``(F, A)`` bool, ``improvement`` ``(F, A)`` GBP m and the
    ``acceptance`` table.
    """
    import pandas as pd

    acceptance = config.acceptance
    pilot_run = pilot(config, scenario, seed, simulate)
    economy, before, delivered, improvement = pilot_run
    if acceptance.rule == "behavioural":
        return behavioural(config, scenario, economy, before, delivered, improvement)
    level_totals = totals(config, economy)
    ct = level_totals["org"]
    mean = before.mean(axis=0)
    improved = before + delivered
    gain = expected_gain_samples(improved, ct, level_totals["system"], economy, scenario)
    cost = acceptance.improvement_cost * improvement
    if acceptance.level == "system":
        member = economy.membership("system")
        gain_sys = np.asarray(gain.reshape(-1, gain.shape[2]) @ member).reshape(gain.shape)
        cost_sys = np.asarray(cost @ member)
        parent = np.where(economy.system >= 0, economy.system, np.arange(economy.n_accounts))
        gain, cost = gain_sys[:, :, parent], cost_sys[:, parent]
    score = gain.mean(axis=0) - acceptance.risk_aversion * gain.std(axis=0)
    accepted = (score >= cost) & ~np.isnan(ct)
    rows = np.argwhere(~np.isnan(ct))
    table = pd.DataFrame(
        {
            "fy": [economy.calendar.labels[f] for f, _ in rows],
            "org": [economy.ids[a] for _, a in rows],
            "control_total": [ct[f, a] for f, a in rows],
            "expected_surplus": [mean[f, a] for f, a in rows],
            "improvement": [improvement[f, a] for f, a in rows],
            "expected_gain": [gain.mean(axis=0)[f, a] for f, a in rows],
            "sd_gain": [gain.std(axis=0)[f, a] for f, a in rows],
            "cost": [cost[f, a] for f, a in rows],
            "accepted": [bool(accepted[f, a]) for f, a in rows],
        }
    )
    return {"accepted": accepted, "improvement": improvement, "tables": {"acceptance": table}}


def expected_gain_samples(
    surplus: np.ndarray,
    ct: np.ndarray,
    ct_system: np.ndarray,
    economy: Economy,
    scenario: ScenarioLike,
    incentive: Any = "scenario",
) -> np.ndarray:
    """Incentive each body would earn in each pilot replication if it accepted: ``(P, F, A)``,
    from the scenario's scheme (:meth:`IncentiveScheme.expected_payment`), or from the
    incentive settings ``incentive`` when given (None: no fund)."""
    P, F, A = surplus.shape
    if isinstance(incentive, str):
        incentive = getattr(scenario.model, "incentives", None)
    if incentive is None:
        return np.zeros((P, F, A))
    scheme = schemes(getattr(scenario, "system", None))[incentive.scheme](incentive, None)
    scheme.bind(provider_kinds(scenario.model, economy))
    allocation = fund_allocation(incentive, economy)  # (F, A)
    own = surplus >= ct - 1e-9
    system_sum = np.asarray(surplus.reshape(-1, A) @ economy.membership("system")).reshape(P, F, A)
    parent = np.where(economy.system >= 0, economy.system, -1)
    sys_pass = np.where(
        parent >= 0,
        system_sum[:, :, np.maximum(parent, 0)] >= ct_system[:, np.maximum(parent, 0)] - 1e-9,
        own,
    )
    gain = np.zeros((P, F, A))
    for f in range(F):
        gain[:, f] = scheme.expected_payment(
            economy.calendar.start_year + f,
            allocation[f],
            own[:, f],
            sys_pass[:, f],
            incentive.performance_chance,
        )
    return gain


def _like(scenario: Any, doc: dict[str, Any]) -> Any:
    """A scenario of the same kind and System as ``scenario`` from the document ``doc``."""
    return type(scenario).from_dict(
        doc, source=scenario.source, system=getattr(scenario, "system", None)
    )


def behavioural(
    config: ControlTotalsConfig,
    scenario: ScenarioLike,
    economy: Economy,
    before: np.ndarray,
    delivered: np.ndarray,
    improvement: np.ndarray,
) -> dict[str, Any]:
    """Decisions under the ``behavioural`` rule (:mod:`finsim.behaviour`), from the pilot's
    surplus before incentives ``before`` ``(P, F, A)``, the improvement each body would
    deliver and the improvement asked.

    Returns ``accepted`` (each body's own control total, ``(F, A)``), ``option`` (the
    bodies on the scenario's scheme; a body that declines a system option keeps its own
    total's scheme), ``improvement`` and the ``acceptance`` table.
    """
    import pandas as pd

    acc = config.acceptance
    level_totals = totals(config, economy)
    ct = level_totals["org"]
    deciding = ~np.isnan(ct)
    incentive = getattr(scenario.model, "incentives", None)
    F = ct.shape[0]
    allocation = fund_allocation(incentive, economy) if incentive else np.zeros_like(ct)

    def accepting(settings: Any) -> np.ndarray:
        improved = before + delivered
        income = expected_gain_samples(
            improved, ct, level_totals["system"], economy, scenario, settings
        )
        if settings is not None and settings.unearned:
            income = income + unearned_returned(
                settings, improved, income, ct, allocation, economy, scenario
            )
        return position(
            before,
            improvement,
            delivered,
            income,
            ct,
            acc.improvement_cost,
            acc.miss_penalty,
            acc.miss_rate,
        )

    own_settings = None
    if incentive is not None:
        own_settings = incentive.model_copy(
            update={"system_share": type(incentive.system_share).constant(0.0)}
        )
    own = accepting(own_settings)
    own_value = offer_value(own - before, acc.risk_aversion, acc.loss_aversion)
    own_accepts = deciding & accepts(own_value)
    shares = (
        [incentive.system_share.at(economy.calendar.start_year + f) for f in range(F)]
        if incentive is not None
        else [0.0]
    )
    if acc.level == "organisation" and not any(shares):
        option, value = own_accepts, own_value
    else:
        status_quo = np.where(own_accepts, own, before)
        delta = accepting(incentive) - status_quo
        value = offer_value(delta, acc.risk_aversion, acc.loss_aversion)
        if acc.level == "system":
            option = system_decision(
                value,
                delta,
                economy.system,
                economy.membership("system"),
                deciding,
                allocation,
                acc.side_payments,
                acc.risk_aversion,
                acc.loss_aversion,
            )
        else:
            option = deciding & accepts(value)
    accepted = (own_accepts | option) & deciding
    rows = np.argwhere(deciding)
    table = pd.DataFrame(
        {
            "fy": [economy.calendar.labels[f] for f, _ in rows],
            "org": [economy.ids[a] for _, a in rows],
            "control_total": [ct[f, a] for f, a in rows],
            "expected_surplus": [before.mean(axis=0)[f, a] for f, a in rows],
            "improvement": [improvement[f, a] for f, a in rows],
            "value_own_total": [own_value[f, a] for f, a in rows],
            "accepts_own_total": [bool(own_accepts[f, a]) for f, a in rows],
            "value_option": [value[f, a] for f, a in rows],
            "on_option": [bool(option[f, a]) for f, a in rows],
            "accepted": [bool(accepted[f, a]) for f, a in rows],
        }
    )
    return {
        "accepted": accepted,
        "option": option,
        "improvement": np.where(accepted, improvement, 0.0),
        "tables": {"acceptance": table},
    }


def unearned_returned(
    settings: Any,
    improved: np.ndarray,
    payments: np.ndarray,
    ct: np.ndarray,
    allocation: np.ndarray,
    economy: Economy,
    scenario: ScenarioLike,
) -> np.ndarray:
    """What each funded body would receive of the fund's unearned money, ``(P, F, A)``, by
    the scheme's own year-end rules (:meth:`IncentiveScheme.year_end`: a bonus for beating
    the total, a general distribution), every funded body taking the offer."""
    from finsim.mechanisms.incentive_schemes import _PilotYear

    scheme = schemes(getattr(scenario, "system", None))[settings.scheme](settings, None)
    scheme.bind(provider_kinds(scenario.model, economy))
    P, F, A = improved.shape
    out = np.zeros((P, F, A))
    funded = allocation.any(axis=0) & ~np.isnan(ct).all(axis=0)
    bodies = np.flatnonzero(funded)
    for f in range(F):
        year = economy.calendar.start_year + f
        total = ct[f, bodies]
        beaten = improved[:, f, bodies] - np.nan_to_num(total)
        met = beaten >= -1e-9
        pool = settings.fund.at(year) - payments[:, f, bodies].sum(axis=1)
        when: Any = _PilotYear(year)  # the scheme reads only the year of its context
        for _, amount in scheme.year_end(
            when, np.maximum(pool, 0.0), allocation[f, bodies], beaten, met
        ):
            out[:, f, bodies] += amount
    return out
