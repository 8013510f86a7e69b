"""Loans with interest: repayment schedules, the loan book, rollover and conversion to PDC."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import finsim
from finsim.mechanisms.loans import PROFILES, LoanBook, schedule

MIDLANDS = Path(__file__).resolve().parents[1] / "examples" / "regional_control_total_2019.yaml"


@pytest.fixture(scope="module")
def midlands_doc() -> dict:
    doc = finsim.load_scenario(MIDLANDS).to_data()
    doc.pop("variants", None)
    doc["scenario"]["years"] = 4
    return doc


def run_loans(doc: dict, replications: int = 1, **loans) -> finsim.Results:
    doc = copy.deepcopy(doc)
    doc["interventions"] = {"months": [3], "order": ["loans"], "loans": {"repay_years": 3, **loans}}
    return finsim.run(finsim.Scenario.from_dict(doc), replications=replications, seed=1)


def by_year(res: finsim.Results, category: str, org: str, side: str) -> dict[str, float]:
    flows = res.flows[(res.flows["category"] == category) & (res.flows[side] == org)]
    return (flows.groupby("fy")["amount"].sum() / res.replications).to_dict()


# -- schedules ---------------------------------------------------------------------------------


def test_annuity_of_10_at_1_5_percent_over_3_years():
    """10 at 1.5% over 3 years: payment 10 x 0.015 / (1 - 1.015^-3) = 0.15 / 0.043683 = 3.4338 a
    year; 3 x 3.4338 = 10.3015, so interest 0.3015 in all."""
    interest, repaid = schedule(10.0, 0.015, 3, "annuity")
    assert (interest + repaid).round(4).tolist() == [3.4338, 3.4338, 3.4338]
    assert interest.sum() == pytest.approx(0.3015, abs=5e-5)
    assert repaid.sum() == pytest.approx(10.0, abs=1e-12)


def test_straight_line_of_10_at_1_5_percent_over_3_years():
    """Principal 10/3 = 3.3333 a year; interest 1.5% of 10, 6.6667, 3.3333 = 0.15, 0.10, 0.05:
    payments 3.4833, 3.4333, 3.3833."""
    interest, repaid = schedule(10.0, 0.015, 3, "straight_line")
    assert (interest + repaid).round(4).tolist() == [3.4833, 3.4333, 3.3833]
    assert interest.round(4).tolist() == [0.15, 0.1, 0.05]


def test_bullet_of_10_at_1_5_percent_over_3_years():
    """Interest only, 1.5% of 10 = 0.15 a year, and the 10 with the last: 0.15, 0.15, 10.15."""
    interest, repaid = schedule(10.0, 0.015, 3, "bullet")
    assert (interest + repaid).round(4).tolist() == [0.15, 0.15, 10.15]


def test_schedules_are_vectorised_over_any_shape_of_principal():
    """A (2, 3) array of principals gives (2, 3, years) schedules, each the scalar's scaled:
    a loan of 20 pays twice a loan of 10 (annuity 6.8677 = 2 x 3.4338)."""
    principal = np.array([[10.0, 20.0, 0.0], [5.0, 10.0, 1.0]])
    interest, repaid = schedule(principal, 0.015, 3, "annuity")
    assert interest.shape == repaid.shape == (2, 3, 3)
    one, _ = schedule(10.0, 0.015, 3, "annuity")
    assert np.allclose(interest[0, 1], 2 * one) and np.allclose(interest[1, 1], one)
    assert np.allclose(repaid.sum(axis=-1), principal)


def test_straight_line_at_no_interest_is_the_old_equal_instalments_to_the_bit():
    """At rate 0 every straight-line instalment is principal / years, as before interest:
    10/3 = 3.3333 three times, with no interest."""
    interest, repaid = schedule(10.0, 0.0, 3, "straight_line")
    assert repaid.tolist() == [10.0 / 3] * 3 and not interest.any()


# -- the loan book -----------------------------------------------------------------------------


def test_a_borrower_in_deficit_rolls_its_instalment_over_and_interest_runs_on():
    """Two replications lend 9 at 10% over 3 straight-line years from year 0. In year 1 the
    first pays 3 (balance 6) and the second rolls over (balance 9, still 3 years to go). In
    year 2 interest is 10% of 6 = 0.6 and of 9 = 0.9; both pay 3."""
    book = LoanBook(0.10, 3, "straight_line")
    book.lend(0, np.array([5]), np.full((2, 1), 9.0), first_year_share=0.0)
    [(tranche, due)] = book.due(1)
    repaid, rolled = book.repay(tranche, due, np.array([[True], [False]]))
    assert repaid.ravel().tolist() == [3.0, 0.0] and rolled.ravel().tolist() == [0.0, 3.0]
    assert book.outstanding(6)[:, 5].tolist() == [6.0, 9.0]
    [(_, interest)] = book.interest(2)
    assert interest.ravel() == pytest.approx([0.6, 0.9])
    [(tranche, due)] = book.due(2)
    assert due.ravel().tolist() == [3.0, 3.0]
    assert tranche.years_left.ravel().tolist() == [2, 3]


def test_nothing_is_due_in_the_year_a_loan_is_made_and_interest_is_part_year():
    """A loan of 12 made after June (month 3) at 6% is charged 9/12 of a year's interest in
    its first year, 12 x 0.06 x 0.75 = 0.54, and falls due from the next year."""
    book = LoanBook(0.06, 2, "annuity")
    book.lend(0, np.array([1]), np.full((1, 1), 12.0), first_year_share=9 / 12)
    assert book.due(0) == []
    [(_, interest)] = book.interest(0)
    assert interest.item() == pytest.approx(0.54)


@settings(max_examples=200, deadline=None)
@given(
    principal=st.lists(st.floats(0.0, 1e4), min_size=1, max_size=4),
    rate=st.floats(0.0, 0.2),
    term=st.integers(1, 8),
    profile=st.sampled_from(PROFILES),
    pays=st.lists(st.lists(st.booleans(), min_size=4, max_size=4), min_size=10, max_size=10),
)
def test_repaid_plus_outstanding_is_the_principal_and_interest_is_never_negative(
    principal, rate, term, profile, pays
):
    """Whatever the principals, rate, term, profile and who rolls over, what has been repaid
    plus what is outstanding is what was lent, every year, and no interest is negative."""
    lent = np.array(principal)[None, :]
    n = lent.shape[1]
    book = LoanBook(rate, term, profile)
    book.lend(0, np.arange(n), lent, first_year_share=0.5)
    repaid_total = np.zeros_like(lent)
    for year in range(1, 11):
        for _, interest in book.interest(year):
            assert (interest >= 0).all()
        for tranche, due in book.due(year):
            assert (due >= -1e-9 * (1 + lent)).all()
            repaid, rolled = book.repay(tranche, due, np.array(pays[year - 1][:n])[None, :])
            repaid_total += repaid
            assert (rolled >= 0).all()
            if (tranche.years_left == 0).all():
                assert not tranche.balance.any()
        outstanding = book.outstanding(n)
        assert np.allclose(repaid_total + outstanding, lent, rtol=1e-9, atol=1e-9)


# -- in a run ----------------------------------------------------------------------------------


def test_interest_is_the_borrowers_revenue_cost_paid_to_the_centre(midlands_doc):
    """Shrewsbury and Telford borrows 5 in June (M3) of each year at 1.5%: 2019/20 interest is
    5 x 0.015 x 9/12 = 0.05625; 2020/21 adds a full year on the first loan, 0.075, so 0.13125;
    2021/22, the first loan a third repaid: 0.05 + 0.075 + 0.05625 = 0.18125; 2022/23, balances
    5/3, 10/3, 5 and the new loan: 0.025 + 0.05 + 0.075 + 0.05625 = 0.20625."""
    res = run_loans(midlands_doc, rate="1.5%")
    interest = by_year(res, "loan_interest", "sath", "source")
    assert interest == pytest.approx(
        {"2019/20": 0.05625, "2020/21": 0.13125, "2021/22": 0.18125, "2022/23": 0.20625}
    )
    flows = res.flows[res.flows["category"] == "loan_interest"]
    assert set(flows["target"]) == {"nhsei"} and (flows["kind"] == "revenue").all()
    sath = res.positions.set_index(["org", "fy"]).loc["sath"]
    assert sath.loc["2019/20", "surplus"] == pytest.approx(-15.05625)


def test_rate_zero_keeps_loans_free_and_repaid_in_equal_thirds(midlands_doc):
    """With the defaults (rate 0, straight line, no rollover): no interest, and 2022/23
    repays a third of each of three loans of 5: 5.0."""
    res = run_loans(midlands_doc)
    assert not (res.flows["category"] == "loan_interest").any()
    assert by_year(res, "loan_repayment", "sath", "source")["2022/23"] == pytest.approx(5.0)


def test_borrowers_in_deficit_roll_over_with_when_in_deficit(midlands_doc):
    """Shrewsbury and Telford is in deficit every year, so it repays nothing; each year's
    rollover is an event, and interest runs on the growing balance: 2022/23 interest is a full
    year on three loans of 5 plus 9/12 of a year on the fourth, 0.015 x (15 + 3.75) = 0.28125."""
    res = run_loans(midlands_doc, rate=0.015, rollover="when_in_deficit")
    assert by_year(res, "loan_repayment", "sath", "source") == {}
    rolled = res.events[(res.events["event"] == "loan_rollover") & (res.events["org"] == "sath")]
    assert rolled.groupby("fy")["amount"].sum().to_dict() == pytest.approx(
        {"2020/21": 5 / 3, "2021/22": 2 * 5 / 3, "2022/23": 3 * 5 / 3}
    )
    assert by_year(res, "loan_interest", "sath", "source")["2022/23"] == pytest.approx(0.28125)


def test_loans_convert_to_pdc_at_the_start_of_the_conversion_year(midlands_doc):
    """Converted at the start of 2021/22: Shrewsbury and Telford owes 5 + 5 - 5/3 = 8.3333,
    settled as pdc_conversion and issued back as PDC (no cash moves), and its 2021/22 support
    of 5 is PDC too, so 13.3333 of PDC that year; no loan, interest or repayment after."""
    res = run_loans(midlands_doc, rate=0.015, convert_to_pdc="2021/22")
    settled = by_year(res, "pdc_conversion", "sath", "source")
    assert settled == pytest.approx({"2021/22": 10 - 5 / 3})
    assert by_year(res, "pdc", "sath", "target") == pytest.approx(
        {"2021/22": 15 - 5 / 3, "2022/23": 5.0}
    )
    late = res.flows[res.flows["fy"].isin(["2021/22", "2022/23"])]
    assert not late["category"].isin(["loan", "loan_interest", "loan_repayment"]).any()
    assert (res.flows[res.flows["category"].str.startswith("pdc")]["kind"] == "capital").all()


def test_loans_are_the_same_whatever_the_chunk_size(midlands_doc):
    """Four replications run in chunks of 1 or 4 give the same loan flows to the bit."""
    doc = copy.deepcopy(midlands_doc)
    doc["interventions"] = {
        "months": [3],
        "order": ["rapid_savings", "loans"],
        "loans": {"rate": 0.035, "rollover": "when_in_deficit", "profile": "annuity"},
    }
    sc = finsim.Scenario.from_dict(doc)
    a = finsim.run(sc, replications=4, seed=2, chunk_size=1).flows
    b = finsim.run(sc, replications=4, seed=2, chunk_size=4).flows
    assert a.equals(b)


# -- settings ----------------------------------------------------------------------------------


def _loans_error(doc: dict, loans: dict) -> str:
    doc = copy.deepcopy(doc)
    doc["interventions"] = {"order": ["loans"], "loans": loans}
    with pytest.raises(finsim.ScenarioError) as caught:
        finsim.Scenario.from_dict(doc)
    return str(caught.value)


def test_a_rate_written_as_a_whole_percentage_is_refused_with_the_fix(midlands_doc):
    """A rate of 6 (meant 6%) names the field and says to write 0.06."""
    message = _loans_error(midlands_doc, {"rate": 6})
    assert "interventions.loans.rate" in message and "0.06" in message


def test_repay_years_and_term_years_are_one_setting(midlands_doc):
    """term_years: 2 is repay_years: 2; giving both is an error naming the section."""
    doc = copy.deepcopy(midlands_doc)
    doc["interventions"] = {"months": [3], "order": ["loans"], "loans": {"term_years": 2}}
    res = finsim.run(finsim.Scenario.from_dict(doc), replications=1, seed=1)
    assert by_year(res, "loan_repayment", "sath", "source")["2020/21"] == pytest.approx(2.5)
    message = _loans_error(midlands_doc, {"repay_years": 3, "term_years": 2})
    assert "interventions.loans" in message and "not both" in message


def test_an_unknown_profile_or_rollover_is_refused(midlands_doc):
    """profile 'balloon' and rollover 'always' are errors naming their fields."""
    assert "interventions.loans.profile" in _loans_error(midlands_doc, {"profile": "balloon"})
    assert "interventions.loans.rollover" in _loans_error(midlands_doc, {"rollover": "always"})
