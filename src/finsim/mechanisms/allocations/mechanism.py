"""The allocations mechanism: streams set each year, pace of change, monthly draw-down.

See :mod:`finsim.mechanisms.allocations` for what it models.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from finsim.economy import TREASURY
from finsim.errors import ScenarioError, did_you_mean
from finsim.ledger import KINDS, Category, scatter_add
from finsim.mechanisms.allocations.config import (
    AllocationsConfig,
    PacePolicy,
    _check_floor_only_bands,
    _components,
)
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
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.mechanisms.pace import (
    Bounds,
    InfeasiblePolicy,
    distance_from_target,
    meet_exactly,
    solve_common_growth,
)
from finsim.numeric import row_sum
from finsim.state import Slot

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class Allocations(Mechanism):
    """Streams, targets, pace of change and monthly draw-down of allocations."""

    section = "allocations"
    order = 10
    categories = (Category("reallocation", "a year-end re-allocation between bodies", "subsidy"),)
    drivers = (Driver("other", 1000, ("reallocation",)),)
    Config = AllocationsConfig
    config: AllocationsConfig
    provides = (
        Slot(
            "allocations.holders",
            "dict kind -> (n,)",
            "the accounts whose recurrent baseline allocations manage, by kind",
        ),
        Slot(
            "allocations.streams",
            "dict name -> stream",
            "each allocation stream: its config, holders and this year's allocation (R, n)",
        ),
    )

    def __init__(self, config: AllocationsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        population = need_matrix(ctx, "population")
        self.streams: list[StreamState] = []
        seen_primary: set[tuple[str, int]] = set()
        for name, stream in config.all_streams().items():
            holders = holders_of(economy, stream.holder, self.centre)
            primary = np.zeros(holders.size, dtype=bool)
            if stream.recurrence == "recurrent" and stream.holder != "centre":
                for i, h in enumerate(holders):
                    if (stream.kind, int(h)) not in seen_primary:
                        seen_primary.add((stream.kind, int(h)))
                        primary[i] = True
            self.streams.append(
                StreamState(
                    name=name,
                    config=stream,
                    holders=holders,
                    need_share=need_share(ctx, stream.need, holders),
                    population=population[holders],
                    allocation=np.zeros((ctx.R, holders.size)),
                    total=np.zeros(ctx.R),
                    primary=primary,
                )
            )
            if stream.places is not None:
                set_places(ctx, self.streams[-1], stream.places)
        self.population_factor = 1.0
        #: accounts whose recurrent baseline this mechanism manages, by kind
        ctx.state["allocations.holders"] = {
            kind: np.array(sorted(h for k, h in seen_primary if k == kind), dtype=np.int64)
            for kind in KINDS
        }
        ctx.state["allocations.streams"] = {s.name: s for s in self.streams}

    @classmethod
    def check(cls, config: AllocationsConfig, refs: ReferencesLike) -> None:
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

    def _first_year(self, ctx: Context, s: StreamState) -> None:
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
            s.allocation[:] = self._per_head(s, year) if c.per_head is not None else target_of(s)
        self._report(ctx, s, baseline=s.allocation.copy())

    def _next_year(self, ctx: Context, s: StreamState, adjustment: np.ndarray) -> None:
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
            s.allocation[:] = target_of(s)
        elif s.holders.size == 1:
            s.allocation[:] = s.total[:, None]
        else:
            s.allocation[:] = self._pace(ctx, s, baseline, year)
        self._report(ctx, s, baseline)

    def _size(
        self, ctx: Context, s: StreamState, year: int, baseline_total: np.ndarray | None
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

    def _per_head(self, s: StreamState, year: int) -> np.ndarray:
        assert s.config.per_head is not None
        return s.config.per_head.at(year) * s.population * self.population_factor / 1e6

    def _pace(self, ctx: Context, s: StreamState, baseline: np.ndarray, year: int) -> np.ndarray:
        policy = s.config.pace or PacePolicy()
        target = target_of(s)
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

    def _report(self, ctx: Context, s: StreamState, baseline: np.ndarray) -> None:
        if s.config.holder == "centre":
            return
        target = target_of(s)
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
                allocation=place_amounts(s, s.allocation),
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
                    passed = place_amounts(s, s.allocation)
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
                    place_amounts(s, s.allocation) / 12.0,
                    category,
                    s.config.recurrence,
                    s.config.kind,
                )
