"""The allocations section of a scenario: streams, pace-of-change policy, places.

See :mod:`finsim.mechanisms.allocations` for what the mechanism models.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator

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

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

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


def _check_floor_only_bands(
    policy: PacePolicy, path: tuple[str | int, ...], refs: ReferencesLike
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


def _components(refs: ReferencesLike) -> set[str]:
    found: set[str] = set()
    for c in refs.model.organisations.commissioners:  # type: ignore[attr-defined]
        found |= set(getattr(c, "weights", None) or {})
    return found
