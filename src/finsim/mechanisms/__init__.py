"""The built-in mechanisms.

Importing this package registers them; see :mod:`finsim.mechanisms.base` for the
interface and :func:`finsim.register_mechanism` to add your own. Within a phase,
mechanisms act in the order of their ``order`` attribute: allocations (10),
tariff (20), activity (30), contracts (40), cquin (50), disputes (60),
risk share (64), control totals (65), incentives (66), interventions (67), costs (70),
savings (72), capital (78), transfers (80); a user's mechanism defaults to 100.
"""

from finsim.mechanisms import (  # noqa: F401
    activity,
    allocations,
    capital,
    contracts,
    control_totals,
    costs,
    cquin,
    disputes,
    incentives,
    interventions,
    risk_share,
    savings,
    tariff,
    transfers,
)
