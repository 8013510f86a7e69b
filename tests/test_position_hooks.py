"""Mechanisms own their position columns and subsidy components (issue 15.4): results keep
none of a mechanism's rules, and a plug-in's columns and subsidies appear like the built-ins'."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

import finsim
from finsim.positions import CORE_COLUMNS, PositionColumn
from finsim.system import System
from tests.plugin_levy import Levy, Solidarity

EXAMPLE = "examples/two_systems.yaml"
SRC = Path(__file__).resolve().parents[1] / "src" / "finsim"


def _run(system: System, rate: float = 0.01) -> finsim.Results:
    data = finsim.load_scenario(EXAMPLE).to_data()
    data["solidarity"] = {"rate": rate}
    scenario = finsim.Scenario.from_dict(data, system=system)
    return finsim.run(scenario, replications=3, seed=5, keep_flows=True)


def test_a_plugins_column_and_subsidy_appear_in_positions_and_subsidies():
    system = System.default().with_mechanism(Solidarity)
    res = _run(system)
    columns = list(res.positions.columns)
    # placed by rank: after incentive_earned (100), before nonrecurrent_income (110)
    at = columns.index("solidarity_rate")
    assert columns[at - 1] == "incentive_earned" and columns[at + 1] == "nonrecurrent_income"
    providers = res.positions[res.positions["org_type"] == "provider"]
    assert (providers["solidarity_rate"] == 0.01).all()
    others = res.positions[res.positions["org_type"] != "provider"]
    assert others["solidarity_rate"].isna().all()
    subsidies = res.subsidies()
    assert "solidarity" in subsidies.columns
    paid = res.flows[res.flows["category"] == "solidarity"]
    given = paid.groupby("source")["amount"].sum() / res.replications
    by_org = subsidies.groupby("org")["solidarity"].sum()
    for org, amount in given.items():
        assert by_org[org] == pytest.approx(-amount, rel=1e-9)
    # net_received is the sum of the components, the plug-in's among them
    components = [
        c
        for c in subsidies.columns
        if c not in {"fy", "org", "org_type", "system", "region", "deprivation_quintile"}
        and c not in {"need_per_head", "net_received"}
    ]
    assert "extra_surplus" in components and "top_slice" in components
    np.testing.assert_allclose(
        subsidies[components].sum(axis=1), subsidies["net_received"], atol=1e-9
    )
    # and the summary's net subsidy counts it: money between bodies nets to zero over England
    summary = res.summary()
    england = summary[summary["level"] == "england"]
    assert england["net_subsidy_received_mean"].abs().max() < 1e-6


def test_without_the_plugin_the_column_is_absent_and_a_system_without_control_totals_has_none():
    res = _run(System.default().with_mechanism(Solidarity), rate=0.0)
    assert "solidarity_rate" in res.positions.columns
    plain = finsim.run(finsim.load_scenario(EXAMPLE), replications=2, seed=5)
    assert "solidarity_rate" not in plain.positions.columns
    assert "control_total" in plain.positions.columns
    bare = System.default().without_mechanism("control_totals")
    names = [c.name for c in finsim.positions.columns(bare.mechanisms.values())]
    assert "control_total" not in names and names == [c.name for c in CORE_COLUMNS]


def test_a_column_declared_twice_or_left_unfilled_is_an_error():
    class Clash(Levy):
        section = "clash"
        columns = (PositionColumn("control_total", 70, "a clash"),)

    with pytest.raises(ValueError, match="Clash declares the position column 'control_total'"):
        System.default().with_mechanism(Clash)

    class Forgetful(Levy):
        section = "forgetful"
        columns = (PositionColumn("forgotten", 70, "never filled"),)

    system = System.default().with_mechanism(Forgetful)
    res = finsim.run(finsim.load_scenario(EXAMPLE, system=system), replications=1, seed=0)
    with pytest.raises(RuntimeError, match=r"Forgetful declares columns \['forgotten'\]"):
        _ = res.positions


def test_results_modules_keep_no_mechanisms_rules():
    """The names only a mechanism knows appear in no results module (they come from hooks)."""
    words = ("control_total", "extra_surplus", "top_slice", "risk_share", "incentive_payment")
    for name in ("results.py", "result_arrays.py", "result_tables.py", "positions.py"):
        tree = ast.parse((SRC / name).read_text())
        strings = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and not (node.value.count(" ") > 2)  # docstrings and messages may mention them
        ]
        found = [s for s in strings for w in words if w in s]
        assert not found, (name, found)
