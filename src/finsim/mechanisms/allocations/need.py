"""Need, targets and places: how an allocation stream is shared among its holders.

``need_matrix`` is public: other mechanisms share money by need with it
(:mod:`finsim.mechanisms.transfers`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from finsim.economy import ORG_TYPES, Economy
from finsim.ledger import CATEGORIES, KINDS, RECURRENCE, scatter_add
from finsim.mechanisms.allocations.config import _GROUP_TYPE, Places, Stream
from finsim.mechanisms.base import Context
from finsim.mechanisms.pace import (
    meet_exactly,
)
from finsim.numeric import row_sum

if TYPE_CHECKING:
    pass


@dataclass
class StreamState:
    name: str
    config: Stream
    holders: np.ndarray  # (n,) account indices; empty for the centre
    need_share: np.ndarray  # (n,) each holder's share of need (sums to 1)
    population: np.ndarray  # (n,) population in the first year
    allocation: np.ndarray  # (R, n) this year's allocation
    total: np.ndarray  # (R,) this year's stream total
    primary: np.ndarray  # (n,) bool: recurrent adjustments of this kind join this stream
    place: np.ndarray | None = None  # (m,) commissioners receiving a place-based share
    place_system: np.ndarray | None = None  # (m,) position in ``holders`` of each place's system
    place_weight: np.ndarray | None = None  # (m,) population x need index
    place_index: np.ndarray | None = None  # (m,) the need index


def holders_of(economy: Economy, holder: str | list[str], centre: int) -> np.ndarray:
    if isinstance(holder, list):
        return economy.indices(holder)
    if holder == "centre":
        return np.array([centre], dtype=np.int64)
    return economy.of_type(_GROUP_TYPE[holder])


def need_matrix(ctx: Context, component: str) -> np.ndarray:
    """Each account's need on one basis, (A,): commissioners' values summed up the hierarchy."""
    economy = ctx.economy
    values = np.zeros(economy.n_accounts)
    for c in ctx.scenario.model.organisations.commissioners:  # type: ignore[attr-defined]
        if component == "population":
            v = c.population
        elif component == "weighted_population":
            v = c.weighted_population if c.weighted_population is not None else c.population
        else:
            v = (getattr(c, "weights", None) or {}).get(component, 0.0)
        values[economy.index(c.id)] = v
    # systems and regions hold the sum of their commissioners
    up = values @ economy.membership("system") + values @ economy.membership("region")
    own = np.isin(economy.org_type, [ORG_TYPES.index("system"), ORG_TYPES.index("region")])
    return np.where(own, up, values)


def need_share(ctx: Context, need: str | dict[str, float], holders: np.ndarray) -> np.ndarray:
    parts = {need: 1.0} if isinstance(need, str) else need
    share = np.zeros(holders.size)
    weight_sum = sum(parts.values())
    for component, weight in parts.items():
        values = need_matrix(ctx, component)[holders]
        total = values.sum()
        if total > 0:
            share += (weight / weight_sum) * values / total
        elif holders.size:
            share += (weight / weight_sum) / holders.size
    return share


def set_places(ctx: Context, s: StreamState, places: Places) -> None:
    """Need index of each commissioner within its system, as the place-based tool computes it:
    (place need / place population) / (system need / system population), the index rounded
    half-up to ``decimals``. With ``whole_people`` (the default, as the tool) the place's and
    the system's populations and needs are each summed, then rounded half-up to whole
    people, before dividing; without, the formula runs on the populations as given. Either
    way the index is :func:`finsim.data.need_index` with the same ``whole_people``."""
    from finsim.data import round_half_up

    economy = ctx.economy
    commissioners = economy.of_type("commissioner")
    position = {int(h): i for i, h in enumerate(s.holders)}
    in_stream = np.array([int(economy.system[c]) in position for c in commissioners], dtype=bool)
    place = commissioners[in_stream]
    system_pos = np.array([position[int(economy.system[c])] for c in place], dtype=np.int64)
    pop = need_matrix(ctx, "population")[place]
    need = need_matrix(ctx, places.need)[place]
    sys_pop = np.bincount(system_pos, pop, minlength=s.holders.size)
    sys_need = np.bincount(system_pos, need, minlength=s.holders.size)
    if places.whole_people:  # each total rounded, as the tool does, not summed when rounded
        pop, need, sys_pop, sys_need = (round_half_up(v) for v in (pop, need, sys_pop, sys_need))
    with np.errstate(all="ignore"):
        index = (need / pop) / (sys_need[system_pos] / sys_pop[system_pos])
    index = np.where(np.isfinite(index), index, 0.0)
    if places.decimals is not None:
        index = round_half_up(index, places.decimals)
    s.place, s.place_system, s.place_index, s.place_weight = (
        place,
        system_pos,
        index,
        pop * index,
    )


def place_amounts(s: StreamState, allocation: np.ndarray) -> np.ndarray:
    """Each place's share of its system's allocation, (R, m)."""
    assert s.place_system is not None and s.place_weight is not None
    totals = np.bincount(s.place_system, s.place_weight, minlength=s.holders.size)
    with np.errstate(all="ignore"):
        share = np.where(totals[s.place_system] > 0, s.place_weight / totals[s.place_system], 0.0)
    return allocation[:, s.place_system] * share


def target_of(s: StreamState) -> np.ndarray:
    """Each holder's target, ``(R, n)``: the stream total shared by need, adding up to the
    total exactly (:func:`finsim.mechanisms.pace.meet_exactly`)."""
    return meet_exactly(s.total[:, None] * s.need_share, s.total)


def at_average_growth(baseline: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Baselines grown by the stream's average growth: where each body would be with equal
    growth. Distance from target *before* pace of change is measured from here, so that a
    year of high growth does not make every body look under target."""
    base_total = row_sum(baseline, keepdims=True)
    with np.errstate(all="ignore"):
        factor = np.where(
            base_total > 0, total[:, None] / np.where(base_total > 0, base_total, 1.0), 1.0
        )
    return baseline * factor


_ALLOCATION_CATEGORIES = [
    CATEGORIES.index(c) for c in ("allocation", "capital_allocation", "reallocation")
]


def recurrent_receipts(ctx: Context, fy: int, kind: str) -> np.ndarray:
    """Net recurrent allocation-type money (allocation, capital_allocation, reallocation) of
    ``kind`` each account received in year ``fy``: ``(R, A)``."""
    table, amounts = ctx.ledger.flow_table()
    mask = (
        (table["fy"].to_numpy() == fy)
        & np.isin(table["category"].to_numpy(), _ALLOCATION_CATEGORIES)
        & (table["recurrence"].to_numpy() == RECURRENCE.index("recurrent"))
        & (table["kind"].to_numpy() == KINDS.index(kind))
    )
    out = np.zeros((ctx.R, ctx.economy.n_accounts))
    scatter_add(out, table["target"].to_numpy()[mask], amounts[:, mask])
    scatter_add(out, table["source"].to_numpy()[mask], -amounts[:, mask])
    return out
