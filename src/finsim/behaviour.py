"""How NHS boards decide whether to take an offer: a behavioural model of acceptance.

A statutory body (a trust or a commissioner) offered a scheme (its control total with
sustainability funding tied to it, or a system option tying part of that funding to its
system's total) compares its whole financial position under the offer with the position it
would otherwise be in, its *status quo*, replication by replication of a pilot run (common
random numbers: both positions come from the same draws). With ``D`` the change in its
position (GBP m) in each pilot replication, the value of the offer is

    V = mean(phi(D)) - risk_aversion x sd(D),   phi(d) = d if d >= 0 else loss_aversion x d

and the body accepts when ``V >= 0`` (a tie accepts: to :data:`TIE`, GBP m). A body's position counts everything:
its surplus before incentives, the improvement it must deliver (at ``improvement_cost`` per
GBP of effort), the incentive money it would earn (the scheme's own rules, and the unearned
money redistributed to bodies that met their totals) and ``miss_penalty`` + ``miss_rate`` x
shortfall when it has accepted a total and misses it (the weight boards gave to financial
special measures, loans at 6% and the loss of capital access).

The status quo of the own-control-total offer is to reject it (no total, no funding). The
status quo of a system option is the own-control-total scheme, accepted or not as the body
itself would: declining a system option left a trust's own sustainability funding in place
(201 of 227 trusts accepted their own totals in 2018/19). A system takes a system option
only if every member would (each board can veto), unless ``side_payments`` lets the members
share the system's gain in proportion to their funding allocations, which is then part of
the option.

The functions here are pure numpy over ``(P, F, A)`` arrays; :mod:`finsim.decisions` runs
the pilot and calls them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Values this close to zero (GBP m) are a tie, which accepts: rounding does not decide.
TIE = 1e-9


def accepts(value: np.ndarray) -> np.ndarray:
    """Whether an offer of ``value`` is taken (ties accept)."""
    return value >= -TIE


def offer_value(delta: np.ndarray, risk_aversion: float, loss_aversion: float) -> np.ndarray:
    """``V`` of a change in position ``delta`` ``(P, ...)``: mean of the loss-averse value
    less ``risk_aversion`` standard deviations (population sd over the P replications)."""
    weighted = np.where(delta >= 0.0, delta, loss_aversion * delta)
    return weighted.mean(axis=0) - risk_aversion * delta.std(axis=0)


def position(
    before: np.ndarray,
    improvement: np.ndarray,
    delivered: np.ndarray,
    income: np.ndarray,
    total: np.ndarray,
    improvement_cost: float,
    miss_penalty: float,
    miss_rate: float,
) -> np.ndarray:
    """A body's position if it accepts an offer, ``(P, F, A)`` GBP m: its surplus before
    incentives raised by the improvement it delivers, plus the offer's ``income``, less the
    cost of the effort (``improvement_cost`` x the improvement asked) and, where it misses
    its ``total``, ``miss_penalty`` + ``miss_rate`` x the shortfall."""
    after = before + delivered
    shortfall = np.where(np.isnan(total), 0.0, np.maximum(np.nan_to_num(total) - after, 0.0))
    missed = shortfall > 1e-9
    penalty = np.where(missed, miss_penalty + miss_rate * shortfall, 0.0)
    return after + income - improvement_cost * improvement - penalty


def system_decision(
    value: np.ndarray,
    delta: np.ndarray,
    parent: np.ndarray,
    member: Any,
    deciding: np.ndarray,
    weights: np.ndarray,
    side_payments: bool,
    risk_aversion: float,
    loss_aversion: float,
) -> np.ndarray:
    """Whether each body's system takes a system option, ``(F, A)`` (the verdict of its
    system, for every account): every deciding member's ``value`` must be at least 0. With
    ``side_payments`` each member's change is instead its share (by ``weights`` ``(F, A)``,
    the funding allocations) of its system's total change, and it is valued so. ``parent``
    ``(A,)`` is each account's system account (-1: none; a body without a system decides
    alone) and ``member`` the matching incidence matrix (``economy.membership("system")``),
    ``deciding`` ``(F, A)`` the bodies with a total, ``delta`` ``(P, F, A)``."""

    def by_system(values: np.ndarray) -> np.ndarray:
        """Each system account given the sum over its members, ``values``' shape."""
        return np.asarray(values.reshape(-1, parent.size) @ member).reshape(values.shape)

    column = np.maximum(parent, 0)
    if side_payments:
        pooled = by_system(np.where(deciding, delta, 0.0))  # each system's total change
        w = np.where(deciding, weights, 0.0)
        w_system = by_system(w)[:, column]
        share = np.divide(w, w_system, out=np.zeros_like(w), where=w_system > 0)
        value = np.where(
            parent >= 0,
            offer_value(share * pooled[:, :, column], risk_aversion, loss_aversion),
            value,
        )
    says_no = by_system((deciding & ~accepts(value)).astype(float))  # members saying no
    return np.where(parent >= 0, says_no[:, column] == 0.0, accepts(value)) & deciding
