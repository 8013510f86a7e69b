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
from typing import TYPE_CHECKING, Any

import numpy as np

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
    if config is None or config.acceptance.rule != "rational":
        return {}
    return {"control_totals": decide(config, scenario, seed, simulate)}


def decide(
    config: ControlTotalsConfig, scenario: ScenarioLike, seed: int, simulate: Simulate
) -> dict[str, Any]:
    """Decide from a pilot run in which every body rejects (see the module docstring).

    Returns ``accepted`` ``(F, A)`` bool, ``improvement`` ``(F, A)`` GBP m and the
    ``acceptance`` table.
    """
    import pandas as pd

    acceptance = config.acceptance
    doc = scenario.to_data()
    doc.pop("variants", None)
    doc["control_totals"].setdefault("acceptance", {})["rule"] = "never"
    pilot_scenario = _like(scenario, doc)
    pilot_seed = stable_hash(f"pilot:{seed}") % (2**63)
    reps = np.arange(acceptance.pilot_replications)
    arrays = simulate(pilot_scenario, reps, pilot_seed)
    economy = Economy.from_scenario(scenario)  # type: ignore[arg-type]
    before = arrays["surplus"] - arrays["incentive_earned"]  # (P, F, A)
    level_totals = totals(config, economy)
    ct = level_totals["org"]
    mean = before.mean(axis=0)
    improvement = np.where(np.isnan(ct), 0.0, np.maximum(ct - mean, 0.0))
    u = Streams(pilot_seed, reps).uniform(
        "control_totals", "pilot_delivery", shape=before.shape[1:]
    )
    improved = before + acceptance.delivery.draw(u) * improvement
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
) -> np.ndarray:
    """Incentive each body would earn in each pilot replication if it accepted: ``(P, F, A)``,
    from the scenario's scheme (:meth:`IncentiveScheme.expected_payment`)."""
    P, F, A = surplus.shape
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
