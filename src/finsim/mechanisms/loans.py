"""Loans with interest: repayment schedules and a book of loans outstanding, vectorised.

Schedules are pure functions (numpy only); a :class:`LoanBook` holds the loans outstanding
and posts, through the ledger it is handed, the interest and principal due each year: the
interventions' ``loans`` step (:mod:`finsim.mechanisms.interventions`) keeps one. A loan of principal ``P`` at annual rate ``r`` over ``n`` years is repaid on one of
three profiles:

* ``straight_line``: equal principal, ``P / n`` a year, with interest on the balance
  outstanding (so the payments fall year by year); with ``r = 0`` these are the equal
  instalments finsim has always used;
* ``annuity``: equal payments of ``P r / (1 - (1 + r)^-n)`` a year, interest first;
* ``bullet``: interest only, ``r P`` a year, and the whole principal in the last year.

Interest is a revenue cost of the borrower (category ``loan_interest``), principal a
capital movement (``loan_repayment``). The rates of interim revenue support, 2015/16 to
2019/20: 1.5% on longer-term loans, 3.5% on the revolving working-capital facility, 6% for
trusts in financial special measures (from 2016): Hansard written answer UIN 194777,
27 November 2018 (C); HFMA, 28 March 2018 (S). Such loans were rolled over more often than
repaid (S): a borrower in deficit at a year end may **roll over** the principal due, which
stays outstanding, its schedule moved a year later, while interest runs on. On 1 April 2020
about £13.4bn of trusts' debt was converted to public dividend capital (Health Foundation,
Sep 2020; HSJ, Apr 2020; S): :meth:`LoanBook.convert` settles every balance at once.

Every array of amounts is shaped like the principal lent: ``(R, n)`` in a run (replications
by borrowers), any shape in :func:`schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from finsim.events import EventLog
    from finsim.ledger import Ledger

Profile = Literal["annuity", "straight_line", "bullet"]
PROFILES: tuple[Profile, ...] = ("annuity", "straight_line", "bullet")


def principal_due(
    balance: np.ndarray,
    principal: np.ndarray,
    rate: float,
    years_left: np.ndarray,
    term: int,
    profile: Profile,
) -> np.ndarray:
    """The principal due this year on loans with ``balance`` outstanding and ``years_left``
    scheduled repayments to go (0: nothing more due), on ``profile``.

    ``principal`` and ``term`` are the loan's original amount and years: every straight-line
    instalment is ``principal / term``, bit for bit the equal instalments of finsim before
    interest (what a rounding leaves on the balance is dropped with the last); the last
    annuity or bullet payment is the whole balance.
    """
    balance = np.asarray(balance, dtype=np.float64)
    years = np.asarray(years_left)
    last = years == 1
    if profile == "straight_line":
        due = np.broadcast_to(np.asarray(principal, dtype=np.float64) / term, balance.shape)
    elif profile == "annuity":
        n = np.maximum(years, 1)
        # 1 - (1 + r)^-n, computed so that it is not 0 for the smallest rates
        factor = 1.0 / n if rate == 0 else rate / -np.expm1(-n * np.log1p(rate))
        payment = balance * factor
        due = payment - rate * balance
    elif profile == "bullet":
        due = np.zeros_like(balance)
    else:
        raise ValueError(f"unknown repayment profile {profile!r}; profiles are {PROFILES}")
    due = np.where(last & (profile != "straight_line"), balance, due)
    return np.where(years > 0, due, 0.0)


def schedule(
    principal: float | np.ndarray, rate: float, years: int, profile: Profile
) -> tuple[np.ndarray, np.ndarray]:
    """(interest, principal repaid) in each year of a loan taken at the start of year 1 and
    repaid on schedule: arrays shaped ``principal.shape + (years,)``.

    >>> interest, repaid = schedule(10.0, 0.015, 3, "bullet")
    >>> (interest + repaid).round(4).tolist()
    [0.15, 0.15, 10.15]
    """
    lent = np.asarray(principal, dtype=np.float64)
    balance = lent.copy()
    interest, repaid = [], []
    for k in range(years):
        left = np.full(lent.shape, years - k)
        due = principal_due(balance, lent, rate, left, years, profile)
        interest.append(rate * balance)
        repaid.append(due)
        balance = balance - due
    return np.stack(interest, axis=-1), np.stack(repaid, axis=-1)


@dataclass
class Tranche:
    """The loans made to a group of borrowers at one time: ``(R, n)`` arrays."""

    year: int  # the financial year (index) it was lent in
    borrowers: np.ndarray  # (n,) account indices
    principal: np.ndarray  # (R, n) lent
    balance: np.ndarray  # (R, n) outstanding
    years_left: np.ndarray  # (R, n) scheduled repayments still to come
    first_year_share: float  # share of a year's interest charged in the year it was lent


class LoanBook:
    """The loans outstanding, tranche by tranche, each an ``(R, n)`` balance.

    Each year end the mechanism keeping it asks :meth:`interest` (charged on every balance,
    rolled over or not) and :meth:`due`, then says who repays with :meth:`repay`. A loop
    runs over tranches (one per loan-making month), never over replications or borrowers.
    """

    def __init__(self, rate: float, term: int, profile: Profile) -> None:
        self.rate, self.term, self.profile = rate, term, profile
        self.tranches: list[Tranche] = []

    def lend(
        self, year: int, borrowers: np.ndarray, amount: np.ndarray, first_year_share: float
    ) -> None:
        """Add loans of ``amount`` (R, n) to ``borrowers`` made in ``year``; interest in that
        year is ``first_year_share`` of a year's (the months left after the loan, over 12)."""
        principal = np.asarray(amount, dtype=np.float64).copy()
        years = np.where(principal > 0, self.term, 0)
        self.tranches.append(
            Tranche(year, borrowers, principal, principal.copy(), years, first_year_share)
        )

    def outstanding(self, n_accounts: int) -> np.ndarray:
        """Each account's balance outstanding, ``(R, A)``."""
        R = self.tranches[0].balance.shape[0] if self.tranches else 1
        out = np.zeros((R, n_accounts))
        for t in self.tranches:
            out[:, t.borrowers] += t.balance  # a tranche's borrowers are distinct
        return out

    def interest(self, year: int) -> list[tuple[Tranche, np.ndarray]]:
        """The interest each tranche charges for ``year``, ``(R, n)``, on its balance."""
        out = []
        for t in self.tranches:
            share = t.first_year_share if t.year == year else 1.0
            if t.year <= year and share > 0 and t.balance.any():
                out.append((t, self.rate * share * t.balance))
        return out

    def due(self, year: int) -> list[tuple[Tranche, np.ndarray]]:
        """The principal each tranche has due at the end of ``year`` (from the year after it
        was lent), ``(R, n)``."""
        out = []
        for t in self.tranches:
            if t.year < year and t.years_left.any():
                due = principal_due(
                    t.balance, t.principal, self.rate, t.years_left, self.term, self.profile
                )
                out.append((t, due))
        return out

    @staticmethod
    def repay(tranche: Tranche, due: np.ndarray, pays: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Settle a year's ``due`` where the borrower ``pays`` (R, n); elsewhere roll it over.

        Return (repaid, rolled over), each ``(R, n)``. A repayment (or a year with nothing
        due) moves the schedule on a year; a rollover leaves balance and schedule as they
        were, so the instalment falls due again next year.
        """
        active = tranche.years_left > 0
        rolled = np.where(active & (due > 0) & ~pays, due, 0.0)
        repaid = np.where(active & (rolled == 0), due, 0.0)
        tranche.balance = tranche.balance - repaid
        tranche.years_left = tranche.years_left - (active & (rolled == 0))
        tranche.balance = np.where(tranche.years_left > 0, tranche.balance, 0.0)
        return repaid, rolled

    def convert(self) -> list[tuple[Tranche, np.ndarray]]:
        """Settle every balance at once (converted to public dividend capital): return what
        each tranche had outstanding, ``(R, n)``, and empty the book."""
        out = [(t, t.balance) for t in self.tranches if t.balance.any()]
        self.tranches = []
        return out

    # -- posting: what the mechanism keeping the book calls --------------------------------
    def charge_interest(self, ledger: Ledger, year: int, lender: int) -> None:
        """Post ``year``'s interest on every balance, rolled over or not: a revenue cost of
        the borrower paid to ``lender`` (``loan_interest``, non-recurrent)."""
        for tranche, interest in self.interest(year):
            ledger.post(tranche.borrowers, lender, interest, "loan_interest", "non_recurrent")

    def year_end(
        self, ledger: Ledger, events: EventLog, year: int, lender: int, rollover: bool
    ) -> None:
        """Post the principal due at the end of ``year`` (``loan_repayment``, kind capital).
        With ``rollover``, a borrower whose year-to-date surplus is below zero repays none of
        it (event ``loan_rollover``): the balance stays outstanding and the schedule moves."""
        ytd = ledger.year_to_date()
        for tranche, due in self.due(year):
            pays = np.broadcast_to((not rollover) | (ytd[:, tranche.borrowers] >= 0.0), due.shape)
            repaid, rolled = self.repay(tranche, due, pays)
            ledger.post(
                tranche.borrowers, lender, repaid, "loan_repayment", "non_recurrent", "capital"
            )
            events.record(
                tranche.borrowers, "loan_repayment", "", repaid > 0, repaid, detailed=True
            )
            events.record(tranche.borrowers, "loan_rollover", "in deficit", rolled > 0, rolled)

    def convert_to_pdc(self, ledger: Ledger, events: EventLog, lender: int) -> None:
        """Settle every loan by converting it to public dividend capital: the borrower's debt
        is settled (``pdc_conversion``) and PDC of the same amount issued (``pdc``), both kind
        capital, so no cash moves and the borrower's PDC rises by its debt."""
        for tranche, balance in self.convert():
            borrowers = tranche.borrowers
            ledger.post(borrowers, lender, balance, "pdc_conversion", "non_recurrent", "capital")
            ledger.post(lender, borrowers, balance, "pdc", "non_recurrent", "capital")
            events.record(
                borrowers, "pdc_conversion", "loan converted to PDC", balance > 0, balance
            )
