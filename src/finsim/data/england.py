"""From practices to England's bodies: aggregates, place need indices, scenario organisations."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from finsim.data.read import COMPONENTS
from finsim.data.rounding import round_half_up
from finsim.errors import did_you_mean

#: Levels :func:`aggregate` sums to, with the code columns of each level's parents.
LEVELS: dict[str, tuple[str, ...]] = {
    "sub_icb": ("icb", "region"),
    "icb": ("region",),
    "region": (),
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

Level = Literal["sub_icb", "icb", "region"]


class DataWarning(UserWarning):
    """The data is usable but not as tidy as assumed (e.g. a body split between parents)."""


# --- aggregating -----------------------------------------------------------


def aggregate(frame: pd.DataFrame, level: Level) -> pd.DataFrame:
    """Sum populations and weighted populations by sub-ICB location, ICB or region.

    Returns one row per body, indexed by its code (index named ``level``),
    with its name, the code of each parent (``icb``, ``region``: the parent
    holding most of the body's population, see :func:`split_bodies`), the
    number of ``practices``, ``population`` and one column per component.
    Practices with no code at this level are left out.
    """
    _check_level(frame, level)
    numbers = ["population", *COMPONENTS]
    grouped = frame.groupby(level, sort=True)
    out = grouped[numbers].sum()
    out.insert(0, "practices", grouped.size())
    out.insert(0, f"{level}_name", grouped[f"{level}_name"].first())
    for i, parent in enumerate(LEVELS[level]):
        out.insert(1 + i, parent, _majority_parent(frame, level, parent)[0])
    return out


def split_bodies(frame: pd.DataFrame, child: str, parent: str) -> pd.DataFrame:
    """Bodies at level ``child`` whose practices lie in more than one ``parent``.

    One row per (child, parent) pair of a split body, with the population in
    that parent and its ``share`` of the body's population. Empty when every
    body sits wholly inside one parent (as in NHS England's 2024/25 file).
    """
    return _majority_parent(frame, child, parent)[1]


def _majority_parent(
    frame: pd.DataFrame, child: str, parent: str
) -> tuple[pd.Series, pd.DataFrame]:
    """Map each child code to the parent holding most of its population; list the splits."""
    pops = frame.groupby([child, parent], sort=True)["population"].sum().reset_index()
    pops["share"] = pops["population"] / pops.groupby(child)["population"].transform("sum")
    ranked = pops.sort_values([child, "population"], ascending=[True, False], kind="stable")
    mapping = ranked.drop_duplicates(child).set_index(child)[parent]
    n_parents = pops.groupby(child)[parent].transform("size")
    return mapping, pops.loc[n_parents > 1].reset_index(drop=True)


def _check_level(frame: pd.DataFrame, level: str) -> None:
    if level not in LEVELS:
        raise ValueError(f"unknown level '{level}': expected one of {', '.join(LEVELS)}")
    if frame[level].isna().all():
        raise ValueError(
            f"this file has no {level} codes (NHS England's files have none from 2025/26): "
            f"use {' or '.join(repr(x) for x in LEVELS if x != level)}"
        )


# --- need indices ----------------------------------------------------------


def need_index(
    frame: pd.DataFrame,
    icb: str,
    place_column: str = "lad",
    components: Sequence[str] = tuple(COMPONENTS),
    decimals: int | None = 3,
    whole_people: bool = True,
) -> pd.DataFrame:
    """Need indices of the places inside one ICB, as NHS England's place-based tool computes them.

    A place is the ICB's practices sharing a value of ``place_column``
    (``"lad"``: local authority district; ``"sub_icb"``; or any column the
    user adds to the frame). For each place and component::

        index = (place weighted population / place population)
                / (ICB weighted population / ICB population)

    rounded half-up (:func:`round_half_up`) to ``decimals`` places (the tool
    shows 3; ``None`` keeps full precision). ``icb`` is an ICB code or name.

    NHS England's tool also rounds each place's and the ICB's summed
    populations to whole people (half-up) before dividing; so does this
    function by default (``whole_people=False`` for the plain formula: on the
    2025/26 file it changes 56 of 3,069 district indices, by 0.001). (The tool further replaces a practice's zero weighted population
    by 1; this function keeps a zero as zero.)

    Returns one row per place, indexed by its code (index named
    ``place_column``), with its name when the frame has ``<place_column>_name``,
    its ``population`` and one index column per component. A practice with
    no ``place_column`` value counts in the ICB's totals but in no place.
    """
    unknown = [c for c in components if c not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown components {unknown}: expected some of {', '.join(COMPONENTS)}")
    if place_column not in frame.columns:
        raise ValueError(f"no column '{place_column}' to group places by")
    members = frame.loc[(frame["icb"] == icb) | (frame["icb_name"] == icb)]
    if members.empty:
        guess = did_you_mean(icb, pd.concat([frame["icb"], frame["icb_name"]]).dropna().unique())
        hint = f"; did you mean '{guess}'?" if guess else ""
        raise ValueError(f"no ICB '{icb}' in the frame: give an ICB code or name{hint}")
    if members[place_column].isna().all():
        raise ValueError(f"the practices of ICB '{icb}' have no '{place_column}'")
    columns = ["population", *components]
    places = members.groupby(place_column, sort=True)[columns].sum()
    whole = members[columns].sum()
    if whole_people:
        places, whole = round_half_up(places), round_half_up(whole)
    ratio = places[list(components)].div(places["population"], axis=0)
    index = ratio / (whole[list(components)] / whole["population"])
    if decimals is not None:
        index = round_half_up(index, decimals)
    out = index.copy()
    out.insert(0, "population", members.groupby(place_column, sort=True)["population"].sum())
    name = f"{place_column}_name"
    if name in frame.columns:
        out.insert(0, name, members.groupby(place_column, sort=True)[name].first())
    return out


# --- building England ------------------------------------------------------


def scenario_organisations(
    frame: pd.DataFrame,
    commissioners: Literal["auto", "sub_icb", "icb"] = "auto",
) -> dict[str, list[dict[str, Any]]]:
    """The ``organisations`` section of a scenario: England's regions, ICBs and commissioners.

    Regions are NHS England regions (id = region code), systems are ICBs
    (id = ICB code). Commissioners are sub-ICB locations (id = sub-ICB code)
    when ``commissioners="sub_icb"``, or one per ICB (id = ``<ICB code>_icb``)
    when ``"icb"``; ``"auto"`` uses sub-ICB locations when every practice has
    one (2024/25 file) and ICBs otherwise (2025/26 onwards). Each commissioner
    carries its ``population``, ``weighted_population`` (the ``core``
    component, which drives core-services target shares) and ``weights``: its
    weighted population for every component.

    A sub-ICB location whose practices lie in several ICBs (or an ICB in several
    regions) belongs to the one holding most of its population; each such case
    is reported with a :class:`DataWarning`.
    """
    if commissioners == "auto":
        commissioners = "sub_icb" if frame["sub_icb"].notna().all() else "icb"
    if commissioners not in ("sub_icb", "icb"):
        raise ValueError(f"commissioners must be 'auto', 'sub_icb' or 'icb', got {commissioners!r}")
    if commissioners == "sub_icb" and frame["sub_icb"].isna().any():
        n = int(frame["sub_icb"].isna().sum())
        raise ValueError(f"{n} practices have no sub-ICB location: use commissioners='icb'")

    regions = aggregate(frame, "region")
    systems = aggregate(frame, "icb")
    bodies = aggregate(frame, commissioners)
    for child, parent in [
        ("icb", "region"),
        *([("sub_icb", "icb")] if commissioners == "sub_icb" else []),
    ]:
        _warn_splits(split_bodies(frame, child, parent), child, parent)
    suffix = "_icb" if commissioners == "icb" else ""
    system_of = bodies.index.to_series() if commissioners == "icb" else bodies["icb"]
    bodies = bodies.assign(system=system_of).sort_values(["system"], kind="stable")

    out: dict[str, list[dict[str, Any]]] = {
        "regions": [{"id": str(code), "name": row.region_name} for code, row in regions.iterrows()],
        "systems": [
            {"id": str(code), "name": row.icb_name, "region": str(row.region)}
            for code, row in systems.iterrows()
        ],
        "commissioners": [
            {
                "id": f"{code}{suffix}",
                "name": row[f"{commissioners}_name"],
                "system": str(row["system"]),
                "population": float(row["population"]),
                "weighted_population": float(row["core"]),
                "weights": {c: float(row[c]) for c in COMPONENTS},
            }
            for code, row in bodies.iterrows()
        ],
    }
    _check_ids(out)
    return out


def _warn_splits(splits: pd.DataFrame, child: str, parent: str) -> None:
    if splits.empty:
        return
    parts = [
        f"{code} ({', '.join(f'{p} {s:.1%}' for p, s in zip(g[parent], g['share'], strict=True))})"
        for code, g in splits.groupby(child, sort=True)
    ]
    warnings.warn(
        f"{len(parts)} {child} codes have practices in more than one {parent}; each is assigned "
        f"to the {parent} holding most of its population: {'; '.join(parts)}",
        DataWarning,
        stacklevel=3,
    )


def _check_ids(organisations: dict[str, list[dict[str, Any]]]) -> None:
    ids = [org["id"] for orgs in organisations.values() for org in orgs]
    bad = [i for i in ids if not _ID.match(i)]
    if bad:
        raise ValueError(f"codes that cannot be scenario ids (letters, digits, _ . -): {bad[:10]}")
    seen = pd.Series(ids + ["centre", "treasury", "external"])
    clash = seen[seen.duplicated()].unique().tolist()
    if clash:
        raise ValueError(f"codes used by more than one organisation: {clash[:10]}")
