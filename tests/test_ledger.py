"""The ledger: double entry, duplicate-safe aggregation, accruals, conservation checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from finsim.calendar import Calendar
from finsim.ledger import ConservationError, Ledger, scatter_add, sum_by_index


def make_ledger(R: int = 3, A: int = 5, keep_journal: bool = False) -> Ledger:
    return Ledger(Calendar(2018, 3, accounts_close_month=2), A, R, keep_journal)


@given(
    idx=hnp.arrays(np.int64, st.integers(1, 30), elements=st.integers(0, 6)),
    seed=st.integers(0, 2**32 - 1),
)
def test_scatter_add_sums_repeated_indices(idx, seed):
    """scatter_add equals np.add.at, including when an index repeats."""
    values = np.random.default_rng(seed).normal(size=(2, idx.size))
    dest = np.zeros((2, 7))
    scatter_add(dest, idx, values)
    expected = np.zeros((2, 7))
    np.add.at(expected, (slice(None), idx), values)
    assert np.allclose(dest, expected)


@settings(max_examples=60, deadline=None)
@given(
    idx=hnp.arrays(np.int64, st.integers(1, 80), elements=st.integers(0, 5)),
    rows=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_sums_by_index_are_the_same_bits_whatever_rows_share_the_array(idx, rows, seed):
    """Each row sums exactly as it would alone and as np.add.at does (in column order),
    whether an index repeats a little or a lot (more than the per-rank limit)."""
    values = np.random.default_rng(seed).normal(scale=1e3, size=(rows, idx.size))
    unique, sums = sum_by_index(idx, values)
    for r in range(rows):
        alone = sum_by_index(idx, values[r : r + 1])[1]
        assert np.array_equal(alone[0], sums[r])
    expected = np.zeros((unique.size, rows))
    np.add.at(expected, np.searchsorted(unique, idx), values.T)
    assert np.array_equal(sums, expected.T)


def test_posting_moves_money_between_two_accounts():
    """A posting takes from the source what it gives the target, per replication."""
    ledger = make_ledger()
    ledger.post(0, 2, np.array([1.0, 2.0, 3.0]), "funding")
    assert np.allclose(ledger.balance[:, 2], [1, 2, 3])
    assert np.allclose(ledger.balance[:, 0], [-1, -2, -3])
    ledger.check_conservation("test")


def test_many_postings_to_the_same_pair_aggregate_into_one_flow():
    """Postings with the same (year, source, target, category, recurrence, kind) share a flow column."""
    ledger = make_ledger()
    ledger.post(np.array([3, 3, 4]), np.array([2, 2, 2]), np.ones((3, 3)), "contract_payment")
    ledger.post(3, 2, np.ones(3), "contract_payment")
    keys, amounts = ledger.flow_table()
    assert len(keys) == 2
    row = keys.index[(keys["source"] == 3)].item()
    assert np.allclose(amounts[:, row], 3.0)
    ledger.check_conservation("test")


def test_recurrence_and_category_keep_flows_apart():
    """A recurrent and a non-recurrent posting between the same accounts are different flows."""
    ledger = make_ledger()
    ledger.post(0, 2, 1.0, "funding", "recurrent")
    ledger.post(0, 2, 1.0, "funding", "non_recurrent")
    keys, _ = ledger.flow_table()
    assert sorted(keys["recurrence"]) == [0, 1]


def test_a_settlement_for_last_year_is_booked_to_it_while_its_accounts_are_open():
    """Accruals: in May (M2) a posting for the previous year is booked to that year."""
    ledger = make_ledger(keep_journal=True)
    ledger.now = 13  # 2019/20 M2 (May)
    ledger.post(3, 4, 1.0, "dispute_settlement", "non_recurrent", fy=0)
    keys, _ = ledger.flow_table()
    assert keys["fy"].tolist() == [0]
    assert ledger.journal[-1].prior_year is False


def test_after_accounts_close_it_is_a_prior_year_item():
    """After the accounts close (end of M2), a posting for last year is booked in the current year."""
    ledger = make_ledger(keep_journal=True)
    ledger.now = 14  # 2019/20 M3 (June)
    ledger.post(3, 4, 1.0, "dispute_settlement", "non_recurrent", fy=0)
    keys, _ = ledger.flow_table()
    assert keys["fy"].tolist() == [1]
    assert ledger.journal[-1].prior_year is True


def test_cannot_book_to_a_future_year():
    """Posting into a year that has not started is refused."""
    ledger = make_ledger()
    with pytest.raises(ValueError, match="future"):
        ledger.post(0, 1, 1.0, "funding", fy=2)


def test_unknown_category_is_refused():
    """Only the documented vocabulary can be posted."""
    ledger = make_ledger()
    with pytest.raises(ValueError, match="unknown posting label"):
        ledger.post(0, 1, 1.0, "gift")


def test_non_finite_amounts_are_refused():
    """NaN or infinite money is a bug and stops the run."""
    ledger = make_ledger()
    with pytest.raises(ConservationError):
        ledger.post(0, 1, np.array([1.0, np.nan, 1.0]), "funding")


def test_conservation_check_catches_created_money():
    """If an account's balance changes outside a posting, the year-end check raises."""
    ledger = make_ledger()
    ledger.post(0, 2, 5.0, "funding")
    ledger.balance[1, 2] += 0.01
    with pytest.raises(ConservationError, match="replication 1"):
        ledger.check_conservation("2018/19 year end")


def test_conservation_check_catches_accumulators_that_disagree():
    """If a balance moved between accounts without a flow, the cross-check raises."""
    ledger = make_ledger()
    ledger.post(0, 2, 5.0, "funding")
    ledger.balance[0, 2] -= 1.0
    ledger.balance[0, 3] += 1.0
    with pytest.raises(ConservationError, match="account"):
        ledger.check_conservation("2018/19 year end")


def test_the_plan_cache_stays_within_its_budget(monkeypatch):
    """Index arrays seen once (a year end's flow table) are let go, least recently used
    first, so the cache holds at most its budget however many chunks a run has; plans in
    use survive and give the same sums."""
    from finsim import numeric as ledger  # the plan cache lives beside the sums it serves

    cache = ledger._PlanCache(budget=200_000)
    monkeypatch.setattr(ledger, "_PLANS", cache)
    rng = np.random.default_rng(0)
    values = rng.standard_normal((3, 2000))
    hot = rng.integers(0, 50, 2000)
    expected = sum_by_index(hot, values)
    for k in range(60):  # each a new index array: about 56 KB of plan and key
        sum_by_index(rng.integers(0, 500, 2000), values)
        assert cache.nbytes <= 200_000
        if k % 2 == 0:  # the hot plan is used every other time: never the oldest
            unique, sums = sum_by_index(hot, values)
            assert np.array_equal(unique, expected[0]) and np.array_equal(sums, expected[1])
    assert b"sum" + hot.tobytes() in cache.keys()
    assert len(cache) < 61


def test_cash_moves_with_a_posting_unless_accrued_and_pay_settles_it():
    """An accrual of 12 with cash=False changes balances, not cash; paying 5 on account and 7
    at year end brings cash level with the accrual. Cash sums to zero throughout."""
    ledger = Ledger(Calendar(2018, 1), n_accounts=4, replications=2)
    ledger.post(0, 1, 20.0, "funding")
    ledger.post(
        1,
        2,
        12.0,
        "contract_payment" if "contract_payment" in ledger.categories else "funding",
        cash=False,
    )
    np.testing.assert_allclose(ledger.balance[:, 2], 12.0)
    np.testing.assert_allclose(ledger.cash[:, 2], 0.0)
    ledger.pay(1, 2, 5.0)
    ledger.pay(1, 2, np.array([7.0, 7.0]))
    np.testing.assert_allclose(ledger.cash, ledger.balance)
    np.testing.assert_allclose(ledger.cash.sum(axis=1), 0.0)
    ledger.check_conservation("2018/19 year end")


def test_cash_that_does_not_balance_is_a_conservation_error():
    """Cash created from nothing is caught at the year-end check."""
    ledger = Ledger(Calendar(2018, 1), n_accounts=3, replications=1)
    ledger.post(0, 1, 5.0, "funding")
    ledger.unsettled[0, 2] -= 1.0  # one account has 1.0 more cash than anyone paid it
    with pytest.raises(ConservationError, match="cash does not balance"):
        ledger.check_conservation("2018/19 year end")
