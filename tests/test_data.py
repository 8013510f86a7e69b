"""Real NHS England weighted populations: reading, aggregation, need indices, England's organisations.

The real files are the editions packaged inside finsim (``finsim/data/nhse/``,
gzip-compressed, byte for byte as NHS England published them).
"""

from __future__ import annotations

import csv
import doctest
import gzip
import hashlib
import math
import os
import re
import subprocess
import sys
import warnings
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import finsim.data
import finsim.data.england
import finsim.data.packaged
import finsim.data.read
import finsim.data.rounding
from finsim.data import (
    COMPONENTS,
    EDITIONS,
    DataWarning,
    aggregate,
    need_index,
    read_weighted_populations,
    round_half_up,
    scenario_organisations,
    split_bodies,
    weighted_populations,
)
from finsim.errors import ScenarioError
from finsim.scenario.models import Commissioner, Organisations

ROOT = Path(__file__).resolve().parents[1]
FILE_2024 = EDITIONS["2024/25"].path
FILE_2025 = EDITIONS["2025/26"].path
EXAMPLE = ROOT / "examples" / "england_2024.py"

STANDARD = [
    "practice",
    "practice_name",
    "sub_icb",
    "sub_icb_name",
    "icb",
    "icb_name",
    "region",
    "region_name",
    "lad",
    "lad_name",
    "population",
    *COMPONENTS,
]
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@pytest.fixture(scope="module")
def england_2024() -> pd.DataFrame:
    return weighted_populations("2024/25")


@pytest.fixture(scope="module")
def england_2025() -> pd.DataFrame:
    return weighted_populations("2025/26")


# --- the packaged editions -----------------------------------------------------

#: SHA-256 of the CSV files as NHS England published them (also in finsim/data/nhse/README.md).
PUBLISHED_SHA256 = {
    "2024/25": "e5729efafb1b01257a27bf10935ea0c3c8ecf904bd2356409fc561db4c3caf5c",
    "2025/26": "ec4f15678eb80187141e9f325c67bd7dbf112ca7bae988a10cdffd40c293f68c",
}


@pytest.mark.parametrize("edition", ["2024/25", "2025/26"])
def test_packaged_editions_are_the_published_files(edition):
    """Each packaged file decompresses to the published bytes, and its README records the checksum."""
    path = EDITIONS[edition].path
    assert path.is_file() and path.suffix == ".gz"
    digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    assert digest == PUBLISHED_SHA256[edition]
    notice = (path.parent / "README.md").read_text(encoding="utf-8")
    assert digest in notice and path.name in notice
    assert "Open Government Licence v3.0" in notice


@pytest.mark.parametrize("edition", ["2024/25", "2025/26"])
def test_weighted_populations_reads_the_packaged_edition(edition):
    """The loader gives the same frame as reading the file by path, fresh on every call."""
    frame = weighted_populations(edition)
    assert len(frame) == EDITIONS[edition].practices
    assert frame.attrs["edition"] == edition
    by_path = read_weighted_populations(EDITIONS[edition].path)
    pd.testing.assert_frame_equal(frame, by_path, check_exact=True)
    frame.loc[0, "population"] = -1.0  # a caller's change never reaches the next caller
    assert weighted_populations(edition).loc[0, "population"] >= 0


def test_weighted_populations_names_the_editions_it_has():
    """An unknown edition is one ValueError naming the editions and the way to read a download."""
    with pytest.raises(
        ValueError, match=r"did you mean '2024/25'.*2024/25, 2025/26.*read_weighted"
    ):
        weighted_populations("2024/5")
    with pytest.raises(ValueError, match="expected one of"):
        weighted_populations("2026/27")


def test_attribution_is_in_the_package():
    """The OGL v3 attribution is exported beside the data."""
    assert "Open Government Licence v3.0" in finsim.data.ATTRIBUTION


# --- the real files ----------------------------------------------------------


def test_2024_25_file_loads_every_practice(england_2024):
    """The 2024/25 file gives 6,553 practices in the standard columns, each with a sub-ICB."""
    assert len(england_2024) == 6553
    assert list(england_2024.columns) == STANDARD
    assert england_2024["practice"].is_unique
    assert england_2024["sub_icb"].notna().all()
    assert england_2024[["population", *COMPONENTS]].notna().all().all()


def test_2025_26_file_loads_every_practice(england_2025):
    """The 2025/26 file (BOM, no sub-ICB codes) gives 6,348 practices, sub_icb all NaN."""
    assert len(england_2025) == 6348
    assert list(england_2025.columns) == STANDARD
    assert england_2025["sub_icb"].isna().all()
    assert england_2025.loc[0, "practice"] == "A81001"  # the BOM is not part of the first name
    assert england_2025["icb"].notna().all()


def test_2024_25_has_7_regions_42_icbs_106_sub_icbs(england_2024):
    """2024/25: 7 regions, 42 ICBs, 106 sub-ICB locations, 309 districts; no body straddles two parents."""
    assert len(aggregate(england_2024, "region")) == 7
    assert len(aggregate(england_2024, "icb")) == 42
    assert len(aggregate(england_2024, "sub_icb")) == 106
    assert england_2024["lad"].nunique() == 309
    assert split_bodies(england_2024, "sub_icb", "icb").empty
    assert split_bodies(england_2024, "icb", "region").empty


@pytest.mark.parametrize("path", [FILE_2024, FILE_2025], ids=["2024_25", "2025_26"])
def test_weighted_totals_are_normalised_to_the_national_population(path):
    """Every component's national weighted total equals the registered population (measured: within 8e-12)."""
    frame = read_weighted_populations(path)
    population = frame["population"].sum()
    for component in COMPONENTS:
        assert frame[component].sum() == pytest.approx(population, rel=1e-9), component


def test_zero_maternity_is_a_valid_zero(england_2024, england_2025):
    """Practices with no maternity need keep a 0 (113 in 2024/25, 104 in 2025/26), not a gap."""
    assert (england_2024["maternity"] == 0).sum() == 113
    assert (england_2025["maternity"] == 0).sum() == 104


@pytest.mark.parametrize("level", ["sub_icb", "icb", "region"])
def test_aggregate_conserves_the_national_totals(england_2024, level):
    """Summing bodies at any level gives back the national population and weighted populations."""
    bodies = aggregate(england_2024, level)
    national = england_2024[["population", *COMPONENTS]].sum()
    assert np.allclose(bodies[["population", *COMPONENTS]].sum(), national, rtol=1e-12)
    assert bodies["practices"].sum() == len(england_2024)
    assert bodies.index.name == level and bodies[f"{level}_name"].notna().all()


def test_aggregate_gives_each_body_its_parents(england_2024):
    """A sub-ICB location carries its ICB and region; sums by ICB of sub-ICBs equal ICB sums."""
    subs = aggregate(england_2024, "sub_icb")
    icbs = aggregate(england_2024, "icb")
    assert subs.loc["16C", ["icb", "region"]].tolist() == ["QHM", "Y63"]
    by_icb = subs.groupby("icb")[["population", "core"]].sum()
    assert np.allclose(by_icb, icbs[["population", "core"]], rtol=1e-12)


def test_aggregate_by_sub_icb_needs_sub_icb_codes(england_2025):
    """Aggregating the 2025/26 file by sub-ICB says the file has none, and offers the other levels."""
    with pytest.raises(ValueError, match="no sub_icb codes.*'icb' or 'region'"):
        aggregate(england_2025, "sub_icb")
    with pytest.raises(ValueError, match="unknown level 'ccg'"):
        aggregate(england_2025, "ccg")  # type: ignore[arg-type]


# --- need indices: an independent computation ------------------------------


def _independent_indices(path: Path, place: str, whole_people: bool = False) -> dict:
    """NHS England's place formula from the raw file text: exact Decimal sums, then half-up to 3 dp.

    Reads with the csv module (not finsim), sums the decimal text of each
    cell exactly, divides at 50 significant digits and rounds half-up.
    Returns {(icb, place): {component: Decimal index}}.
    """
    columns = {
        "population": ("Population", "pop 2022/23"),
        **{c: (h,) for c, h in COMPONENTS.items()},
    }
    place_header = {"lad": ("LAD", "LAD21"), "sub_icb": ("CCG", "CCG21")}[place]
    icb_header = ("ICB", "ICS22")
    place_sums: dict = defaultdict(lambda: defaultdict(Decimal))
    icb_sums: dict = defaultdict(lambda: defaultdict(Decimal))
    with gzip.open(path, "rt", encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            icb = next(row[h] for h in icb_header if h in row)
            where = next(row[h] for h in place_header if h in row)
            for name, headers in columns.items():
                value = Decimal(next(row[h] for h in headers if h in row))
                place_sums[icb, where][name] += value
                icb_sums[icb][name] += value
    out = {}
    with localcontext() as context:
        context.prec = 50
        for (icb, where), sums in place_sums.items():
            whole = icb_sums[icb]
            if whole_people:
                sums = {k: v.quantize(Decimal(1), ROUND_HALF_UP) for k, v in sums.items()}
                whole = {k: v.quantize(Decimal(1), ROUND_HALF_UP) for k, v in whole.items()}
            out[icb, where] = {
                c: ((sums[c] / sums["population"]) / (whole[c] / whole["population"])).quantize(
                    Decimal("0.001"), ROUND_HALF_UP
                )
                for c in COMPONENTS
            }
    return out


def _compare(frame: pd.DataFrame, expected: dict, icbs, place: str, **kwargs) -> int:
    compared = 0
    for icb in icbs:
        got = need_index(frame, icb, place, **kwargs)
        want = {p: v for (i, p), v in expected.items() if i == icb}
        assert sorted(got.index) == sorted(want), icb
        for where, indices in want.items():
            for component, value in indices.items():
                assert got.loc[where, component] == float(value), (icb, where, component)
                compared += 1
    return compared


def test_lad_indices_match_an_independent_computation_for_every_icb(england_2025):
    """2025/26 place indices by district (the tool's default method, whole people) equal exact
    Decimal arithmetic on the raw text, for all 42 ICBs."""
    expected = _independent_indices(FILE_2025, "lad", whole_people=True)
    icbs = sorted(england_2025["icb"].unique())
    assert len(icbs) == 42
    assert _compare(england_2025, expected, icbs, "lad") == 9 * len(expected)


def test_plain_formula_indices_match_an_independent_computation(england_2025):
    """whole_people=False: the plain formula on unrounded sums, for every ICB."""
    expected = _independent_indices(FILE_2025, "lad")
    icbs = sorted(england_2025["icb"].unique())
    assert _compare(england_2025, expected, icbs, "lad", whole_people=False) == 9 * len(expected)


def test_whole_people_indices_match_an_independent_computation(england_2025):
    """whole_people=True (the default) rounds place and ICB sums to whole people before dividing."""
    expected = _independent_indices(FILE_2025, "lad", whole_people=True)
    plain = _independent_indices(FILE_2025, "lad")
    assert sum(expected[k] != plain[k] for k in expected) > 0  # the two methods do differ somewhere
    _compare(england_2025, expected, ["QWO", "QHM", "QMJ", "QE1"], "lad", whole_people=True)


def test_sub_icb_indices_match_an_independent_computation(england_2024):
    """2024/25 place indices by sub-ICB location equal the independent computation for three ICBs."""
    expected = _independent_indices(FILE_2024, "sub_icb")
    _compare(england_2024, expected, ["QWO", "QHM", "QE1"], "sub_icb", whole_people=False)


def test_need_index_shape_and_naming(england_2025):
    """need_index takes an ICB code or name and gives names, populations and one column per component."""
    by_code = need_index(england_2025, "QWO")
    by_name = need_index(england_2025, "NHS West Yorkshire ICB")
    pd.testing.assert_frame_equal(by_code, by_name, check_exact=True)
    assert list(by_code.columns) == ["lad_name", "population", *COMPONENTS]
    assert by_code.index.name == "lad"
    assert "Leeds" in set(by_code["lad_name"])
    # The ICB's population-weighted mean index is 1 for every component.
    exact = need_index(england_2025, "QWO", decimals=None, whole_people=False)
    mean = (exact[list(COMPONENTS)].mul(exact["population"], axis=0)).sum() / exact[
        "population"
    ].sum()
    assert np.allclose(mean, 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="did you mean 'NHS West Yorkshire ICB'"):
        need_index(england_2025, "NHS West Yorkshir ICB")
    with pytest.raises(ValueError, match="unknown components"):
        need_index(england_2025, "QWO", components=["acute"])


# --- rounding ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "decimals", "half_up", "bankers"),
    [
        (0.5, 0, 1.0, 0.0),
        (1.5, 0, 2.0, 2.0),
        (2.5, 0, 3.0, 2.0),
        (-2.5, 0, -3.0, -2.0),
        (2.675, 2, 2.68, 2.67),  # stored just below 2.675; Excel's ROUND(2.675,2) = 2.68
        (1.005, 2, 1.01, 1.0),  # stored just below 1.005
        (0.125, 2, 0.13, 0.12),  # exactly representable tie
        (1.0005, 3, 1.001, 1.0),
        (1234.5, -1, 1230.0, 1230.0),
        (1235.0, -1, 1240.0, 1240.0),
    ],
)
def test_round_half_up_rounds_halves_away_from_zero_unlike_round(value, decimals, half_up, bankers):
    """Halves go away from zero (Excel's ROUND), where Python's round goes to even or follows the binary value."""
    assert round_half_up(value, decimals) == half_up
    assert round(value, decimals) == bankers


def test_round_half_up_keeps_shapes_and_specials():
    """Series and DataFrames keep their labels; NaN, infinities and -0.4 -> 0.0 (not -0.0) behave."""
    series = pd.Series([0.5, -0.4, np.nan], index=["a", "b", "c"], name="x")
    out = round_half_up(series)
    assert out.index.tolist() == ["a", "b", "c"] and out.name == "x"
    assert out["a"] == 1.0 and math.copysign(1.0, out["b"]) == 1.0 and np.isnan(out["c"])
    frame = round_half_up(pd.DataFrame({"v": [2.5, np.inf, -np.inf]}))
    assert frame["v"].tolist() == [3.0, np.inf, -np.inf]
    assert round_half_up(np.array([[0.5, 1.5]])).shape == (1, 2)
    assert isinstance(round_half_up(2.5), float)
    with pytest.raises(ValueError, match="decimals"):
        round_half_up(1.0, 2.5)  # type: ignore[call-overload]


@given(
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.integers(min_value=0, max_value=6),
)
def test_round_half_up_agrees_with_decimal_on_any_float(value, decimals):
    """The vectorised rounding equals Decimal(repr(x)) rounded ROUND_HALF_UP, for any float."""
    want = float(Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP))
    assert round_half_up(value, decimals) == want + 0.0


@given(st.integers(min_value=-(10**9), max_value=10**9), st.integers(min_value=0, max_value=6))
def test_round_half_up_sends_every_written_half_up(k, places):
    """A tie as written (|k| + 0.5 units of the last place kept) always rounds away from zero."""
    sign = -1 if k < 0 else 1
    tie = Decimal(sign * (10 * abs(k) + 5)).scaleb(-(places + 1))  # e.g. k=-12, places=1: -1.25
    want = float(Decimal(sign * (abs(k) + 1)).scaleb(-places))  # -1.3
    assert round_half_up(float(tie), places) == want


@pytest.mark.parametrize(
    "module",
    [finsim.data.england, finsim.data.packaged, finsim.data.read, finsim.data.rounding],
    ids=lambda m: m.__name__,
)
def test_data_module_doctests_pass(module):
    """The examples in finsim.data's docstrings run as written."""
    result = doctest.testmod(module)
    assert result.failed == 0


# --- malformed files ---------------------------------------------------------

HEADER_2025 = (
    "Practice_Code,GP_Practice_Name,Practice_Postcode,Latitude,Longitude,CCG,Former CCG,PCN_Code,"
    "PCN_Name,LOC,LOCname,ICB,ICBname,Rcode,Region,LAD,LTLA,LA,UTLA,Patients,Population,G&A WP,"
    "CS WP,MH WP,Mat WP,Health Ineq WP,Prescr WP,Final WP,Primary Medical Care WP,Final PMC WP"
).split(",")
HEADER_2024 = (
    "Practice_Code,GP_Practice_Name,Practice_Postcode,Latitude,Longitude,CCG21,Former CCG,PCN_Code,"
    "PCN_Name,LOC22,LOC22name,ICS22,ICS22name,R22,Region22,LAD21,LTLA21,LA21,UTLA21,Patients,"
    "pop 2022/23,G&A WP,CS WP,MH WP,Mat WP,Health Ineq WP,Prescr WP,Final WP,"
    "Primary Medical Care WP,Final PMC WP"
).split(",")


def _row(i: int, **changes: str) -> dict[str, str]:
    """A made-up practice in the 2025/26 layout; keyword names use _ for spaces and & ('G_A_WP')."""
    row = dict.fromkeys(HEADER_2025, "")
    row.update(
        {
            "Practice_Code": f"P{i:05d}",
            "GP_Practice_Name": f"Practice {i}",
            "ICB": "QAA" if i % 2 else "QBB",
            "ICBname": "NHS Alpha ICB" if i % 2 else "NHS Beta ICB",
            "Rcode": "Y01",
            "Region": "NHS Somewhere",
            "LAD": f"E0{i % 3}",
            "LTLA": f"District {i % 3}",
            "Population": str(1000 + i),
        }
    )
    for component in COMPONENTS.values():
        row[component] = str(1000 + i + (i % 5) * 10)
    for key, value in changes.items():
        row[{"G_A_WP": "G&A WP", "Mat_WP": "Mat WP", "MH_WP": "MH WP"}.get(key, key)] = value
    return row


def _write(path: Path, rows: list[dict[str, str]], header=HEADER_2025, bom=True) -> Path:
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(row.get(h, "") for h in header)
    return path


def _error(path: Path) -> str:
    with pytest.raises(ScenarioError) as info:
        read_weighted_populations(path)
    return str(info.value)


def test_bom_and_no_bom_read_the_same(tmp_path):
    """A file with or without a UTF-8 byte-order mark reads to the same frame."""
    rows = [_row(i) for i in range(1, 6)]
    with_bom = read_weighted_populations(_write(tmp_path / "bom.csv", rows, bom=True))
    without = read_weighted_populations(_write(tmp_path / "plain.csv", rows, bom=False))
    assert (tmp_path / "bom.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    pd.testing.assert_frame_equal(with_bom, without, check_exact=True)
    assert with_bom["practice"].tolist() == [f"P{i:05d}" for i in range(1, 6)]


def test_2024_layout_reads_with_sub_icbs(tmp_path):
    """The 2024/25 column names (ICS22, R22, pop 2022/23, CCG21...) map to the same standard columns."""
    rows = [_row(i) for i in range(1, 4)]
    for r in rows:
        r["CCG"], r["Former CCG"] = "01A", "NHS Old CCG"
    renamed = [dict(zip(HEADER_2024, (r[h] for h in HEADER_2025), strict=True)) for r in rows]
    frame = read_weighted_populations(_write(tmp_path / "old.csv", renamed, header=HEADER_2024))
    new = read_weighted_populations(_write(tmp_path / "new.csv", rows))
    pd.testing.assert_frame_equal(frame, new, check_exact=True)
    assert frame["sub_icb"].tolist() == ["01A"] * 3


def test_missing_column_names_what_was_expected(tmp_path):
    """A file without 'MH WP' or a population column is refused at line 1, saying which names would do."""
    header = [h for h in HEADER_2025 if h not in ("MH WP", "Population")]
    message = _error(_write(tmp_path / "short.csv", [_row(1)], header=header))
    assert "short.csv:1:" in message
    assert "missing column for mental_health: expected a column named 'MH WP'" in message
    assert (
        "missing column for population: expected a column named 'Population' or 'pop <YYYY/YY>'"
        in message
    )


def test_misspelt_column_gets_a_suggestion(tmp_path):
    """A misspelt required column is named with the closest header found."""
    header = ["Populaton" if h == "Population" else h for h in HEADER_2025]
    rows = [{**_row(1), "Populaton": "5"}]
    assert "did you mean 'Populaton'" in _error(_write(tmp_path / "typo.csv", rows, header=header))


def test_non_numeric_population_names_row_and_column(tmp_path):
    """A population that is not a number is reported with its line (header = 1) and column."""
    rows = [_row(1), _row(2), _row(3, Population="about 4k")]
    message = _error(_write(tmp_path / "text.csv", rows))
    assert "text.csv:4: column 'Population': expected a number, found 'about 4k'" in message


def test_non_numeric_weighted_population_names_row_and_column(tmp_path):
    """A weighted population that is not a number is reported with its line and column."""
    message = _error(_write(tmp_path / "wp.csv", [_row(1), _row(2, G_A_WP="n/a")]))
    assert "wp.csv:3: column 'G&A WP': expected a number, found 'n/a'" in message


def test_negative_values_are_refused(tmp_path):
    """A negative population or weighted population is refused, naming line and column."""
    message = _error(
        _write(tmp_path / "neg.csv", [_row(1, Population="-12"), _row(2, MH_WP="-0.5")])
    )
    assert (
        "neg.csv:2: column 'Population': expected a number of people (0 or more), found '-12'"
        in message
    )
    assert (
        "neg.csv:3: column 'MH WP': expected a number of people (0 or more), found '-0.5'"
        in message
    )


def test_missing_and_infinite_values_are_refused(tmp_path):
    """An empty cell or 'inf' in a numeric column, or an empty ICB code, is refused."""
    rows = [_row(1, Population=""), _row(2, Mat_WP="inf"), _row(3, ICB="")]
    message = _error(_write(tmp_path / "gaps.csv", rows))
    assert "gaps.csv:2: column 'Population': missing value: expected a number" in message
    assert "gaps.csv:3: column 'Mat WP': expected a finite number, found 'inf'" in message
    assert "gaps.csv:4: column 'ICB': missing value" in message


def test_zero_values_are_accepted(tmp_path):
    """A zero maternity (or any) weighted population is a valid zero."""
    frame = read_weighted_populations(_write(tmp_path / "zero.csv", [_row(1, Mat_WP="0"), _row(2)]))
    assert frame["maternity"].tolist()[0] == 0.0


def test_empty_files_are_refused(tmp_path):
    """An empty file, a file of just a BOM, and a header with no rows each get one clear error."""
    (tmp_path / "empty.csv").write_bytes(b"")
    assert "empty.csv:1: (file): the file is empty" in _error(tmp_path / "empty.csv")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf")
    assert "the file is empty" in _error(tmp_path / "bom.csv")
    assert "no practice rows" in _error(_write(tmp_path / "header.csv", []))


def test_missing_file_is_a_scenario_error(tmp_path):
    """A path with no file behind it is a ScenarioError naming the path."""
    assert "nowhere.csv: (file): no such file" in _error(tmp_path / "nowhere.csv")


def test_every_problem_is_collected_in_one_error(tmp_path):
    """Problems in several rows come in one error, in line order, capped at 20 with a count of the rest."""
    rows = [_row(i, Population="x") for i in range(1, 31)]
    with pytest.raises(ScenarioError) as info:
        read_weighted_populations(_write(tmp_path / "bad.csv", rows))
    problems = info.value.problems
    assert len(problems) == 21
    assert [p.line for p in problems[:20]] == list(range(2, 22))
    assert "and 10 more problems" in problems[-1].message


def test_line_numbers_count_blank_lines_and_quoted_line_breaks(tmp_path):
    """Blank lines are skipped but counted, and a name with a line break inside quotes moves later lines."""
    path = _write(tmp_path / "breaks.csv", [_row(1, GP_Practice_Name="Two\nLines"), _row(2)])
    text = path.read_text(encoding="utf-8-sig") + "\r\n"
    text += ",".join(_row(3, Population="?").get(h, "") for h in HEADER_2025) + "\r\n"
    path.write_text(text, encoding="utf-8")
    # header 1, row 1 on lines 2-3, row 2 on 4, blank 5, bad row on 6
    assert "breaks.csv:6: column 'Population': expected a number, found '?'" in _error(path)


def test_repeated_practice_and_ragged_rows_are_refused(tmp_path):
    """A practice listed twice, or a row with too many fields, is refused naming the line."""
    assert (
        "dup.csv:3: column 'Practice_Code': practice P00001 repeated (first on line 2)"
        in _error(_write(tmp_path / "dup.csv", [_row(1), _row(1)]))
    )
    path = _write(tmp_path / "ragged.csv", [_row(1)])
    path.write_text(path.read_text(encoding="utf-8-sig") + "x," * 40 + "\n", encoding="utf-8")
    assert re.search(r"ragged\.csv:3: \(file\): cannot split into columns: .*saw 41", _error(path))


# --- England's organisations -------------------------------------------------


def test_scenario_organisations_2024_25_shape(england_2024):
    """2024/25 gives 7 regions, 42 systems and 106 sub-ICB commissioners, with valid, unique ids."""
    orgs = scenario_organisations(england_2024)
    assert [len(orgs[k]) for k in ("regions", "systems", "commissioners")] == [7, 42, 106]
    ids = [o["id"] for group in orgs.values() for o in group]
    assert all(ID.match(i) for i in ids) and len(set(ids)) == len(ids)
    regions = {r["id"] for r in orgs["regions"]}
    systems = {s["id"] for s in orgs["systems"]}
    assert all(s["region"] in regions for s in orgs["systems"])
    assert all(c["system"] in systems for c in orgs["commissioners"])
    first = next(c for c in orgs["commissioners"] if c["id"] == "16C")
    assert first["system"] == "QHM" and first["name"] == "NHS Tees Valley CCG"
    assert set(first["weights"]) == set(COMPONENTS)
    assert first["weighted_population"] == first["weights"]["core"]
    total = sum(c["population"] for c in orgs["commissioners"])
    assert total == pytest.approx(england_2024["population"].sum(), rel=1e-12)


def test_scenario_organisations_validate_as_a_scenario_section(england_2024):
    """The section validates against the scenario's Organisations model (weights kept once the model has them)."""
    orgs = scenario_organisations(england_2024)
    if "weights" not in Commissioner.model_fields:
        orgs["commissioners"] = [
            {k: v for k, v in c.items() if k != "weights"} for c in orgs["commissioners"]
        ]
    model = Organisations.model_validate(orgs)
    assert len(model.commissioners) == 106


def test_scenario_organisations_2025_26_has_one_commissioner_per_icb(england_2025):
    """With no sub-ICB codes, each ICB gets one commissioner, id '<ICB>_icb', in its own system."""
    orgs = scenario_organisations(england_2025)
    assert len(orgs["commissioners"]) == 42
    assert all(c["id"] == f"{c['system']}_icb" for c in orgs["commissioners"])
    with pytest.raises(ValueError, match="no sub-ICB location"):
        scenario_organisations(england_2025, commissioners="sub_icb")


def test_split_sub_icb_goes_to_the_icb_with_most_population(tmp_path):
    """A sub-ICB code whose practices lie in two ICBs joins the larger share, with a DataWarning."""
    rows = [_row(i, CCG="01A" if i < 4 else "02B") for i in range(1, 7)]
    # 01A: practices 1 and 2 in Beta (2,003 people), 3 in Alpha (5,000); 02B: 4 and 6 in Beta
    # (2,010), 5 in Alpha (1,005).
    rows[0].update(ICB="QBB", ICBname="NHS Beta ICB")
    rows[2].update(Population="5000")
    frame = read_weighted_populations(_write(tmp_path / "split.csv", rows))
    splits = split_bodies(frame, "sub_icb", "icb")
    assert set(splits["sub_icb"]) == {"01A", "02B"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        orgs = scenario_organisations(frame)
    assert any(issubclass(w.category, DataWarning) and "01A" in str(w.message) for w in caught)
    system = {c["id"]: c["system"] for c in orgs["commissioners"]}
    assert system["01A"] == "QAA" and system["02B"] == "QBB"


# --- the example script -------------------------------------------------------


def _run_example(*args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )


def test_england_2024_example_runs():
    """examples/england_2024.py builds England from the packaged 2024/25 edition, prints its tables, exits 0."""
    done = _run_example()
    assert done.returncode == 0, done.stderr
    assert "Regions: 7   ICBs: 42   commissioners: 106" in done.stdout
    assert (
        "North East and Yorkshire" in done.stdout
        and "Total of targets: GBP 90,000.0m" in done.stdout
    )
    assert "Leeds" in done.stdout


def test_england_2024_example_exits_2_for_a_missing_file(tmp_path):
    """Given a path with no file, the example prints one clear message and exits 2, no traceback."""
    done = _run_example(str(tmp_path / "missing.csv"))
    assert done.returncode == 2
    assert "neither a packaged edition" in done.stderr and "missing.csv" in done.stderr
    assert "Traceback" not in done.stderr
