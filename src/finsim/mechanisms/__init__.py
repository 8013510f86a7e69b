"""The built-in mechanisms.

A :class:`finsim.system.System` holds them (``System.builtin()``); nothing is
registered on import. See :mod:`finsim.mechanisms.base` for the interface.
Mechanisms share arrays through ``ctx.state`` under declared names (``provides`` /
``requires``, :mod:`finsim.state`), and the order they act in within a phase
follows from those declarations: a provider before what needs it. Where two
mechanisms do not depend on each other, their ``order`` attribute keeps the order
they always had: allocations (10), tariff (20), activity (30), contracts (40),
mhis (45), elective recovery fund (46), cquin (50), disputes (60), commissioner reserves (63), risk share (64), control totals
(65), incentives (66), interventions (67), recovery fund and commissioner sustainability
fund (68), costs (70), savings (72), capital (78), pdc (79), transfers (80), deficit
support (85), covid (90); a user's mechanism defaults to 100.
"""

from finsim.mechanisms import (  # noqa: F401
    activity,
    allocations,
    capital,
    commissioner_funds,
    contracts,
    control_totals,
    costs,
    covid,
    cquin,
    deficit_support,
    disputes,
    erf,
    incentives,
    interventions,
    loans,
    mhis,
    pdc,
    recovery_fund,
    risk_share,
    savings,
    tariff,
    transfers,
)
