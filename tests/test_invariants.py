"""Invariants that hold in every economy with every mechanism switched on at once.

Random economies (tests/strategies_full.py) carry contracts of every type, coding drift,
CQUIN, disputes, control totals with incentive funds and risk shares, regional
interventions with loans, savings, capital bids and dated transfers. In every replication
and year: money is conserved; recurrent money is carried and one-off money is not; no
incentive reaches a body that did not accept its control total; withheld money is paid,
kept or still in dispute, never lost; loans are repaid on schedule; and every replication
is the same bits whatever the chunk size or the backend.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from hypothesis import event as hypothesis_event
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

import finsim
from finsim.ledger import with_role
from finsim.system import System

from .strategies_full import full_economies, fuzz_settings

OUTSIDE = ["treasury", "external"]
INCENTIVE_CATEGORIES = with_role(System.default().mechanisms.values(), "incentive")
ALLOCATION_CATEGORIES = ["allocation", "reallocation", "capital_allocation"]


def event(text: str) -> None:
    """Count ``text`` in hypothesis's statistics (when called from a hypothesis test)."""
    if currently_in_test_context():
        hypothesis_event(text)


def close(a: pd.Series | np.ndarray, b: pd.Series | np.ndarray, scale: float) -> bool:
    return bool(np.allclose(np.asarray(a, float), np.asarray(b, float), rtol=0, atol=1e-9 * scale))


def check_money_is_conserved(res: finsim.Results, replications: int, years: int) -> None:
    """NHS bodies' surpluses sum, in every replication and year, to the revenue that came in
    from the treasury and outside the NHS less what left; and each body's surplus is its own
    revenue in less out."""
    flows = res.flows[res.flows["kind"] == "revenue"]
    scale = 1.0 + flows["amount"].abs().sum()
    came_in = flows["source"].isin(OUTSIDE) & ~flows["target"].isin(OUTSIDE)
    went_out = flows["target"].isin(OUTSIDE) & ~flows["source"].isin(OUTSIDE)
    key = ["replication", "fy"]
    net_in = (
        flows[came_in]
        .groupby(key)["amount"]
        .sum()
        .sub(flows[went_out].groupby(key)["amount"].sum(), fill_value=0.0)
    )
    surplus = res.positions.groupby(key)["surplus"].sum()
    assert len(surplus) == replications * years
    joined = pd.concat([surplus, net_in], axis=1, keys=["surplus", "net_in"]).fillna(0.0)
    assert close(joined["surplus"], joined["net_in"], scale)

    received = flows.groupby(["replication", "fy", "target"])["amount"].sum()
    paid = flows.groupby(["replication", "fy", "source"])["amount"].sum()
    received.index.names = paid.index.names = ["replication", "fy", "org"]
    own = received.sub(paid, fill_value=0.0)
    positions = res.positions.set_index(["replication", "fy", "org"])["surplus"]
    own = own.reindex(positions.index, fill_value=0.0)
    assert close(positions, own, scale)


def check_recurrence(res: finsim.Results, doc: dict) -> None:
    """A commissioner's baseline each year is the recurrent allocation money it received, net,
    the year before (its allocation and recurrent re-allocations); one-off money is not in it.
    A recurrent transfer to a provider recurs, the same, every later year; a one-off does not."""
    flows = res.flows[res.flows["kind"] == "revenue"]
    recurrent = flows[
        (flows["recurrence"] == "recurrent") & flows["category"].isin(ALLOCATION_CATEGORIES)
    ]
    got = recurrent.groupby(["replication", "fy", "target"])["amount"].sum()
    gave = recurrent.groupby(["replication", "fy", "source"])["amount"].sum()
    got.index.names = gave.index.names = ["replication", "fy", "org"]
    net = got.sub(gave, fill_value=0.0)
    table = res.table("allocations")
    core = table[table["stream"] == "core"].set_index(["replication", "fy", "org"])
    labels = res.years
    scale = 1.0 + flows["amount"].abs().sum()
    for before, after in zip(labels, labels[1:], strict=False):
        baseline = core.xs(after, level="fy")["baseline"]
        index = pd.MultiIndex.from_tuples(
            [(r, before, org) for r, org in baseline.index], names=net.index.names
        )
        carried = net.reindex(index, fill_value=0.0)
        assert close(baseline, carried, scale), (after, baseline, carried)

    expected: dict[tuple[str, str], float] = {}
    for transfer in doc.get("transfers", []):
        if transfer["category"] != "teaching_uplift":  # (to a provider: no managed baseline)
            continue
        first = labels.index(transfer["at"]["fy"])
        last = None if transfer["recurrence"] == "recurrent" else first + 1
        for fy in labels[first:last]:
            where = (fy, transfer["to"])
            expected[where] = expected.get(where, 0.0) + transfer["amount"]
    uplifts = flows[flows["category"] == "teaching_uplift"]
    for replication in range(res.replications):
        mine = uplifts[uplifts["replication"] == replication]
        got = mine.groupby(["fy", "target"])["amount"].sum()
        got = {k: v for k, v in got.items() if v != 0.0}
        assert got == pytest.approx({k: v for k, v in expected.items() if v != 0.0})


def check_incentives_only_to_acceptors(res: finsim.Results) -> None:
    """No incentive money (payments, bonuses, general distribution) reaches a body that did not
    accept its control total for the year."""
    positions = res.positions
    earned = positions["incentive_earned"] != 0
    accepted = positions["accepted_control_total"] == 1
    assert not (earned & ~accepted).any(), positions[earned & ~accepted]
    flows = res.flows
    paid = flows[flows["category"].isin(INCENTIVE_CATEGORIES) & (flows["amount"] != 0)]
    decided = positions.set_index(["fy", "org"])["accepted_control_total"]
    decided = decided[~decided.index.duplicated()]
    for fy, org in zip(paid["fy"], paid["target"], strict=True):
        assert decided.get((fy, org)) == 1, (fy, org)
    if earned.any():
        event("incentives paid")


def check_withheld_money_is_never_lost(res: finsim.Results, doc: dict) -> None:
    """Every sum a commissioner withheld at a year end is settled (the provider paid its share,
    the commissioner keeping the rest) or still in dispute when the run ends: each disputed
    year's withheld sum appears once, in order, and the settlements paid are the flows."""
    if "disputes" not in res.table_names:
        return
    contracts = res.table("contracts")
    disputes = res.table("disputes")
    key = ["replication", "fy", "contract"]
    withheld = contracts.set_index(key)["withheld"]
    assert (withheld >= 0).all()
    # the year-end reconciliation pays what is due less what was paid on account and withheld
    # (a block contract is its value: nothing to reconcile)
    block = contracts["contract"].isin(
        [c["id"] for c in doc["contracts"] if c.get("type") == "block"]
    )
    due = contracts["due"] - contracts["on_account"] - contracts["withheld"]
    assert (contracts["reconciliation"][block] == 0).all()
    assert close(
        contracts["reconciliation"][~block], due[~block], 1.0 + contracts["due"].abs().sum()
    )
    challenged = disputes[disputes["challenged"] == 1].set_index(key)
    # the first rule: what was not challenged was not withheld
    unchallenged = withheld.drop(challenged.index, errors="ignore")
    assert (unchallenged == 0).all()

    settled = res.table("disputes_settled") if "disputes_settled" in res.table_names else None
    events = res.events
    open_at_end = events[events["event"] == "open_at_end"]
    for (replication, contract), rows in challenged.reset_index().groupby(
        ["replication", "contract"]
    ):
        sums = [withheld.loc[(replication, fy, contract)] for fy in rows["fy"]]
        done = (
            settled[(settled["replication"] == replication) & (settled["contract"] == contract)]
            if settled is not None
            else pd.DataFrame({"withheld": [], "settlement": [], "provider_share": []})
        )
        still_open = (
            (open_at_end["replication"] == replication) & (open_at_end["detail"] == contract)
        ).sum()
        # each disputed year ends once: settled (its withheld sum, to the bit) or still open
        assert len(done) + still_open == len(sums), (replication, contract)
        assert not Counter(done["withheld"]) - Counter(sums), (replication, contract)
        share = done["provider_share"].to_numpy()
        assert ((share >= 0) & (share <= 1)).all()
        np.testing.assert_allclose(done["settlement"], share * done["withheld"], rtol=0, atol=1e-12)
        if still_open:
            event("a dispute still open at the end")
    if settled is not None and len(settled):
        event("disputes settled")
        flows = res.flows[res.flows["category"] == "dispute_settlement"]
        paid = flows.groupby(["replication", "source"])["amount"].sum()
        due = settled.groupby(["replication", "org"])["settlement"].sum()
        due.index.names = paid.index.names
        assert close(paid.reindex(due.index, fill_value=0.0), due, 1.0 + due.abs().sum())


def check_loans_are_repaid(res: finsim.Results, doc: dict) -> None:
    """A loan made in one year is repaid in equal instalments at the end of each of the
    following ``repay_years`` years the run reaches: no more, no less."""
    flows = res.flows
    loans = flows[flows["category"] == "loan"]
    repaid = flows[flows["category"] == "loan_repayment"]
    if not len(loans):
        assert not len(repaid)
        return
    event("loans made")
    k = doc["interventions"]["loans"]["repay_years"]
    labels = res.years
    left = {fy: min(k, len(labels) - 1 - labels.index(fy)) / k for fy in labels}
    expected = (
        loans.assign(due=loans["amount"] * loans["fy"].map(left))
        .groupby(["replication", "target"])["due"]
        .sum()
    )
    got = repaid.groupby(["replication", "source"])["amount"].sum()
    got.index.names = expected.index.names
    assert close(got.reindex(expected.index, fill_value=0.0), expected, 1.0 + expected.abs().sum())
    assert (loans["kind"] == "capital").all() and (repaid["kind"] == "capital").all()


@fuzz_settings(normal=15, fuzz=120)
@given(doc=full_economies(), replications=st.integers(1, 4))
def test_every_invariant_holds_with_every_mechanism_on(doc, replications):
    """Generated economies with every mechanism: each invariant above, in every replication."""
    scenario = finsim.Scenario.from_dict(doc)
    res = finsim.run(scenario, replications=replications, seed=5, progress=False, keep_monthly=True)
    years = doc["scenario"]["years"]
    check_money_is_conserved(res, replications, years)
    check_cash_settles_to_the_accruals(res)
    check_recurrence(res, doc)
    check_incentives_only_to_acceptors(res)
    check_withheld_money_is_never_lost(res, doc)
    check_loans_are_repaid(res, doc)


def check_cash_settles_to_the_accruals(res: finsim.Results) -> None:
    """Cash moves apart from accruals in the year (contracts paid on account) but every
    year end settles it: each body's cash at the end of the run is everything it has been
    paid less everything it has paid (revenue and capital flows, whatever year they were
    booked to), in every replication. (Cash summing to zero over all accounts is checked
    by the ledger at every year end.)"""
    flows = res.flows
    scale = 1.0 + flows["amount"].abs().sum()
    received = flows.groupby(["replication", "target"])["amount"].sum()
    paid = flows.groupby(["replication", "source"])["amount"].sum()
    received.index.names = paid.index.names = ["replication", "org"]
    net = received.sub(paid, fill_value=0.0)
    last = res.monthly[(res.monthly["fy"] == res.years[-1]) & (res.monthly["month"] == 12)]
    cash = last.set_index(["replication", "org"])["cash"]
    assert close(cash, net.reindex(cash.index, fill_value=0.0), scale)


def by_replication(frame: pd.DataFrame) -> pd.DataFrame:
    columns = [c for c in ("replication", "fy", "month", "org", "contract", "stream") if c in frame]
    return frame.sort_values(columns, kind="stable").reset_index(drop=True)


def assert_same_run(a: finsim.Results, b: finsim.Results) -> None:
    pd.testing.assert_frame_equal(
        by_replication(a.positions), by_replication(b.positions), check_exact=True
    )
    pd.testing.assert_frame_equal(a.flows, b.flows, check_exact=True)
    pd.testing.assert_frame_equal(
        by_replication(a.events), by_replication(b.events), check_exact=True
    )
    assert a.table_names == b.table_names
    for name in a.table_names:
        pd.testing.assert_frame_equal(
            by_replication(a.table(name)), by_replication(b.table(name)), check_exact=True
        )
    pd.testing.assert_frame_equal(a.summary(), b.summary(), check_exact=True)


@fuzz_settings(normal=4, fuzz=20)
@given(doc=full_economies(), chunk_size=st.integers(1, 4))
def test_every_mechanism_gives_the_same_bits_in_any_chunk(doc, chunk_size):
    """With every mechanism on, replication r is identical to the last bit whatever the chunk
    size: positions, flows, events, every mechanism's table and the summary."""
    scenario = finsim.Scenario.from_dict(doc)
    whole = finsim.run(scenario, replications=5, seed=13, progress=False)
    chunked = finsim.run(scenario, replications=5, seed=13, chunk_size=chunk_size, progress=False)
    assert_same_run(whole, chunked)


@fuzz_settings(normal=1, fuzz=4)
@given(doc=full_economies())
def test_every_mechanism_gives_the_same_bits_on_worker_processes(doc):
    """With every mechanism on, chunks run on worker processes give exactly the serial run."""
    scenario = finsim.Scenario.from_dict(doc)
    serial = finsim.run(scenario, replications=6, seed=2, chunk_size=2, progress=False)
    procs = finsim.run(
        scenario,
        replications=6,
        seed=2,
        chunk_size=2,
        backend="processes",
        workers=2,
        progress=False,
    )
    assert_same_run(serial, procs)
