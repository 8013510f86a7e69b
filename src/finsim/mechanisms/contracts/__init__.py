"""Contracts between commissioners and providers: accrued each month, reconciled at year end.

What it models (the NHS standard contract and national tariff; seeds 002, 004). Each
month every contract's income, and the matching cost of its commissioner, is *accrued* at
the contract's own rules for the activity done so far (:mod:`finsim.mechanisms.payment_rules`:
activity at tariff with the emergency marginal rate, block, the 2019/20 blended payment, the
aligned payment and incentive), as trusts and commissioners book it: the month's accrual is
the change in what the year's activity to date has earned, each reference (plan, target,
baseline) at its share of the year so far. Year-to-date positions are therefore right in
every month, and the twelfth month's accrual completes the annual rule. Commissioners pay a
twelfth of the plan's value *on account* in cash (recorded in ``res.table("contracts")`` as
``on_account``); the year-end ``reconciliation`` is the cash that settles the rest.

Postings are ``contract_payment`` (recurrent) from commissioner to provider: accruals. The
provider's reported case mix is the case mix the commissioner accepted (1 at the start)
raised by its coding drift; the difference is the *coding* component of what it bills. If a
commissioner has challenged a contract (``disputes.challenged``), the year-end
reconciliation withholds the disputed sum (the coding component, or the value above plan):
its accrual is reversed and it is published as ``contracts.withheld`` for
:mod:`finsim.mechanisms.disputes`, which settles it and, through ``contracts.accept``, may
move the accepted case mix or add to the plan's value (GBP m, grown with the tariff) for
following years. Under the marginal rate, the share of the retained price the tariff says is
reinvested is spent by the commissioner at year end (``mret_reinvestment``).

Each contract's year is reported in ``res.table("contracts")``: plan value, value due,
paid on account, withheld, the year-end reconciliation, and the price retained under the
marginal rate. Publishes ``contracts.activity_value`` ``(R, C)``, the month's activity at
tariff without coding drift (what the provider's variable costs follow), and
``contracts.accrued_ytd``; every slot it writes and reads is declared on :class:`Contracts`.

Under the Covid regime (:mod:`finsim.mechanisms.covid`, 2020/21-2021/22; V1, V2, C) a year
the ``covid`` section blocks is paid by its national block instead (``covid.blocks``, set a
year ahead): each month's block is accrued as it is paid, so nothing is billed, disputed,
retained under the marginal rate or settled at year end, and the plan's value is the
block's; activity is still counted (``contracts.activity_value``: costs follow it).

Contracts and disputes need each other within a year: disputes are built on the
contracts' arrays (they require them, so contracts act first), and contracts read
the challenges disputes made (at the review month's settlement phase) only at the
year-end reconciliation, a later phase: a ``later`` need, which orders nothing.
"""

from finsim.mechanisms.contracts.mechanism import Contracts
from finsim.mechanisms.contracts.rules import PER_MILLION, TYPES, Contract, plan_matrix

__all__ = ["PER_MILLION", "TYPES", "Contract", "Contracts", "plan_matrix"]
