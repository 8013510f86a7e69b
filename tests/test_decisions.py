"""Acceptance decisions (finsim.decisions): from a pilot run, on the scheme's own rules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import finsim
from finsim import decisions
from finsim.mechanisms.incentives import IncentiveScheme

ICS = Path(__file__).resolve().parents[1] / "examples" / "ics_control_totals_2018.yaml"


class NeverPays(IncentiveScheme):
    """A fund that pays nothing, whatever the tests."""

    name = "never_pays"

    def quarter(self, ctx, q, allocation, own_pass, system_pass, performance_pass):
        return 0.0 * allocation * own_pass

    def expected_payment(self, year, allocation, own_pass, system_pass, performance_pass):
        return np.zeros(np.shape(own_pass))


class PaysDouble(IncentiveScheme):
    """The sustainability fund's rules, paying twice as much."""

    name = "pays_double"

    def quarter(self, ctx, q, allocation, own_pass, system_pass, performance_pass):
        return 2.0 * super().quarter(ctx, q, allocation, own_pass, system_pass, performance_pass)

    def expected_payment(self, year, allocation, own_pass, system_pass, performance_pass):
        return 2.0 * super().expected_payment(
            year, allocation, own_pass, system_pass, performance_pass
        )


class QuarterOnly(IncentiveScheme):
    """A scheme written before expected_payment: its quarters are what bodies expect."""

    name = "quarter_only"

    def quarter(self, ctx, q, allocation, own_pass, system_pass, performance_pass):
        return allocation * own_pass * (1.0 if q == 4 else 0.0) * (ctx.fy_start_year > 0)


def simulate(scenario, replications, seed):
    """What the runner hands decisions: the engine's pilot run, as position arrays."""
    from finsim.economy import Economy
    from finsim.engine import Engine, RunOptions
    from finsim.results import Results

    chunk = Engine(scenario, replications, seed, RunOptions()).run()
    economy = Economy.from_scenario(scenario)
    return Results(
        economy, [chunk], scenario_name="pilot", variant="pilot", seed=seed
    )._position_arrays


def with_scheme(scheme: type[IncentiveScheme] | None, variant: str | None = None, **acceptance):
    """The ICS example under the ``rational`` rule (risk aversion 1.5, as it was before the
    behavioural rule) with ``scheme``, on a System holding it."""
    sc = finsim.load_scenario(ICS, variant=variant)
    doc = sc.to_data()
    doc.pop("variants", None)
    doc["control_totals"]["acceptance"].update(rule="rational", risk_aversion=1.5)
    doc["control_totals"]["acceptance"].pop("loss_aversion", None)
    doc["control_totals"]["acceptance"].update(acceptance)
    doc["control_totals"]["acceptance"]["pilot_replications"] = 40
    system = None
    if scheme is not None:
        from finsim.system import System

        system = System.default().with_scheme(scheme)
        doc["incentives"]["scheme"] = scheme.name
    return finsim.Scenario.from_dict(doc, source=str(ICS), system=system)


def decide(sc) -> dict:
    return decisions.decide(sc.model.control_totals, sc, 7, simulate)


@pytest.fixture(scope="module")
def psf() -> dict:
    return decide(with_scheme(None))


def test_the_rule_is_rational_in_the_example(psf):
    sc = with_scheme(None)
    assert sc.model.control_totals.acceptance.rule == "rational"
    assert set(psf) == {"accepted", "improvement", "tables"}
    assert len(psf["tables"]["acceptance"]) > 0


@pytest.mark.parametrize("risk_aversion", [None, 0.0])
def test_a_scheme_that_never_pays_is_declined_by_every_body_that_must_improve(risk_aversion):
    """Nothing to gain: every rational body that would have to improve declines (one that
    already expects to meet its total loses nothing by accepting, and the rule accepts a tie);
    risk-neutral, some of those bodies accept the sustainability fund."""
    kw = {} if risk_aversion is None else {"risk_aversion": risk_aversion}
    table = decide(with_scheme(NeverPays, **kw))["tables"]["acceptance"]
    assert (table["expected_gain"] == 0.0).all()
    must_improve = table["improvement"] > 0
    assert must_improve.any()
    assert not table.loc[must_improve, "accepted"].any()
    assert table.loc[~must_improve, "accepted"].all()
    if risk_aversion == 0.0:
        base = decide(with_scheme(None, **kw))["tables"]["acceptance"]
        assert base.loc[must_improve, "accepted"].any()


@pytest.mark.parametrize("risk_aversion", [None, 0.0])
def test_a_scheme_that_pays_double_is_accepted_by_more_bodies(risk_aversion):
    """Twice the sustainability fund's payment: every body that accepted the fund accepts,
    and more do (in the ICS example, as it is and risk-neutral)."""
    kw = {} if risk_aversion is None else {"risk_aversion": risk_aversion}
    base = decide(with_scheme(None, **kw))["tables"]["acceptance"]
    double = decide(with_scheme(PaysDouble, **kw))["tables"]["acceptance"]
    assert np.allclose(double["expected_gain"], 2.0 * base["expected_gain"])
    assert (double["accepted"] >= base["accepted"]).all()
    assert double["accepted"].sum() > base["accepted"].sum()


def test_the_builtin_scheme_expects_what_it_always_did(psf):
    """The sustainability fund's expected_payment is the formula the pilot always used: the
    same decisions, to the bit, whether the scheme is named or left as the default."""
    named = decide(with_scheme(IncentiveScheme))
    assert np.array_equal(named["accepted"], psf["accepted"])
    assert named["tables"]["acceptance"].equals(psf["tables"]["acceptance"])


def test_a_scheme_with_only_quarterly_rules_is_expected_from_its_quarters():
    """A user scheme that overrides only quarter() is honoured: bodies expect its four
    quarters' sum on the year's tests (here: the allocation, if the own total is met)."""
    out = decide(with_scheme(QuarterOnly))
    table = out["tables"]["acceptance"]
    assert (table["expected_gain"] >= 0).all()
    scheme = QuarterOnly(with_scheme(QuarterOnly).model.incentives, None)
    own = np.array([[True, False], [True, True]])
    got = scheme.expected_payment(2018, np.array([3.0, 5.0]), own, own, 1.0)
    assert np.array_equal(got, [[3.0, 0.0], [3.0, 5.0]])


def test_prepare_gives_the_runs_decisions_by_section(psf):
    sc = with_scheme(None)
    assert decisions.prepare(sc, 7, simulate)["control_totals"]["accepted"].shape == (
        psf["accepted"].shape
    )
    data = sc.to_data()
    data["control_totals"]["acceptance"]["rule"] = "always"
    assert decisions.prepare(finsim.Scenario.from_dict(data), 7, simulate) == {}


def test_decisions_do_not_import_the_engine():
    """The pilot runs through the simulate callable the runner passes."""
    import ast

    tree = ast.parse(Path(decisions.__file__).read_text("utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    } | {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert not {"finsim.engine", "finsim.runner", "finsim.results"} & imported
