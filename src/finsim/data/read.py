"""Reading NHS England's GP-practice weighted-population files into one tidy frame.

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
from os import PathLike
from pathlib import Path

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

_MAX_LISTED = 20


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
