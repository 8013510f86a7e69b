"""Cash beside accruals on contracts, and the agreement of balances between the two sides.

A contract's income is accrued each month (:mod:`finsim.mechanisms.contracts`) but paid in
cash on account, a twelfth of the plan each month, and settled in cash at year end. Each side
keeps its own view of what the year's activity has earned: the provider its own, including
what the commissioner disputes; the commissioner its own, excluding it from the month it
challenged the contract (the coding above the case mix it accepts, or the value above plan).
The ledger's accrual (the amount both books show once the year closes) is the commissioner's
view: a disputed sum is withheld at the year-end reconciliation. The provider still holds it
as owed to it until the dispute is decided, when it is paid its share and writes off the
rest. The NHS's agreement-of-balances exercise compares the two sides' receivables and
payables at months 6, 9 and 12: :class:`Balances` records every contract's in
``res.table("balances")`` at those month ends, with the mismatch between them, and in every
other month the contracts whose two sides disagree.
"""

from __future__ import annotations

import numpy as np

from finsim.logs import TableLog

#: The month ends at which every contract's balances are recorded (the NHS's agreement of
#: balances exercise).
AGREEMENT_MONTHS = (6, 9, 12)


class Balances:
    """The sums in dispute each contract's two sides hold apart, and their balances.

    Built on the account ids and each contract's id, commissioner and provider (account
    indices, ``(C,)``); ``labels`` name each contract in the tables (its id, commissioner)."""

    def __init__(
        self,
        account_ids: tuple[str, ...],
        contract_ids: np.ndarray,
        commissioner: np.ndarray,
        provider: np.ndarray,
    ) -> None:
        self.provider = provider
        commissioners = np.array(account_ids, dtype=object)[commissioner]
        self.labels = {"contract": contract_ids, "commissioner": commissioners}
        #: sums withheld at each year's reconciliation and not yet decided, by year, (R, C)
        self.open: dict[int, np.ndarray] = {}

    def withheld(self, fy: int, amount: np.ndarray) -> None:
        """The year's disputed sums, withheld at its reconciliation: open until decided."""
        if amount.any():
            self.open[fy] = amount.copy()

    def decided(self, fy: int, mask: np.ndarray) -> None:
        """Disputes over year ``fy`` decided where ``mask``: paid their share, the rest
        written off by the provider; nothing of them is open any more."""
        if fy in self.open:
            self.open[fy] = np.where(mask, 0.0, self.open[fy])

    def record(
        self,
        records: TableLog,
        provider_view: np.ndarray,
        commissioner_view: np.ndarray,
        cash: np.ndarray,
    ) -> None:
        """Month-end balances per contract: what the provider holds as owed to it
        (``receivable``), what the commissioner holds as owing (``payable``), the cash paid
        this year (``cash``), and the ``mismatch`` between the two sides (the disputed sums): every
        contract at months 6, 9 and 12, those with a mismatch in other months."""
        earlier = sum(self.open.values(), np.zeros_like(cash))
        receivable = provider_view - cash + earlier
        payable = commissioner_view - cash
        month = records.now % 12 + 1
        mismatch = receivable - payable
        records.record(
            "balances",
            self.provider,
            self.labels,
            mask=None if month in AGREEMENT_MONTHS else np.abs(mismatch) > 1e-12,
            cash_paid=cash,
            receivable=receivable,
            payable=payable,
            mismatch=mismatch,
        )


def commissioner_view(
    earned: np.ndarray,
    challenged: np.ndarray | None,
    disputed: np.ndarray,
) -> np.ndarray:
    """The commissioner's view of a year's earned value to date, ``(R, C)``: the agreed
    value less the sum it disputes, on contracts it has challenged."""
    if challenged is None:
        return earned
    return earned - np.where(challenged, np.maximum(disputed, 0.0), 0.0)
