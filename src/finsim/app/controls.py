"""The few parameters the explorer moves, each mapped to its place in a scenario.

A finance director asks "what if system share were 50%?". Each :class:`Control` is one such
parameter: where it lives in a scenario file (``path``), its range and the value the
scenario gives it now. Only the controls whose section the scenario has are offered (no
system share without an ``incentives:`` section). A control left where the scenario put it
changes nothing; the ones moved become one overlay, plain data in the scenario format, that
:func:`adjusted` applies exactly as a variant is applied: merged onto the scenario and
validated whole by finsim before a single value is used, so a bad value is finsim's own
:class:`~finsim.errors.ScenarioError` naming the field.

    >>> import finsim
    >>> sc = finsim.load_scenario("examples/ics_control_totals_2018.yaml")  # doctest: +SKIP
    >>> [c.key for c in controls(sc)]                                         # doctest: +SKIP
    ['system_share', 'phasing', 'risk_aversion', 'improvement_delivery']
    >>> adjusted(sc, overlay(sc, {"system_share": 0.5})).variant              # doctest: +SKIP
    'adjusted'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from finsim.scenario import BASELINE, Scenario
from finsim.scenario.merge import deep_merge

#: The name given to the variant the controls make (``interim_adjusted`` on ``interim``).
ADJUSTED = "adjusted"

#: A control's value: one number, or the four quarterly shares of the phasing.
Value = float | tuple[float, ...]


@dataclass(frozen=True)
class Control:
    """One parameter the explorer moves.

    ``value`` is what the scenario (with its variant) gives it now, in the scenario's own
    unit: a share is 0.5 for 50%. ``percent`` says a share or growth is shown as a
    percentage. ``low`` and ``high`` bound the slider (widened to hold ``value``).
    """

    key: str
    label: str
    path: str
    help: str
    value: Value
    low: float
    high: float
    step: float
    percent: bool


def controls(scenario: Scenario) -> list[Control]:
    """The controls ``scenario`` has a section for, each with its current value."""
    model: Any = scenario.model
    found: list[Control] = []
    first = scenario.calendar.start_year
    incentives = getattr(model, "incentives", None)
    if incentives is not None:
        shares = _floats(incentives.system_share.series(first, scenario.calendar.n_years))
        found.append(
            Control(
                "system_share",
                "System share of the incentive fund's finance test",
                "incentives.system_share",
                "Share of each body's finance-test funding that rests on its system's control "
                "total rather than its own (0%: own total only; 25%: the 2018/19 interim "
                "approach; 100%: fully system-based)." + _varies(shares),
                shares[0],
                0.0,
                1.0,
                0.05,
                True,
            )
        )
        found.append(
            Control(
                "phasing",
                "Phasing of the incentive fund by quarter",
                "incentives.phasing",
                "Share of the year's allocation earnable in each quarter, Q1 to Q4, paid in "
                "arrears; the four must add up to 100%.",
                tuple(float(q) for q in incentives.phasing),
                0.0,
                1.0,
                0.01,
                True,
            )
        )
    totals = getattr(model, "control_totals", None)
    if totals is not None:
        acceptance = totals.acceptance
        if acceptance.rule in ("rational", "behavioural"):
            found.append(
                Control(
                    "risk_aversion",
                    "Risk aversion of boards deciding on their control totals",
                    "control_totals.acceptance.risk_aversion",
                    "GBP of expected incentive funding a board gives up per GBP of its standard "
                    "deviation when it decides whether to accept its control total (0: "
                    f"indifferent to risk). Used by the '{acceptance.rule}' rule of this "
                    "scenario.",
                    float(acceptance.risk_aversion),
                    0.0,
                    5.0,
                    0.05,
                    False,
                )
            )
        found.append(
            Control(
                "improvement_delivery",
                "Delivery of the improvements control totals ask for",
                "control_totals.acceptance.delivery.mean",
                "Mean share of the improvement (savings) needed to meet its control total that "
                "a body accepting it delivers.",
                float(acceptance.delivery.mean),
                0.0,
                1.0,
                0.05,
                True,
            )
        )
    activity = getattr(model, "activity", None)
    if activity is not None and scenario.calendar.n_years > 1:
        # growth moves demand into each year from the second: a one-year scenario has none
        rates = _floats(activity.growth.series(first + 1, scenario.calendar.n_years - 1))
        found.append(
            Control(
                "activity_growth",
                "Activity growth a year",
                "activity.growth",
                "Growth of demand into each year from the second. Plans keep the growth the "
                "scenario gives them, so faster growth is activity above plan." + _varies(rates),
                sum(rates) / len(rates),
                min(-0.1, *rates),
                max(0.2, *rates),
                0.005,
                True,
            )
        )
    savings = getattr(model, "savings", None)
    if savings is not None and savings.programmes:
        means = [float(p.delivery.mean) for p in savings.programmes]
        found.append(
            Control(
                "savings_delivery",
                "Delivery of savings programmes",
                "savings.programmes[].delivery.mean",
                "Mean share of each savings programme's planned saving that is delivered; "
                "moving it sets every programme to this value"
                + (f" (the scenario's: {_percents(means)})." if len(set(means)) > 1 else "."),
                sum(means) / len(means),
                0.0,
                1.0,
                0.05,
                True,
            )
        )
    return found


def overlay(scenario: Scenario, values: Mapping[str, Value]) -> dict[str, Any]:
    """The overlay, in the scenario format, that sets each control in ``values`` that has
    moved from the scenario's own value (an empty overlay when none has).

    An unknown key is an error (a control the scenario has no section for cannot be set).
    """
    current = {c.key: c.value for c in controls(scenario)}
    unknown = sorted(set(values) - set(current))
    if unknown:
        raise KeyError(
            f"no control {unknown[0]!r} for this scenario; it has: {', '.join(current) or '(none)'}"
        )
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _same(value, current[key]):
            continue
        out = deep_merge(out, _OVERLAYS[key](scenario, value))
    return out


def adjusted(scenario: Scenario, changes: Mapping[str, Any]) -> Scenario:
    """``scenario`` with the overlay ``changes`` applied as a variant: merged onto the
    scenario (with its variant) and validated whole, as ``finsim run --variant`` does.

    The result's variant is ``adjusted`` (``interim_adjusted`` on the variant ``interim``);
    with no changes, ``scenario`` itself. Raises :class:`finsim.ScenarioError`, each problem
    under ``variants.<name> -> <field path>``.
    """
    if not changes:
        return scenario
    name = adjusted_name(scenario)
    data = scenario.to_data()
    data["variants"] = {name: dict(changes)}
    base = Scenario.from_dict(data, source=scenario.source, system=scenario.system)
    return base.with_variant(name)


def adjusted_name(scenario: Scenario) -> str:
    """The name of the variant :func:`adjusted` makes of ``scenario``."""
    return ADJUSTED if scenario.variant == BASELINE else f"{scenario.variant}_{ADJUSTED}"


def as_variant(scenario: Scenario, changes: Mapping[str, Any]) -> dict[str, Any]:
    """``{name: overlay}``: the variant that gives what :func:`adjusted` gives, to add under
    the file's ``variants:`` (the chosen variant's own overlay with the changes merged on,
    since variants do not stack)."""
    own: dict[str, Any] = {}
    if scenario.variant != BASELINE:
        own = scenario.with_variant(BASELINE).to_data()["variants"][scenario.variant]
    return {adjusted_name(scenario): deep_merge(own, dict(changes))}


# -- overlays --------------------------------------------------------------------------------
def _system_share(scenario: Scenario, value: Value) -> dict[str, Any]:
    return {"incentives": {"system_share": _number(value)}}


def _phasing(scenario: Scenario, value: Value) -> dict[str, Any]:
    quarters = [float(q) for q in value] if isinstance(value, tuple | list) else [value]
    return {"incentives": {"phasing": quarters}}


def _risk_aversion(scenario: Scenario, value: Value) -> dict[str, Any]:
    return {"control_totals": {"acceptance": {"risk_aversion": _number(value)}}}


def _improvement_delivery(scenario: Scenario, value: Value) -> dict[str, Any]:
    return {"control_totals": {"acceptance": {"delivery": {"mean": _number(value)}}}}


def _activity_growth(scenario: Scenario, value: Value) -> dict[str, Any]:
    written = scenario.to_data().get("activity") or {}
    changes: dict[str, Any] = {"growth": _number(value)}
    if written.get("plan_growth") is None:
        # plans grew with demand ("plan_growth: default growth"): they keep that growth
        changes["plan_growth"] = written.get("growth", 0.0)
    return {"activity": changes}


def _savings_delivery(scenario: Scenario, value: Value) -> dict[str, Any]:
    programmes = scenario.model.savings.programmes  # type: ignore[attr-defined]
    return {
        "savings": {
            "programmes": [{"id": p.id, "delivery": {"mean": _number(value)}} for p in programmes]
        }
    }


_OVERLAYS: dict[str, Callable[[Scenario, Value], dict[str, Any]]] = {
    "system_share": _system_share,
    "phasing": _phasing,
    "risk_aversion": _risk_aversion,
    "improvement_delivery": _improvement_delivery,
    "activity_growth": _activity_growth,
    "savings_delivery": _savings_delivery,
}


# -- helpers ---------------------------------------------------------------------------------
def _number(value: Value) -> float:
    if isinstance(value, tuple | list):
        raise TypeError(f"expected one number, got {value!r}")
    return float(value)


def _same(a: Value, b: Value) -> bool:
    left = a if isinstance(a, tuple | list) else (a,)
    right = b if isinstance(b, tuple | list) else (b,)
    return len(left) == len(right) and all(
        abs(float(x) - float(y)) <= 1e-9 for x, y in zip(left, right, strict=True)
    )


def _floats(values: list[float]) -> list[float]:
    """The values as floats, one per year (0.0 for none)."""
    return [float(v) for v in values] or [0.0]


def _varies(values: list[float]) -> str:
    if len(set(values)) <= 1:
        return ""
    return f" The scenario varies it by year ({_percents(values)}); moving it sets every year."


def _percents(values: list[float]) -> str:
    return ", ".join(f"{v:.1%}" for v in values)
