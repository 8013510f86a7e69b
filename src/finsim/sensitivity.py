"""Sensitivity analysis: which uncertain inputs drive breaches and deficits.

Uncertain inputs are named by their path in the scenario document
(``activity.shock_sd``, ``interventions.rapid_savings.delivery.mean``,
``control_totals.regions.midlands``) with a range, declared in the scenario's
``uncertain:`` section or passed in Python. :func:`sensitivity` samples the
ranges with a Latin hypercube or a scrambled Sobol sequence
(``scipy.stats.qmc``), runs the scenario at each sample point on common random
numbers, and reports the named outcomes at each point and which inputs drive
them (Spearman rank correlations).

:func:`model_function` exposes the model as a plain function of named inputs
returning named outcomes, so EMA Workbench or SALib can drive it directly::

    f = finsim.model_function(sc, replications=200, seed=1)
    f(**{"activity.shock_sd": 0.04})   # -> {"p_region_breach": ..., ...}
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.stats import qmc

from finsim.errors import Problem, ScenarioError
from finsim.results import Results
from finsim.runner import run
from finsim.scenario.loader import Scenario
from finsim.stress import expected_shortfall


def _breach(res: Results, level: str) -> float:
    arrays = res._position_arrays
    accounts = res.economy.of_type(level)
    total = arrays[f"{level}_control_total"][:, :, accounts]
    before = arrays[f"{level}_surplus_before_incentives"][:, :, accounts]
    has = ~np.isnan(total)
    if not has.any():
        return float("nan")
    return float(((before < np.where(has, total, 0.0) - 1e-9) & has).sum() / has.sum())


def _system_deficit(res: Results) -> np.ndarray:
    arrays = res._position_arrays
    systems = res.economy.of_type("system")
    return -arrays["system_surplus_before_incentives"][:, :, systems].sum(axis=(1, 2))


#: Named outcomes of a run.
OUTCOMES: dict[str, Callable[[Results], float]] = {
    "p_region_breach": lambda res: _breach(res, "region"),
    "p_system_breach": lambda res: _breach(res, "system"),
    "system_deficit_mean": lambda res: float(_system_deficit(res).mean()),
    "system_deficit_es97.5": lambda res: float(expected_shortfall(_system_deficit(res), 0.975)),
}


def set_path(document: dict[str, Any], path: str, value: float) -> dict[str, Any]:
    """A copy of ``document`` with the number at dotted ``path`` replaced by ``value``."""
    out = copy.deepcopy(document)
    node: Any = out
    parts = path.split(".")
    for part in parts[:-1]:
        key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            raise ScenarioError.single(
                path, f"the scenario has no '{part}' here", "(uncertain inputs)"
            ) from None
    last: Any = int(parts[-1]) if isinstance(node, list) and parts[-1].isdigit() else parts[-1]
    if not isinstance(node, dict | list) or (isinstance(node, dict) and last not in node):
        raise ScenarioError.single(
            path, "the scenario has no value here to vary", "(uncertain inputs)"
        )
    current = node[last]
    if isinstance(current, bool) or not isinstance(current, int | float):
        raise ScenarioError.single(
            path, f"expected a number to vary, found {current!r}", "(uncertain inputs)"
        )
    node[last] = float(value)
    return out


def _document(scenario: Scenario) -> dict[str, Any]:
    """The scenario as data, without its variants: what the sampled inputs are set into."""
    document = scenario.to_data()
    document.pop("variants", None)
    return document


def _check_ranges(scenario: Scenario, inputs: Mapping[str, tuple[float, float]]) -> None:
    """Refuse, before any run, a range whose end makes the scenario invalid (a growth rate
    below -100%, a share above 1...): better than failing at a sample point half way."""
    base = _document(scenario)
    declared = [u.path for u in getattr(scenario.model, "uncertain", None) or []]
    problems = []
    for name, (low, high) in inputs.items():
        where = f"uncertain[{declared.index(name)}]" if name in declared else f"inputs[{name!r}]"
        for end, value in (("low", low), ("high", high)):
            try:
                Scenario.from_dict(set_path(base, name, value), source=scenario.source)
            except ScenarioError as error:
                reasons = "; ".join(f"{p.path}: {p.message}" for p in error.problems)
                problems.append(
                    Problem(
                        f"{where}.{end}",
                        f"{name} = {value:g} (the {end} end of its range) makes the scenario "
                        f"invalid: {reasons}",
                        scenario.source,
                    )
                )
    if problems:
        raise ScenarioError(problems)


def model_function(
    scenario: Scenario,
    outcomes: Sequence[str] | None = None,
    replications: int = 200,
    seed: int = 0,
    **options: Any,
) -> Callable[..., dict[str, float]]:
    """The model as ``f(**inputs) -> {outcome: value}``, inputs named by dotted path."""
    names = list(outcomes or OUTCOMES)
    unknown = [n for n in names if n not in OUTCOMES]
    if unknown:
        raise ScenarioError.single(
            "outcomes", f"unknown outcomes {unknown}; known: {', '.join(OUTCOMES)}", "(options)"
        )
    base = _document(scenario)

    def f(**inputs: float) -> dict[str, float]:
        document = base
        for path, value in inputs.items():
            document = set_path(document, path, value)
        sc = Scenario.from_dict(document, source=scenario.source)
        res = run(
            sc,
            replications=replications,
            seed=seed,
            **{"keep_monthly": False, "keep_journal": False, "keep_positions": True, **options},
        )
        return {name: OUTCOMES[name](res) for name in names}

    return f


@dataclass
class SensitivityResults:
    """Sample points, the outcomes at each, and which inputs drive them."""

    samples: pd.DataFrame  # one row per point: inputs then outcomes
    inputs: list[str]
    outcomes: list[str]

    def drivers(self) -> pd.DataFrame:
        """Spearman rank correlation of each input with each outcome (and its p-value)."""
        rows = []
        for outcome in self.outcomes:
            y = self.samples[outcome].to_numpy()
            for name in self.inputs:
                x = self.samples[name].to_numpy()
                if np.ptp(y) == 0 or np.ptp(x) == 0:
                    rho, p = 0.0, 1.0
                else:
                    rho, p = stats.spearmanr(x, y)
                rows.append(
                    {"outcome": outcome, "input": name, "spearman": float(rho), "p_value": float(p)}
                )
        frame = pd.DataFrame(rows)
        frame["abs"] = frame["spearman"].abs()
        return (
            frame.sort_values(["outcome", "abs"], ascending=[True, False])
            .drop(columns="abs")
            .reset_index(drop=True)
        )


def sensitivity(
    scenario: Scenario,
    inputs: Mapping[str, tuple[float, float]] | None = None,
    samples: int = 32,
    replications: int = 200,
    seed: int = 0,
    method: str = "lhs",
    outcomes: Sequence[str] | None = None,
    **options: Any,
) -> SensitivityResults:
    """Sample uncertain inputs (Latin hypercube ``"lhs"`` or Sobol ``"sobol"``) and run each point.

    ``inputs`` maps dotted paths to (low, high); by default the scenario's ``uncertain:``
    section. Every point runs ``replications`` replications from the same ``seed``.
    """
    if inputs is None:
        declared = getattr(scenario.model, "uncertain", None) or []
        inputs = {u.path: (u.low, u.high) for u in declared}
    if not inputs:
        raise ScenarioError.single(
            "uncertain",
            "no uncertain inputs: declare them in the scenario's 'uncertain:' section or pass inputs",
            scenario.source,
        )
    names = list(inputs)
    low = np.array([inputs[n][0] for n in names], dtype=float)
    high = np.array([inputs[n][1] for n in names], dtype=float)
    if np.any(high < low):
        raise ScenarioError.single("uncertain", "each range needs low <= high", scenario.source)
    if method == "lhs":
        unit = qmc.LatinHypercube(d=len(names), seed=seed).random(samples)
    elif method == "sobol":
        unit = qmc.Sobol(d=len(names), scramble=True, seed=seed).random(samples)
    else:
        raise ScenarioError.single(
            "method", f"expected 'lhs' or 'sobol', got {method!r}", "(options)"
        )
    _check_ranges(scenario, inputs)
    points = qmc.scale(unit, low, high) if np.all(high > low) else low + unit * (high - low)
    f = model_function(scenario, outcomes, replications=replications, seed=seed, **options)
    rows = []
    for point in points:  # each point is a whole run of R replications (not a hot loop)
        values = dict(zip(names, (float(v) for v in point), strict=True))
        rows.append({**values, **f(**values)})
    frame = pd.DataFrame(rows)
    return SensitivityResults(frame, names, [c for c in frame.columns if c not in names])
