"""NHS England's GP-practice weighted populations: read, aggregate, index, build England.

NHS England allocates each commissioning stream by target share: a body's
need-weighted population divided by the national weighted population. The
weighted populations are published per GP practice (with the practice's
sub-ICB location, ICB, region and local authority district), and the ICB
place-based allocation tool turns them into need indices for places inside an
ICB. This module reads those files into one tidy frame and builds the
``organisations`` section of a scenario from it.

Two editions are understood (and any later file using the same column names):

=======================  =======================  =======================  ========================
standard column          2024/25 file             2025/26 file             meaning
=======================  =======================  =======================  ========================
``practice``             Practice_Code            Practice_Code            GP practice code
``practice_name``        GP_Practice_Name         GP_Practice_Name
``sub_icb``              CCG21                    CCG (all empty)          sub-ICB location (former
                                                                           CCG); NaN if none
``sub_icb_name``         Former CCG               Former CCG (all empty)
``icb``                  ICS22                    ICB                      ICB code
``icb_name``             ICS22name                ICBname
``region``               R22                      Rcode                    NHS England region code
``region_name``          Region22                 Region
``lad``                  LAD21                    LAD                      local authority district
``lad_name``             LTLA21                   LTLA
``population``           pop 2022/23              Population               registered population
``ga``                   G&A WP                   G&A WP                   general and acute
``community``            CS WP                    CS WP                    community services
``mental_health``        MH WP                    MH WP                    mental health
``maternity``            Mat WP                   Mat WP                   maternity (0 is valid)
``health_inequalities``  Health Ineq WP           Health Ineq WP           health inequalities
``prescribing``          Prescr WP                Prescr WP                prescribing
``core``                 Final WP                 Final WP                 core services, overall
``primary_care_raw``     Primary Medical Care WP  Primary Medical Care WP  primary medical care
                                                                           need
``primary_care``         Final PMC WP             Final PMC WP             primary medical care,
                                                                           final
=======================  =======================  =======================  ========================

Other columns (postcode, latitude, PCN, upper-tier authority...) are ignored.
A year suffix on a geography column (``ICS22``, ``LAD21``, ``R22``) and any
``pop YYYY/YY`` population column are accepted. Every weighted population is a
number of people: each component is normalised so that its national total
equals the national registered population.

Source: NHS England allocations (repositories nhsx/AIF_Allocation_Tool and
nhsengland/ICB_Allocation_Tool_update). Contains public sector information
licensed under the Open Government Licence v3.0 (NHS England).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from os import PathLike
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

import numpy as np
import pandas as pd

from finsim.errors import Problem, ScenarioError, did_you_mean

#: Standard component column -> the column NHS England's files give it.
COMPONENTS: dict[str, str] = {
    "ga": "G&A WP",
    "community": "CS WP",
    "mental_health": "MH WP",
    "maternity": "Mat WP",
    "health_inequalities": "Health Ineq WP",
    "prescribing": "Prescr WP",
    "core": "Final WP",
    "primary_care_raw": "Primary Medical Care WP",
    "primary_care": "Final PMC WP",
}

#: Geography and text columns: (standard name, accepted headers (regex), what it is, required).
_TEXT_COLUMNS: tuple[tuple[str, str, str, bool], ...] = (
    ("practice", r"practice_code", "'Practice_Code'", True),
    ("practice_name", r"gp_practice_name", "'GP_Practice_Name'", False),
    ("sub_icb", r"ccg(\d\d)?", "'CCG' or 'CCG<yy>' (e.g. 'CCG21')", False),
    ("sub_icb_name", r"former ccg", "'Former CCG'", False),
    ("icb", r"(icb|ics)(\d\d)?", "'ICB' or 'ICS<yy>' (e.g. 'ICS22')", True),
    ("icb_name", r"(icb|ics)(\d\d)?name", "'ICBname' or 'ICS<yy>name' (e.g. 'ICS22name')", True),
    ("region", r"rcode|r\d\d", "'Rcode' or 'R<yy>' (e.g. 'R22')", True),
    ("region_name", r"region(\d\d)?", "'Region' or 'Region<yy>' (e.g. 'Region22')", True),
    ("lad", r"lad(\d\d)?", "'LAD' or 'LAD<yy>' (e.g. 'LAD21')", False),
    ("lad_name", r"ltla(\d\d)?", "'LTLA' or 'LTLA<yy>' (e.g. 'LTLA21')", False),
)
_POPULATION = ("population", r"population|pop \d{4}/\d\d", "'Population' or 'pop <YYYY/YY>'")

#: Levels :func:`aggregate` sums to, with the code columns of each level's parents.
LEVELS: dict[str, tuple[str, ...]] = {
    "sub_icb": ("icb", "region"),
    "icb": ("region",),
    "region": (),
}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_MAX_LISTED = 20

Level = Literal["sub_icb", "icb", "region"]
_Values = TypeVar("_Values", pd.Series, pd.DataFrame, np.ndarray)


class DataWarning(UserWarning):
    """The data is usable but not as tidy as assumed (e.g. a body split between parents)."""


# --- reading ---------------------------------------------------------------


def read_weighted_populations(path: str | PathLike[str]) -> pd.DataFrame:
    """Read an NHS England GP-practice weighted-population CSV into the standard tidy frame.

    One row per practice, in file order, with the columns listed in this
    module's docstring. Raises :class:`~finsim.errors.ScenarioError` listing
    every problem found (the first 20, and how many more): a missing column
    (with the names accepted), an empty file, a missing, non-numeric, infinite
    or negative population or weighted population, a repeated practice code.
    Each problem names the file, the line (the header is line 1) and the column.
    """
    path = Path(path)
    file = str(path)
    try:
        raw = pd.read_csv(
            path,
            encoding="utf-8-sig",
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except FileNotFoundError:
        raise ScenarioError.single("(file)", "no such file", file) from None
    except pd.errors.EmptyDataError:
        raise ScenarioError.single(
            "(file)", "the file is empty: expected a header line and one row per practice", file, 1
        ) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError.single(
            "(file)",
            f"not UTF-8 text ({exc.reason} at byte {exc.start}); save it as CSV UTF-8",
            file,
        ) from None
    except pd.errors.ParserError as exc:
        at_line = re.search(r"line (\d+)", str(exc))
        raise ScenarioError.single(
            "(file)",
            f"cannot split into columns: {str(exc).splitlines()[-1]}",
            file,
            int(at_line.group(1)) if at_line else None,
        ) from None

    lines = _line_numbers(raw)
    # A blank line (or one of commas only) is not a practice.
    keep = (raw != "").any(axis=1).to_numpy()
    raw, lines = raw.loc[keep], lines[keep]

    columns, problems = _match_columns(raw.columns, file)
    if problems:
        raise ScenarioError(problems)
    if raw.empty:
        raise ScenarioError.single(
            "(file)", "no practice rows after the header line", file, int(lines.max(initial=1))
        )

    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    found: list[tuple[np.ndarray, str, np.ndarray]] = []  # (lines, column, messages)
    for std, _, _, required in _TEXT_COLUMNS:
        header = columns.get(std)
        text = (
            raw[header].astype(str).str.strip()
            if header
            else pd.Series("", index=raw.index, dtype=str)
        )
        text = text.where(text != "").reset_index(drop=True)
        out[std] = text
        if required and header:
            missing = text.isna().to_numpy()
            found.append((lines[missing], header, np.full(missing.sum(), "missing value")))
    for std in [_POPULATION[0], *COMPONENTS]:
        header = columns[std]
        out[std], bad, messages = _numbers(raw[header])
        found.append((lines[bad], header, messages))
    codes = out["practice"]
    repeated = (codes.duplicated(keep="first") & codes.notna()).to_numpy()
    if repeated.any():
        first = dict(zip(codes[::-1], lines[::-1], strict=True))
        why = [f"practice {c} repeated (first on line {first[c]})" for c in codes[repeated]]
        found.append((lines[repeated], columns["practice"], np.array(why, dtype=object)))
    _raise_if_any(found, file)
    out.attrs["source"] = file
    return out


def _line_numbers(raw: pd.DataFrame) -> np.ndarray:
    """The line of the file on which each row starts (header = line 1).

    A quoted field may hold line breaks, so each row's line is counted from
    the breaks inside the header and the rows before it.
    """
    header_breaks = sum(str(c).count("\n") for c in raw.columns)
    breaks = np.zeros(len(raw), dtype=np.int64)
    for column in raw.columns:
        breaks += raw[column].str.count("\n").to_numpy(dtype=np.int64)
    before = np.concatenate([[0], np.cumsum(breaks)[:-1]]) if len(raw) else breaks
    return 2 + header_breaks + np.arange(len(raw)) + before


def _match_columns(headers: pd.Index, file: str) -> tuple[dict[str, str], list[Problem]]:
    """Find the file's column for each standard column, or say what was expected."""
    norm = {h: " ".join(str(h).split()).lower() for h in headers}
    specs = [(s, p, what, req) for s, p, what, req in _TEXT_COLUMNS]
    specs.append((*_POPULATION, True))
    specs += [(std, re.escape(name.lower()), f"'{name}'", True) for std, name in COMPONENTS.items()]
    columns: dict[str, str] = {}
    problems: list[Problem] = []
    for std, pattern, what, required in specs:
        hits = [h for h, n in norm.items() if re.fullmatch(pattern, n)]
        if len(hits) == 1:
            columns[std] = hits[0]
        elif len(hits) > 1:
            names = ", ".join(f"'{h}'" for h in hits)
            problems.append(
                Problem("(header)", f"columns {names} all look like {std}; keep one", file, 1)
            )
        elif required:
            guess = did_you_mean(what.split("'")[1], [str(h) for h in headers])
            problems.append(
                Problem(
                    "(header)",
                    f"missing column for {std}: expected a column named {what}",
                    file,
                    1,
                    guess,
                )
            )
    return columns, problems


def _numbers(text: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse a column of counts of people: values, which are bad, and why."""
    stripped = text.str.strip()
    values = pd.to_numeric(stripped, errors="coerce").to_numpy(dtype=float)
    empty = (stripped == "").to_numpy()
    not_number = np.isnan(values) & ~empty
    infinite = np.isinf(values)
    negative = values < 0
    bad = empty | not_number | infinite | negative
    why = np.select(
        [empty, not_number, infinite],
        ["missing value: expected a number", "expected a number", "expected a finite number"],
        "expected a number of people (0 or more)",
    )[bad]
    shown = stripped.to_numpy(dtype=object)[bad]
    messages = np.array(
        [
            w if w.startswith("missing") else f"{w}, found '{v}'"
            for w, v in zip(why, shown, strict=True)
        ],
        dtype=object,
    )
    return values, bad, messages


def _raise_if_any(found: list[tuple[np.ndarray, str, np.ndarray]], file: str) -> None:
    """Raise one ScenarioError listing the first problems by line, and how many more."""
    total = sum(len(lines) for lines, _, _ in found)
    if not total:
        return
    rows = [
        (int(line), column, str(message))
        for lines, column, messages in found
        for line, message in zip(lines, messages, strict=True)
    ]
    rows.sort(key=lambda r: r[0])
    problems = [
        Problem(f"column '{col}'", msg, file, line) for line, col, msg in rows[:_MAX_LISTED]
    ]
    if total > _MAX_LISTED:
        problems.append(Problem("(file)", f"... and {total - _MAX_LISTED} more problems", file))
    raise ScenarioError(problems)


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


@overload
def round_half_up(values: float, decimals: int = 0) -> float: ...
@overload
def round_half_up(values: _Values, decimals: int = 0) -> _Values: ...
@overload
def round_half_up(values: Sequence[float], decimals: int = 0) -> np.ndarray: ...
def round_half_up(values: Any, decimals: int = 0) -> Any:
    """Round to ``decimals`` places with halves away from zero, as Excel's ROUND does.

    Python's ``round`` and numpy's ``round`` send halves to the even
    neighbour (banker's rounding); NHS England's allocation tools round halves
    up, as Excel does:

    >>> round_half_up([0.5, 1.5, 2.5, -2.5]).tolist(), [round(x) for x in (0.5, 1.5, 2.5, -2.5)]
    ([1.0, 2.0, 3.0, -3.0], [0, 2, 2, -2])
    >>> round_half_up(2.675, 2), round(2.675, 2)
    (2.68, 2.67)
    >>> round_half_up(1234.5, -1)
    1230.0

    Binary floats: 2.675 is stored as 2.67499999999999982236431605997495353221893310546875,
    which ``round`` faithfully rounds down. This function rounds the decimal a
    person reads instead: the shortest decimal that identifies the float
    (``repr(2.675) == '2.675'``), exactly as NHS England's tool does with
    ``Decimal(str(x))``. For every number written with up to 15 significant
    digits (all that Excel keeps) that is the number as written, so the result
    is Excel's. A computed value whose shortest decimal needs 16 or 17 digits
    and lies within about 1e-15 of a half-way point rounds as that decimal
    reads, where Excel, which keeps 15 digits, may round the other way: the
    float just below 1.0005 reads ``1.0004999999999997`` and rounds to 1.0 at 3
    places here (and in NHS England's tool), 1.0005 to 15 digits and so 1.001
    in Excel. Such values are about one in 10**12 of indices computed from
    data. Values too large to carry ``decimals`` places, infinities and NaN
    come back unchanged.

    Accepts a number (returns a float), a Series or DataFrame (returns the same
    shape and labels) or anything array-like (returns an ndarray). Vectorised:
    only values within a hair of a half-way point are settled with ``Decimal``.
    """
    if not isinstance(decimals, int | np.integer) or abs(decimals) > 15:
        raise ValueError(f"decimals must be a whole number from -15 to 15, got {decimals!r}")
    array = np.asarray(values, dtype=float)
    flat = array.reshape(-1)
    scale = 10.0 ** abs(int(decimals))
    magnitude = np.abs(flat)
    scaled = magnitude * scale if decimals >= 0 else magnitude / scale
    with np.errstate(invalid="ignore"):
        whole = np.floor(scaled + 0.5)
        # Beyond 2**52 a float holds no fraction; NaN fails the comparison too.
        fits = scaled < 2.0**52
        off_half = np.abs(scaled - np.floor(scaled) - 0.5)
    near_half = fits & (off_half <= 1e-9 * np.maximum(1.0, scaled))
    if near_half.any():
        quantum = Decimal(1).scaleb(-int(decimals))
        with localcontext() as context:
            context.prec = 60
            whole[near_half] = [
                float(Decimal(repr(float(m))).quantize(quantum, ROUND_HALF_UP).scaleb(decimals))
                for m in magnitude[near_half]
            ]
    rounded = whole / scale if decimals >= 0 else whole * scale
    # Adding 0.0 turns -0.0 (from rounding -0.4) into 0.0, as Excel shows it.
    result = np.where(fits, np.copysign(rounded, flat) + 0.0, flat).reshape(array.shape)
    if isinstance(values, pd.DataFrame):
        return pd.DataFrame(result, index=values.index, columns=values.columns)
    if isinstance(values, pd.Series):
        return pd.Series(result, index=values.index, name=values.name)
    if result.ndim == 0 and not isinstance(values, np.ndarray):
        return float(result)
    return result


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
