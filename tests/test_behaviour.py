"""Decisions that behave like NHS boards (issue 17): the behavioural acceptance rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import finsim
from finsim.behaviour import offer_value, system_decision

from .test_incentives import economy

ICS = Path(__file__).resolve().parents[1] / "examples" / "ics_control_totals_2018.yaml"


def test_the_value_of_an_offer_by_hand():
    """A change of +6 or -2 with equal chance: mean 2, sd 4. Risk-neutral, no loss aversion:
    V = 2. Loss aversion 2: 0.5 x 6 + 0.5 x 2 x (-2) = 1. Risk aversion 0.25 on top:
    1 - 0.25 x 4 = 0, the threshold (a tie accepts); 0.26 rejects."""
    delta = np.array([6.0, -2.0] * 50)[:, None]
    assert offer_value(delta, 0.0, 1.0)[0] == pytest.approx(2.0)
    assert offer_value(delta, 0.0, 2.0)[0] == pytest.approx(1.0)
    assert offer_value(delta, 0.25, 2.0)[0] == pytest.approx(0.0, abs=1e-12)
    assert offer_value(delta, 0.26, 2.0)[0] < 0


def decisions(cost: float, **acceptance) -> dict:
    doc = economy(ct_a=4.0, ct_b=4.0, cost_b=98.0, rule="behavioural")
    settings = {
        "improvement_cost": cost,
        "delivery": {"mean": 1.0, "sd": 0.0},
        "pilot_replications": 10,
        **acceptance,
    }
    doc["control_totals"]["acceptance"].update(settings)
    res = finsim.run(finsim.Scenario.from_dict(doc), replications=1, seed=1)
    table = res.table("acceptance").set_index("org")
    return table["accepted"].to_dict()


@pytest.mark.parametrize(("cost", "accepts"), [(5.9, True), (6.0, True), (6.1, False)])
def test_identical_bodies_flip_at_the_hand_threshold(cost, accepts):
    """Two identical trusts: surplus 2 without the offer, control total 4, so 2 of improvement
    (all delivered), then they pass and earn their whole allocation of 10 (performance
    certain). The change in position is 2 + 10 - 2 x cost: they accept up to cost = 6, and
    both decide alike."""
    assert decisions(cost) == {"a": accepts, "b": accepts}


def test_a_penalty_for_missing_turns_a_risky_body_away():
    """Delivering only 50% of the improvement, a trust ends at 3 < 4 and misses: no finance
    money (7 of 10) but its 3 of performance money; change 1 + 3 - 2 x 1 = 2 > 0, it accepts.
    Counting 2.5 for missing (financial special measures, loans at 6%) it rejects."""
    doc_accepts = decisions(1.0, delivery={"mean": 0.5, "sd": 0.0})
    assert doc_accepts == {"a": True, "b": True}
    assert decisions(1.0, delivery={"mean": 0.5, "sd": 0.0}, miss_penalty=2.5) == {
        "a": False,
        "b": False,
    }


def test_a_system_takes_an_option_only_if_every_member_does_unless_side_payments():
    """Two members: one gains 3, one loses 1 (certain). Without side payments the loser
    vetoes; sharing the system's gain of 2 by allocations 1:1 gives each +1: both accept."""
    delta = np.array([[[3.0, -1.0, 0.0]]])  # (P=1, F=1, A=3): a, b, their system s
    parent = np.array([2, 2, -1])
    member = np.zeros((3, 3))
    member[[0, 1, 2], 2] = 1.0  # a and b belong to s, which counts towards itself
    deciding = np.array([[True, True, False]])
    weights = np.array([[1.0, 1.0, 0.0]])
    value = offer_value(delta, 0.0, 1.0)
    no = system_decision(value, delta, parent, member, deciding, weights, False, 0.0, 1.0)
    yes = system_decision(value, delta, parent, member, deciding, weights, True, 0.0, 1.0)
    assert no.tolist() == [[False, False, False]]
    assert yes.tolist() == [[True, True, False]]


def test_most_ics_decline_both_system_options_for_every_seed():
    """Seed 002: most of the ten ICSs accepted neither the fully system-based option nor the
    interim one. With the behavioural rule and the real outside option (their own totals'
    funding), at most 4 of 10 systems take either, and the answer is the same for each of 8
    run seeds (the pilot's numbers are the scenario's, shared by every variant)."""
    base = finsim.load_scenario(ICS)
    answers = set()
    for seed in range(8):
        taken = []
        for variant in ("interim", "fully_system"):
            res = finsim.run(base.with_variant(variant), replications=2, seed=seed)
            table = res.table("acceptance").merge(
                res.economy.org_table()[["org", "system"]], on="org"
            )
            taken.append(int(table.groupby("system")["on_option"].all().sum()))
        assert taken[0] <= 4 and taken[1] <= 4, (seed, taken)
        answers.add(tuple(taken))
    assert len(answers) == 1, answers
