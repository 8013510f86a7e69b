"""Calibration of the behavioural decisions to published counts (issue 17)."""

from __future__ import annotations

import pytest

from finsim import calibrate

SMALL = {"providers": 60, "commissioners": 30, "systems": 12, "regions": 3, "contracts": 300}
GRID = {"risk_aversion": (0.0, 0.25, 0.5, 1.0, 1.5, 2.5), "loss_aversion": (1.0, 2.0, 3.0)}


@pytest.fixture(scope="module")
def pops():
    return calibrate.populations(size=SMALL)


def test_the_targets_are_packaged_with_their_sources():
    """214/238, 212/234 and 201/227 trusts accepted; most of 10 ICSs took neither option."""
    targets = calibrate.published()
    counts = {t["fy"]: (t["accepted"], t["of"]) for t in targets["control_total_acceptance"]}
    assert counts == {"2016/17": (214, 238), "2017/18": (212, 234), "2018/19": (201, 227)}
    assert all(t["source"] and t["confidence"] in "CSU" for t in targets["back_tests"])
    assert targets["system_options"][0]["at_most"] == 4


@pytest.mark.parametrize("seed", [1, 2])
def test_the_fit_recovers_the_parameters_that_made_the_data(pops, seed):
    """Counts drawn from the model at risk aversion 1.0 and loss aversion 2.0: the true
    point lies in the fit's 95% region (within its stated uncertainty)."""
    truth = {"risk_aversion": 1.0, "loss_aversion": 2.0}
    data = calibrate.simulated_counts(pops, truth, seed)
    fit = calibrate.fit(data, GRID)
    assert truth in fit.region
    low, high = fit.intervals["risk_aversion"]
    assert low <= 1.0 <= high


def test_more_risk_aversion_means_fewer_acceptances(pops):
    """The synthetic share accepting its control total falls as risk aversion rises."""
    england = pops[0]
    shares = [england.share({"risk_aversion": r, "loss_aversion": 1.0}) for r in (0.0, 1.0, 3.0)]
    assert shares[0] >= shares[1] >= shares[2] and shares[0] > shares[2]


def test_back_tests_set_the_model_beside_outcomes_it_was_not_fitted_to():
    """Five outcomes, each a share in [0, 1] for the published figure and the model's, with
    its confidence mark; the 2017/18 fund's general distribution is 410 of 1,800."""
    table = calibrate.back_tests({"risk_aversion": 0.0}, replications=4, size=SMALL)
    assert len(table) == 5
    # (a share of the fund paid out can be 1 to the last bit of a float sum)
    assert table[["published", "model"]].apply(lambda c: c.between(0, 1 + 1e-12)).all().all()
    assert set(table["confidence"]) <= {"C", "S", "U"}
    row = table[table["what"].str.contains("general distribution")].iloc[0]
    assert row["published"] == pytest.approx(410 / 1800)


def test_the_bootstrap_interval_covers_the_parameter_that_made_the_data(pops):
    """Counts simulated at risk aversion 1.0, fitted, bootstrapped: the 95% percentile
    interval of risk aversion holds 1.0, and the same seed gives the same interval."""
    truth = {"risk_aversion": 1.0, "loss_aversion": 2.0}
    data = calibrate.simulated_counts(pops, truth, 3)
    fitted = calibrate.fit(data, GRID)
    intervals = calibrate.bootstrap(data, fitted, draws=100, seed=1)
    low, high = intervals["risk_aversion"]
    assert low <= 1.0 <= high
    assert intervals == calibrate.bootstrap(data, fitted, draws=100, seed=1)
