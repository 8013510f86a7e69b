"""``policy: england`` in a scenario: national settings filled from the policy tree.

The promise tested here: a scenario that names a policy runs exactly as the same scenario
with those settings typed in (to the bit); what the scenario states wins; a figure the tree
does not know, or marks U, is one clear error naming the setting and the year.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
import yaml

import finsim
from finsim.cli import main
from finsim.errors import ScenarioError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _ics() -> dict:
    return yaml.safe_load((EXAMPLES / "ics_control_totals_2018.yaml").read_text())


def _two_systems() -> dict:
    return yaml.safe_load((EXAMPLES / "two_systems.yaml").read_text())


def test_policy_for_2018_19_runs_as_the_same_settings_typed_in_to_the_bit():
    """The ICS example (2018/19) with its incentive rules left to the policy, against the
    same file with the tree's 2018/19 figures typed in by hand: phasing 15/20/30/35 (the STF's,
    F9, S, in force to 2018/19, before the PSF's unconfirmed 12.5/17.5/30/40: the first
    parameter in force wins), finance share 70% (U), 100% for trusts without A&E (U), £2 per £1 (F14, S), CQUIN
    2.5% (U), the emergency marginal rate 70% (S). Every position and flow is the same."""
    inherited = _ics()
    del inherited["incentives"]["phasing"], inherited["incentives"]["finance_share"]
    inherited["policy"] = {"name": "england", "unconfirmed": "use"}
    typed = _ics()
    typed["incentives"].update(
        phasing=[0.15, 0.2, 0.3, 0.35],
        finance_share=0.7,
        bonus_ratio=2.0,
        finance_share_by_kind={
            k: 1.0 for k in ("community", "mental_health", "specialist", "ambulance", "other")
        },
    )
    typed["cquin"] = {"share": 0.025}
    typed["tariff"]["emergency_marginal_rate"] = {"rate": 0.7}
    a = finsim.run(finsim.Scenario.from_dict(inherited), replications=12, seed=3)
    b = finsim.run(finsim.Scenario.from_dict(typed), replications=12, seed=3)
    pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)
    pd.testing.assert_frame_equal(a.flows, b.flows, check_exact=True)
    # and the policy did change the run: the typed-in example's own settings differ
    own = finsim.run(finsim.Scenario.from_dict(_ics()), replications=12, seed=3)
    assert not own.positions["surplus"].equals(a.positions["surplus"])


def test_by_year_settings_follow_the_tree_year_by_year():
    """two_systems runs 2017/18-2019/20: the tariff's cost uplift into 2018/19 is the 2017/18
    rule still in force, 2.1% (U), and into 2019/20 3.8% (S); efficiency 2% (U), then 1.1%
    (S); the first year takes none (a growth applies into each year after the first)."""
    doc = _two_systems()
    del doc["tariff"]["cost_uplift"], doc["tariff"]["efficiency"]
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    sc = finsim.Scenario.from_dict(doc)
    tariff = sc.model.tariff
    assert tariff.cost_uplift.to_data() == {"2018/19": 0.021, "2019/20": 0.038}
    assert tariff.efficiency.to_data() == {"2018/19": 0.02, "2019/20": 0.011}
    origins = {o.path: o for o in sc.national_settings()}
    assert origins["tariff.cost_uplift"].origin == "policy"
    assert "2019/20: tariff.cost_uplift = 0.038" in origins["tariff.cost_uplift"].detail
    # the marginal rate: 70% (2015/16 on) in 2017/18 and 2018/19; none in 2019/20 (the
    # blended payment replaced it: the rule ended), so emergency activity is paid in full
    assert tariff.emergency_marginal_rate.rate.to_data() == {
        "2017/18": 0.7,
        "2018/19": 0.7,
        "2019/20": 1.0,
    }


def test_what_the_scenario_states_wins():
    doc = _two_systems()
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    doc["cquin"] = {"share": 0.01}
    sc = finsim.Scenario.from_dict(doc)
    assert sc.model.cquin.share.at(2018) == 0.01
    origins = {o.path: o for o in sc.national_settings()}
    assert origins["cquin.share"].origin == "scenario"
    assert origins["tariff.cost_uplift"].origin == "scenario"  # two_systems states it


def test_an_unconfirmed_figure_is_refused_unless_the_scenario_takes_it():
    doc = _two_systems()
    del doc["tariff"]["cost_uplift"]
    doc["policy"] = "england"
    with pytest.raises(ScenarioError) as caught:
        finsim.Scenario.from_dict(doc)
    text = str(caught.value)
    assert "tariff.cost_uplift" in text and "2018/19" in text and "marked U" in text
    assert "unconfirmed: use" in text


def test_a_rule_whose_figure_is_unknown_must_be_stated():
    """The tariff's cost uplift for 2020/21 is not known (fact sheet section 14): a run into
    2020/21 under the policy must state it; stated, it runs."""
    doc = _two_systems()
    doc["scenario"].update(start="2019/20", years=2)
    del doc["tariff"]["cost_uplift"]
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    with pytest.raises(ScenarioError) as caught:
        finsim.Scenario.from_dict(doc)
    problem = caught.value.problems[0]
    assert problem.path == "tariff.cost_uplift"
    assert "in force in 2020/21 but its figure is not known" in problem.message
    doc["tariff"]["cost_uplift"] = 0.028
    assert finsim.Scenario.from_dict(doc).model.tariff.cost_uplift.at(2020) == 0.028


def test_a_one_value_setting_whose_rule_changes_within_the_run_is_an_error():
    """CQUIN's base is actual value to 2016/17 and the API fixed element from 2022/23; the
    scenario's cquin.base holds one value, so a run across the change must choose."""
    doc = _two_systems()
    doc["scenario"].update(start="2016/17", years=7)
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    with pytest.raises(ScenarioError) as caught:
        finsim.Scenario.from_dict(doc)
    (problem,) = [p for p in caught.value.problems if p.path == "cquin.base"]
    assert "changes within the scenario's years" in problem.message
    assert "2016/17: 'actual'" in problem.message and "2022/23: 'plan'" in problem.message
    doc["cquin"] = {"share": 0.02, "base": "actual"}
    doc["scenario"]["years"] = 1
    assert finsim.Scenario.from_dict(doc).model.cquin.base == "actual"


def test_a_policy_file_of_your_own_extends_england_and_a_variant_can_choose_it(tmp_path):
    (tmp_path / "proposed.yaml").write_text(
        "extends: england\n"
        "title: CQUIN at 1%\n"
        "parameters:\n"
        "  cquin.share:\n"
        "    values:\n"
        "      2017/18: {value: 0.01, source: [F14], confidence: U, note: a proposal}\n"
    )
    doc = _two_systems()
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    doc["variants"]["proposed"] = {"policy": {"name": "proposed.yaml"}}
    doc["variants"]["proposed"]["policy"]["unconfirmed"] = "use"
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(doc))
    sc = finsim.load_scenario(path)
    assert sc.model.cquin.share.at(2017) == 0.025
    assert sc.with_variant("proposed").model.cquin.share.at(2017) == 0.01
    compared = finsim.stress(sc, ["baseline", "proposed"], replications=8, seed=1)
    assert set(compared.variants) == {"baseline", "proposed"}


def test_an_unknown_policy_is_one_clear_error_on_the_command_line(tmp_path, capsys):
    doc = _two_systems()
    doc["policy"] = "englnd"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "policy" in err and "englnd" in err and "england" in err
    assert "Traceback" not in err
    doc["policy"] = "missing_policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path)]) == 2
    assert "missing_policy.yaml" in capsys.readouterr().err


def test_validate_explain_shows_each_setting_and_its_source(tmp_path, capsys):
    doc = copy.deepcopy(_two_systems())
    del doc["tariff"]["efficiency"]
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc))
    assert main(["validate", str(path), "--explain"]) == 0
    out = capsys.readouterr().out
    assert "national settings (policy: england" in out
    assert 'tariff.efficiency = {"2018/19": 0.02, "2019/20": 0.011}' in out
    assert "2019/20: tariff.efficiency = 0.011 (T9; S)" in out
    assert "tariff.cost_uplift" in out and "from scenario: " in out


@pytest.mark.parametrize("start", range(2001, 2027))
def test_every_year_from_2001_02_runs_under_the_policy_or_names_what_is_missing(start):
    """Any year 2001/02 to 2026/27 with one line, ``policy: england``: it runs under the rules
    the tree gives for it, or fails with errors that each name a national setting and say the
    tree does not know its figure in that year (never a guess)."""
    doc = _two_systems()
    doc["scenario"].update(start=f"{start}/{(start + 1) % 100:02d}", years=2)
    del doc["tariff"]["cost_uplift"], doc["tariff"]["efficiency"]
    # the scenario's own by-year figures start in 2017/18: one figure for every year instead
    doc["allocations"]["uplift"] = doc["activity"]["growth"] = doc["costs"]["inflation"] = 0.02
    doc["variants"] = {}
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    try:
        scenario = finsim.Scenario.from_dict(doc)
    except ScenarioError as exc:
        for problem in exc.problems:
            assert problem.path.split(".")[0] in {"tariff", "cquin", "incentives"}
            assert "not known" in problem.message or "says nothing" in problem.message
        return
    res = finsim.run(scenario, replications=1, seed=0)
    assert len(res.positions) > 0


def _example(stem: str) -> dict:
    doc = yaml.safe_load((EXAMPLES / f"{stem}.yaml").read_text())
    if "extends" in doc:
        doc["extends"] = str(EXAMPLES / doc["extends"])
    return doc


def test_the_new_mechanisms_take_their_rules_from_the_policy_in_the_years_they_run():
    """The Covid example with its elective incentive's rules left to the policy: 90% of
    2019/20 activity, shortfall charged at 25%, excess paid at 75% (V5; S), for its Covid years
    (and written for 2019/20, the first simulated year, which a by-year setting must cover);
    the blocks' growth 0 (C) and efficiency 0 in 2020/21, 0.28% and 1.5% in 2021/22 (T10; S).
    Against the same file under the same policy with those three typed in, the run is the
    same to the bit."""
    typed = _example("covid_2020")
    typed["policy"] = {"name": "england", "unconfirmed": "use"}
    typed["incentives"] = {"phasing": [0.15, 0.2, 0.3, 0.35], "bonus_ratio": 1.0}
    inherited = copy.deepcopy(typed)
    for name in ("threshold", "shortfall_charge", "excess_payment"):
        del inherited["covid"]["elective_incentive"][name]
    # (the 2019/20 PSF's phasing and bonus are not known, T9; U: the file states them)
    sc = finsim.Scenario.from_dict(inherited)
    incentive = sc.model.covid.elective_incentive
    assert incentive.threshold.to_data() == {"2019/20": 0.9, "2020/21": 0.9}
    assert (incentive.shortfall_charge.at(2020), incentive.excess_payment.at(2020)) == (0.25, 0.75)
    origins = {o.path: o for o in sc.national_settings()}
    assert (
        "2020/21: covid.elective_incentive.threshold = 0.9 (V5; S)"
        in origins["covid.elective_incentive.threshold"].detail
    )
    a = finsim.run(sc, replications=1, seed=0)
    b = finsim.run(finsim.Scenario.from_dict(typed), replications=1, seed=0)
    pd.testing.assert_frame_equal(a.positions, b.positions, check_exact=True)


def test_a_rule_that_ended_takes_its_stated_absence():
    """The CCG risk reserve: 1% in 2016/17, 0.5% in 2017/18, lifted in 2018/19 (F12; S): a
    scenario over the three years holds 1%, 0.5% and nothing."""
    doc = _two_systems()
    doc["scenario"].update(start="2016/17", years=3)
    doc["allocations"]["uplift"] = doc["activity"]["growth"] = doc["costs"]["inflation"] = 0.02
    doc["tariff"].update(cost_uplift=0.02, efficiency=0.02)
    doc["variants"] = {}
    doc["commissioner_reserves"] = {"release": "released"}
    doc["policy"] = {"name": "england", "unconfirmed": "use"}
    sc = finsim.Scenario.from_dict(doc)
    assert sc.model.commissioner_reserves.share.to_data() == {
        "2016/17": 0.01,
        "2017/18": 0.005,
        "2018/19": 0.0,
    }
