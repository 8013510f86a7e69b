"""Allocations: the national envelope, commissioning streams, targets and pace of change.

What it models (seed 001, NHS England's Fundamental Review of Allocations
Policy, 2013; seed 000 for recurrence): each financial year the national
revenue envelope is split into *streams* (CCG / ICB core services, primary
medical care, specialised commissioning, running costs, central programmes and
reserves, incentive funds). Each stream names who holds it: every commissioner,
the regions, the systems, named bodies, or the centre itself.

* **Funding**: the treasury funds the centre with the sum of the streams
  (``funding`` for revenue, ``capital_allocation`` for capital), at the start of
  the year.
* **Targets**: a holder's target is the stream total times its share of need,
  need being population, weighted population, or a mix of formula components
  (``need: {ga: 0.8, mental_health: 0.2}``); distance from target is
  (allocation - target) / target.
* **Pace of change** (:mod:`finsim.mechanisms.pace`): allocations move from the
  recurrent baseline toward target, growth clipped between floors and caps, the
  common growth solved so the stream total is met exactly.
  A stream's allocations, and its targets, add up to the stream exactly, to the
  last bit (:func:`finsim.mechanisms.pace.meet_exactly`), here and wherever a
  stream is shared by need.
* **Per-head streams** (running-cost allowances): GBP per head x population.
* **Recurrence**: a holder's baseline for next year is its allocation this
  year plus every *recurrent* net ``allocation`` / ``reallocation`` it received
  besides (a recurrent re-allocation carries; a non-recurrent one does not).
  That adjustment joins the first recurrent stream of the holder's kind.
* **Draw-down**: holders receive their allocation in twelve monthly
  instalments (``allocation`` / ``capital_allocation``); centre-held streams stay
  with the centre until another mechanism spends them.

The simple form ``opening`` + ``uplift`` (+ ``central_reserve``) is one
commissioner stream "core" growing by the uplift with equal growth for all,
and a non-recurrent centre-held stream "central_reserve".

Each stream reports a row per holder and year in ``res.table("allocations")``:
baseline, target, allocation, growth and distance from target before and after.


The package holds the section's models (:mod:`~finsim.mechanisms.allocations.config`),
need, targets and places (:mod:`~finsim.mechanisms.allocations.need`) and the mechanism
(:mod:`~finsim.mechanisms.allocations.mechanism`); every name is importable from here.
"""

from finsim.mechanisms.allocations.config import (
    AllocationsConfig,
    Band,
    HolderGroup,
    PacePolicy,
    Places,
    Stream,
)
from finsim.mechanisms.allocations.mechanism import Allocations
from finsim.mechanisms.allocations.need import (
    StreamState,
    at_average_growth,
    holders_of,
    need_matrix,
    need_share,
    place_amounts,
    recurrent_receipts,
    set_places,
    target_of,
)

# the names these had in the single module allocations.py
_StreamState = StreamState
_holders = holders_of
_need_matrix = need_matrix
_need_share = need_share
_target = target_of

# the mechanism's public home (documentation, and a class pickles by this name)
Allocations.__module__ = __name__

__all__ = [
    "Allocations",
    "AllocationsConfig",
    "Band",
    "HolderGroup",
    "PacePolicy",
    "Places",
    "Stream",
    "StreamState",
    "at_average_growth",
    "holders_of",
    "need_matrix",
    "need_share",
    "place_amounts",
    "recurrent_receipts",
    "set_places",
    "target_of",
]
