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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from finsim.economy import ORG_TYPES, TREASURY, Economy
from finsim.errors import ScenarioError, did_you_mean
from finsim.ledger import CATEGORIES, KINDS, RECURRENCE, scatter_add
from finsim.mechanisms.base import Context, Mechanism
from finsim.mechanisms.pace import (
    Bounds,
    InfeasiblePolicy,
    distance_from_target,
    meet_exactly,
    solve_common_growth,
)
from finsim.numeric import row_sum
from finsim.registry import register_mechanism
from finsim.scenario.models import Id, Money, StrictModel
from finsim.scenario.params import (
    Growth,
    GrowthLimitByYear,
    MoneyByYear,
    PriceByYear,
    RateByYear,
    ShareByYear,
)
from finsim.scenario.units import RATE, WHOLE, Weight
from finsim.scenario.validate import References

HolderGroup = Literal["commissioners", "regions", "systems", "centre"]
_GROUP_TYPE = {"commissioners": "commissioner", "regions": "region", "systems": "system"}


class Band(StrictModel):
    """Floor and cap for bodies whose distance from target lies in (above, at_most]."""

    above: Annotated[float, RATE(ge=-1)] | None = Field(
        default=None,
        description="distance from target above this (0.10: more than 10% over target)",
    )
    at_most: Annotated[float, RATE(ge=-1)] | None = Field(
        default=None, description="distance from target at most this (-0.05: 5% under)"
    )
    floor: GrowthLimitByYear | None = Field(
        default=None, description="minimum cash growth of bodies in the band"
    )
    cap: GrowthLimitByYear | Literal["floor"] | None = Field(
        default=None,
        description="a growth cap, or 'floor' for 'floor growth only' (needs a floor: the "
        "band's, or the pace of change's)",
    )


class PacePolicy(StrictModel):
    """How fast allocations move toward target (see finsim.mechanisms.pace)."""

    convergence: RateByYear = Field(
        default_factory=lambda: RateByYear.constant(0.0),
        description="k: extra growth per unit of gap below target (0 = equal growth)",
    )
    floor: GrowthLimitByYear | None = Field(
        default=None, description="minimum cash growth, e.g. 0.0214"
    )
    cap: GrowthLimitByYear | None = Field(
        default=None, description="maximum cash growth, e.g. 0.049"
    )
    min_per_capita_growth: GrowthLimitByYear | None = Field(
        default=None, description="minimum growth per head (with population growth)"
    )
    max_below_target: ShareByYear | None = Field(
        default=None, description="no body more than this under target after allocation (0.05)"
    )
    bands: list[Band] = Field(
        default_factory=list, description="floors and caps by distance from target"
    )
    converge_only: bool = Field(
        default=False,
        description="no body moves away from target: bodies under target grow at least as fast as "
        "the stream but not past target; bodies over target at most as fast but not below it",
    )


class Places(StrictModel):
    """Place-based sub-allocation of a system's allocation to its commissioners (places)."""

    need: str = Field(
        default="weighted_population", description="the need basis of the index (a component name)"
    )
    decimals: Annotated[int, WHOLE(le=12)] | None = Field(
        default=3,
        description="the index is rounded half-up to this many places (none: not rounded)",
    )
    whole_people: bool = Field(
        default=True,
        description="round each place's and each system's population and need to whole people "
        "(half-up) before dividing, as NHS England's tool does; false: the formula on unrounded "
        "populations",
    )


class Stream(StrictModel):
    """One commissioning stream: its size, who holds it, and how it is shared."""

    holder: HolderGroup | list[Id] = Field(
        default="commissioners", description="who holds the stream: a group, or a list of ids"
    )
    amount: MoneyByYear | None = Field(default=None, description="stream total, GBP m")
    share: ShareByYear | None = Field(default=None, description="share of the national envelope")
    growth: Growth | None = Field(
        default=None, description="growth over last year's recurrent baseline (from the 2nd year)"
    )
    per_head: PriceByYear | None = Field(
        default=None, description="GBP per head of population (running-cost allowances)"
    )
    need: str | dict[str, Weight] = Field(
        default="weighted_population",
        description="'population', 'weighted_population', a component name, or {component: share}",
    )
    opening: dict[str, Money] | None = Field(
        default=None, description="each holder's allocation in the first simulated year, GBP m"
    )
    pace: PacePolicy | None = Field(
        default=None, description="pace of change (default: equal growth)"
    )
    recurrence: Literal["recurrent", "non_recurrent"] = Field(
        default="recurrent", description="whether this year's allocation is next year's baseline"
    )
    kind: Literal["revenue", "capital"] = Field(
        default="revenue", description="revenue or capital money"
    )
    places: Places | None = Field(
        default=None,
        description="systems-held streams: pass each system's allocation on to its commissioners "
        "by population x need index, as NHS England's place-based allocation tool",
    )

    @model_validator(mode="after")
    def _one_size(self) -> Stream:
        sizes = [
            n for n in ("amount", "share", "growth", "per_head") if getattr(self, n) is not None
        ]
        if len(sizes) > 1:
            raise ValueError(
                f"give one of amount, share, growth or per_head, not {' and '.join(sizes)}"
            )
        if not sizes and self.opening is None:
            raise ValueError(
                "give the stream's size: amount, share, growth or per_head (or opening)"
            )
        return self


class AllocationsConfig(StrictModel):
    """How the national envelope reaches commissioners (see the module docstring)."""

    envelope: MoneyByYear | None = Field(
        default=None, description="national revenue envelope, GBP m (for streams given as a share)"
    )
    population_growth: Growth = Field(
        default_factory=lambda: Growth.constant(0.0),
        description="growth of every population into each year (for per-head figures)",
    )
    streams: dict[Id, Stream] | None = Field(
        default=None, description="the commissioning streams by name (or use the simple form)"
    )
    # the simple form
    opening: dict[str, Money] | None = Field(
        default=None, description="simple form: each commissioner's first-year allocation, GBP m"
    )
    uplift: Growth | None = Field(
        default=None, description="simple form: growth of the recurrent baseline into each year"
    )
    central_reserve: MoneyByYear | None = Field(
        default=None,
        description="simple form: funding the centre holds each year, GBP m (non-recurrent)",
    )

    @model_validator(mode="after")
    def _one_form(self) -> AllocationsConfig:
        simple = (
            self.opening is not None or self.uplift is not None or self.central_reserve is not None
        )
        if self.streams is not None and simple:
            raise ValueError(
                "give either streams or the simple form (opening, uplift, central_reserve)"
            )
        if self.streams is None and self.opening is None:
            raise ValueError("give streams, or opening allocations for the simple form")
        return self

    def all_streams(self) -> dict[str, Stream]:
        """The streams, with the simple form expressed as streams."""
        if self.streams is not None:
            return dict(self.streams)
        streams = {
            "core": Stream(
                holder="commissioners",
                growth=self.uplift or Growth.constant(0.0),
                opening=self.opening,
            )
        }
        if self.central_reserve is not None:
            streams["central_reserve"] = Stream(
                holder="centre", amount=self.central_reserve, recurrence="non_recurrent"
            )
        return streams


@dataclass
class _StreamState:
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


def _holders(economy: Economy, holder: str | list[str], centre: int) -> np.ndarray:
    if isinstance(holder, list):
        return economy.indices(holder)
    if holder == "centre":
        return np.array([centre], dtype=np.int64)
    return economy.of_type(_GROUP_TYPE[holder])


def _need_matrix(ctx: Context, component: str) -> np.ndarray:
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


def _need_share(ctx: Context, need: str | dict[str, float], holders: np.ndarray) -> np.ndarray:
    parts = {need: 1.0} if isinstance(need, str) else need
    share = np.zeros(holders.size)
    weight_sum = sum(parts.values())
    for component, weight in parts.items():
        values = _need_matrix(ctx, component)[holders]
        total = values.sum()
        if total > 0:
            share += (weight / weight_sum) * values / total
        elif holders.size:
            share += (weight / weight_sum) / holders.size
    return share


@register_mechanism
class Allocations(Mechanism):
    """Streams, targets, pace of change and monthly draw-down of allocations."""

    section = "allocations"
    order = 10
    Config = AllocationsConfig
    config: AllocationsConfig

    def __init__(self, config: AllocationsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        population = _need_matrix(ctx, "population")
        self.streams: list[_StreamState] = []
        seen_primary: set[tuple[str, int]] = set()
        for name, stream in config.all_streams().items():
            holders = _holders(economy, stream.holder, self.centre)
            primary = np.zeros(holders.size, dtype=bool)
            if stream.recurrence == "recurrent" and stream.holder != "centre":
                for i, h in enumerate(holders):
                    if (stream.kind, int(h)) not in seen_primary:
                        seen_primary.add((stream.kind, int(h)))
                        primary[i] = True
            self.streams.append(
                _StreamState(
                    name=name,
                    config=stream,
                    holders=holders,
                    need_share=_need_share(ctx, stream.need, holders),
                    population=population[holders],
                    allocation=np.zeros((ctx.R, holders.size)),
                    total=np.zeros(ctx.R),
                    primary=primary,
                )
            )
            if stream.places is not None:
                self._set_places(ctx, self.streams[-1], stream.places)
        self.population_factor = 1.0
        #: accounts whose recurrent baseline this mechanism manages, by kind
        ctx.state["allocations.holders"] = {
            kind: np.array(sorted(h for k, h in seen_primary if k == kind), dtype=np.int64)
            for kind in KINDS
        }
        ctx.state["allocations.streams"] = {s.name: s for s in self.streams}

    def _set_places(self, ctx: Context, s: _StreamState, places: Places) -> None:
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
        in_stream = np.array(
            [int(economy.system[c]) in position for c in commissioners], dtype=bool
        )
        place = commissioners[in_stream]
        system_pos = np.array([position[int(economy.system[c])] for c in place], dtype=np.int64)
        pop = _need_matrix(ctx, "population")[place]
        need = _need_matrix(ctx, places.need)[place]
        sys_pop = np.bincount(system_pos, pop, minlength=s.holders.size)
        sys_need = np.bincount(system_pos, need, minlength=s.holders.size)
        if places.whole_people:  # each total rounded, as the tool does, not summed when rounded
            pop, need, sys_pop, sys_need = (
                round_half_up(v) for v in (pop, need, sys_pop, sys_need)
            )
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

    def _place_amounts(self, s: _StreamState, allocation: np.ndarray) -> np.ndarray:
        """Each place's share of its system's allocation, (R, m)."""
        assert s.place_system is not None and s.place_weight is not None
        totals = np.bincount(s.place_system, s.place_weight, minlength=s.holders.size)
        with np.errstate(all="ignore"):
            share = np.where(
                totals[s.place_system] > 0, s.place_weight / totals[s.place_system], 0.0
            )
        return allocation[:, s.place_system] * share

    @classmethod
    def check(cls, config: AllocationsConfig, refs: References) -> None:
        if config.opening is not None:
            for org_id in config.opening:
                refs.org(("allocations", "opening", org_id), org_id, ("commissioner",))
        for name, stream in (config.streams or {}).items():
            path = ("allocations", "streams", name)
            kinds = ("commissioner", "region", "system", "centre")
            if isinstance(stream.holder, list):
                for i, org_id in enumerate(stream.holder):
                    refs.org(path + ("holder", i), org_id, kinds)
            for org_id in stream.opening or {}:
                refs.org(path + ("opening", org_id), org_id, kinds)
            if stream.share is not None and config.envelope is None:
                refs.add(path + ("share",), "a stream given as a share needs allocations.envelope")
            if stream.growth is not None and stream.opening is None:
                refs.add(path + ("opening",), "a stream given by growth needs opening allocations")
            if stream.pace is not None:
                _check_floor_only_bands(stream.pace, path + ("pace",), refs)
            if isinstance(stream.need, dict) and stream.need and not any(stream.need.values()):
                refs.add(path + ("need",), "the component shares are all 0: give one a share")
            if stream.places is not None and stream.holder != "systems":
                refs.add(path + ("places",), "place-based sub-allocation needs holder: systems")
            if stream.places is not None and stream.places.need not in {
                "population",
                "weighted_population",
            } | _components(refs):
                refs.add(path + ("places", "need"), f"unknown need basis '{stream.places.need}'")
            if stream.holder == "centre" and stream.pace is not None:
                refs.add(
                    path + ("pace",),
                    "the centre holds the whole stream: pace of change does not apply",
                )
            allowed = {"population", "weighted_population"} | _components(refs)
            needs = [stream.need] if isinstance(stream.need, str) else list(stream.need)
            for component in needs:
                if component not in allowed:
                    refs.add(
                        path + ("need",),
                        f"unknown need basis '{component}'; expected one of {', '.join(sorted(allowed))}",
                        did_you_mean(component, allowed),
                    )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"year_start": self.set_year, "allocation": self.draw_down}

    # -- the year's allocations ------------------------------------------------------------
    def set_year(self, ctx: Context) -> None:
        """Set each stream's total and allocations for the year, and fund the centre."""
        year = ctx.fy_start_year
        if ctx.fy > 0:
            self.population_factor *= 1.0 + self.config.population_growth.at(year)
            adjustments = {kind: self._recurrent_adjustment(ctx, kind) for kind in KINDS}
        for s in self.streams:
            if ctx.fy == 0:
                self._first_year(ctx, s)
            else:
                self._next_year(ctx, s, adjustments[s.config.kind])
            category = "funding" if s.config.kind == "revenue" else "capital_allocation"
            ctx.ledger.post(
                TREASURY, self.centre, s.total, category, s.config.recurrence, s.config.kind
            )

    def _first_year(self, ctx: Context, s: _StreamState) -> None:
        c = s.config
        year = ctx.fy_start_year
        if c.opening is not None:
            ids = ctx.economy.ids
            if c.holder == "centre":  # the centre holds it all, whatever id the file used
                opening = np.array([sum(c.opening.values())])
            else:
                opening = np.array([c.opening.get(ids[h], 0.0) for h in s.holders])
            s.allocation[:] = opening
            s.total[:] = opening.sum()
        else:
            s.total[:] = self._size(ctx, s, year, baseline_total=None)
            s.allocation[:] = self._per_head(s, year) if c.per_head is not None else _target(s)
        self._report(ctx, s, baseline=s.allocation.copy())

    def _next_year(self, ctx: Context, s: _StreamState, adjustment: np.ndarray) -> None:
        c = s.config
        year = ctx.fy_start_year
        baseline = s.allocation.copy()
        if c.recurrence == "non_recurrent":
            baseline[:] = 0.0
        baseline += adjustment[:, s.holders] * s.primary
        s.total[:] = self._size(ctx, s, year, baseline_total=row_sum(baseline))
        if s.holders.size == 0:  # held by nobody (an empty list): the centre keeps it
            pass
        elif c.per_head is not None:
            s.allocation[:] = self._per_head(s, year)
        elif c.recurrence == "non_recurrent":  # no baseline: shared at target each year
            s.allocation[:] = _target(s)
        elif s.holders.size == 1:
            s.allocation[:] = s.total[:, None]
        else:
            s.allocation[:] = self._pace(ctx, s, baseline, year)
        self._report(ctx, s, baseline)

    def _size(
        self, ctx: Context, s: _StreamState, year: int, baseline_total: np.ndarray | None
    ) -> np.ndarray:
        c = s.config
        if c.amount is not None:
            return np.full(ctx.R, c.amount.at(year))
        if c.share is not None:
            assert self.config.envelope is not None
            return np.full(ctx.R, c.share.at(year) * self.config.envelope.at(year))
        if c.per_head is not None:
            return np.full(ctx.R, self._per_head(s, year).sum())
        assert baseline_total is not None  # growth, or opening alone (no growth)
        growth = c.growth.at(year) if c.growth is not None else 0.0
        return baseline_total * (1.0 + growth)

    def _per_head(self, s: _StreamState, year: int) -> np.ndarray:
        assert s.config.per_head is not None
        return s.config.per_head.at(year) * s.population * self.population_factor / 1e6

    def _pace(self, ctx: Context, s: _StreamState, baseline: np.ndarray, year: int) -> np.ndarray:
        policy = s.config.pace or PacePolicy()
        target = _target(s)
        n = s.holders.size
        floor = np.full((ctx.R, n), -np.inf)
        cap = np.full((ctx.R, n), np.inf)
        if policy.floor is not None:
            floor[:] = policy.floor.at(year)
        if policy.cap is not None:
            cap[:] = policy.cap.at(year)
        distance = distance_from_target(at_average_growth(baseline, s.total), target)
        for band in policy.bands:
            inside = np.ones_like(distance, dtype=bool)
            if band.above is not None:
                inside &= distance > band.above
            if band.at_most is not None:
                inside &= distance <= band.at_most
            if band.floor is not None:
                floor = np.where(inside, band.floor.at(year), floor)
            if band.cap == "floor":
                cap = np.where(inside, floor, cap)
            elif band.cap is not None:
                cap = np.where(inside, band.cap.at(year), cap)
        growth_pop = self.config.population_growth.at(year)
        if policy.min_per_capita_growth is not None:
            per_head = (1.0 + policy.min_per_capita_growth.at(year)) * (1.0 + growth_pop) - 1.0
            floor = np.maximum(floor, per_head)
        if policy.max_below_target is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                needed = np.where(
                    baseline > 0,
                    (1.0 - policy.max_below_target.at(year))
                    * target
                    / np.where(baseline > 0, baseline, 1.0)
                    - 1.0,
                    -np.inf,
                )
            floor = np.maximum(floor, needed)
        if policy.converge_only:
            average = at_average_growth(baseline, s.total)
            with np.errstate(all="ignore"):
                stream_growth = np.where(
                    baseline > 0, average / np.where(baseline > 0, baseline, 1.0) - 1.0, 0.0
                )
                to_target = np.where(
                    baseline > 0, target / np.where(baseline > 0, baseline, 1.0) - 1.0, 0.0
                )
            under = average < target
            floor = np.where(under, np.maximum(floor, stream_growth), np.maximum(floor, to_target))
            cap = np.where(under, np.minimum(cap, to_target), np.minimum(cap, stream_growth))
        try:
            growth, _ = solve_common_growth(
                baseline, target, s.total, policy.convergence.at(year), Bounds(floor, cap)
            )
        except InfeasiblePolicy as exc:
            raise ScenarioError.single(
                f"allocations.streams.{s.name}.pace",
                f"pace of change cannot be met in {ctx.calendar.labels[ctx.fy]}: {exc} "
                f"(replication {int(ctx.streams.replications[exc.replications[0]])}); "
                "lower the floors, raise the caps or change the stream total",
                ctx.scenario.source,
            ) from None
        return meet_exactly(baseline * (1.0 + growth), s.total)

    def _report(self, ctx: Context, s: _StreamState, baseline: np.ndarray) -> None:
        if s.config.holder == "centre":
            return
        target = _target(s)
        with np.errstate(divide="ignore", invalid="ignore"):
            growth = np.where(
                baseline > 0, s.allocation / np.where(baseline > 0, baseline, 1.0) - 1.0, np.nan
            )
        ctx.records.record(
            "allocations",
            s.holders,
            {"stream": s.name},
            baseline=baseline,
            target=target,
            allocation=s.allocation,
            growth=growth,
            distance_before=distance_from_target(at_average_growth(baseline, s.total), target),
            distance_after=distance_from_target(s.allocation, target),
        )
        if s.place is not None:
            assert s.place_system is not None
            ctx.records.record(
                "places",
                s.place,
                {"stream": s.name},
                need_index=s.place_index,
                allocation=self._place_amounts(s, s.allocation),
                system_allocation=s.allocation[:, s.place_system],
            )

    def _recurrent_adjustment(self, ctx: Context, kind: str) -> np.ndarray:
        """Recurrent allocation money each account received last year besides its own streams.

        Returns (R, A): net recurrent ``allocation``/``capital_allocation``/``reallocation``
        flows of this kind into each account in the previous year, minus what this
        mechanism's recurrent streams allocated to it.
        """
        received = recurrent_receipts(ctx, ctx.fy - 1, kind)
        for s in self.streams:
            if (
                s.config.kind == kind
                and s.config.recurrence == "recurrent"
                and s.config.holder != "centre"
            ):
                received[:, s.holders] -= s.allocation
                if s.place is not None:  # passed on to places: the system's baseline, not theirs
                    assert s.place_system is not None
                    passed = self._place_amounts(s, s.allocation)
                    received[:, s.place] -= passed
                    scatter_add(received, s.holders[s.place_system], passed)
        return received

    # -- monthly -----------------------------------------------------------------------------
    def draw_down(self, ctx: Context) -> None:
        """Pay each holder a twelfth of the year's allocation."""
        for s in self.streams:
            if s.config.holder == "centre":
                continue
            category = "allocation" if s.config.kind == "revenue" else "capital_allocation"
            ctx.ledger.post(
                self.centre,
                s.holders,
                s.allocation / 12.0,
                category,
                s.config.recurrence,
                s.config.kind,
            )
            if s.place is not None:
                assert s.place_system is not None
                ctx.ledger.post(
                    s.holders[s.place_system],
                    s.place,
                    self._place_amounts(s, s.allocation) / 12.0,
                    category,
                    s.config.recurrence,
                    s.config.kind,
                )


def _target(s: _StreamState) -> np.ndarray:
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


def _check_floor_only_bands(
    policy: PacePolicy, path: tuple[str | int, ...], refs: References
) -> None:
    """A band with ``cap: floor`` ("floor growth only") needs a floor to hold bodies at: its
    own, or one of the policy's (a floor, a minimum growth per head, a largest distance below
    target, or converge_only). Without, its bodies' growth would be capped at minus infinity."""
    policy_floor = (
        policy.floor is not None
        or policy.min_per_capita_growth is not None
        or policy.max_below_target is not None
        or policy.converge_only
    )
    for i, band in enumerate(policy.bands):
        if band.cap == "floor" and band.floor is None and not policy_floor:
            refs.add(
                (*path, "bands", i, "cap"),
                "'floor' holds the band's bodies at the floor, but there is none: give the "
                "band a floor, or the pace of change a floor (or min_per_capita_growth)",
            )


def _components(refs: References) -> set[str]:
    found: set[str] = set()
    for c in refs.model.organisations.commissioners:  # type: ignore[attr-defined]
        found |= set(getattr(c, "weights", None) or {})
    return found


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
