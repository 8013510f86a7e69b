"""Board-ready outputs: the workbook's plan layout of surplus by organisation and year, names
beside ids, the comparison of scheme variants (its figures recomputed here from the
replications), its sheet and report section, the report's print stylesheet, and --excel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest

import finsim
from finsim import export
from finsim.comparison import comparison
from finsim.plan_sheet import PLAN_FORMAT
from finsim.report import report_html
from finsim.stress import wilson_interval

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "examples" / "two_systems.yaml"
REGIONAL = ROOT / "examples" / "regional_control_total_2019.yaml"
YEARS = ["2017/18", "2018/19", "2019/20"]


@pytest.fixture(scope="module")
def run() -> finsim.Results:
    return finsim.run(finsim.load_scenario(TWO), replications=30, seed=3)


@pytest.fixture(scope="module")
def book(run: finsim.Results, tmp_path_factory: pytest.TempPathFactory) -> openpyxl.Workbook:
    path = export.to_excel(run, tmp_path_factory.mktemp("board") / "run.xlsx")
    return openpyxl.load_workbook(path)


@pytest.fixture(scope="module")
def ics() -> finsim.StressResults:
    from tests.test_stress import ics_with_side_payments

    return finsim.stress(ics_with_side_payments(), ["own_only", "fully_system"], 40, seed=1)


def plan(sheet: openpyxl.worksheet.worksheet.Worksheet) -> pd.DataFrame:
    """A plan-layout sheet read back: code, organisation, type and a column per year."""
    rows = list(sheet.iter_rows(values_only=True))
    header = next(i for i, row in enumerate(rows) if row[0] == "Code")
    frame = pd.DataFrame(rows[header + 1 :], columns=list(rows[header]))
    frame[["Code", "Type"]] = frame[["Code", "Type"]].astype(object).where(frame.notna(), None)
    return frame


# -- the plan layout -----------------------------------------------------------------------
def test_the_board_sheets_come_first(book):
    """README, then surplus by organisation and year (mean, 5th, 95th), then the tables."""
    assert book.sheetnames[:4] == [
        "README",
        "Surplus (mean)",
        "Surplus (5th percentile)",
        "Surplus (95th percentile)",
    ]
    described = [row[0] for row in book["README"].iter_rows(values_only=True)]
    assert {"Surplus (mean)", "Surplus (95th percentile)", "positions"} <= set(described)


def test_rows_are_regions_systems_and_their_members_hand_checked(book):
    """examples/two_systems.yaml: Midlands holds North Shire (2 CCGs, 2 providers) and South
    Shire (2 CCGs, 2 providers); NHS England's account sits outside the regions."""
    sheet = plan(book["Surplus (mean)"])
    assert sheet["Code"].tolist() == [
        "midlands",
        "north_shire",
        "ne_ccg",
        "nw_ccg",
        "north_acute",
        "north_community",
        "north_shire",
        "south_shire",
        "sc_ccg",
        "sr_ccg",
        "south_acute",
        "south_mh",
        "south_shire",
        "midlands",
        None,
        "nhse",
        None,
    ]
    named = dict(zip(sheet["Code"], sheet["Organisation"], strict=False))
    assert named["north_acute"] == "North Shire Hospitals NHS FT"
    assert named["sr_ccg"] == "South Rural CCG"
    assert sheet["Organisation"].iloc[-1] == "England"
    assert "Total North Shire STP" in sheet["Organisation"].tolist()
    assert list(sheet.columns[3:]) == YEARS


def test_totals_are_the_sums_of_their_members_and_the_run_s_means(book, run):
    """Each system total is the sum of its members, the region's the sum of its systems,
    England's the region plus NHS England; every figure is the run's mean surplus."""
    sheet = plan(book["Surplus (mean)"]).set_index(["Code", "Type"])[YEARS]
    members = {
        "north_shire": ["ne_ccg", "nw_ccg", "north_acute", "north_community"],
        "south_shire": ["sc_ccg", "sr_ccg", "south_acute", "south_mh"],
    }
    for system, orgs in members.items():
        body_rows = sheet.loc[[(o, t) for o, t in sheet.index if o in orgs]]
        np.testing.assert_allclose(
            sheet.loc[(system, "system total")].to_numpy(float), body_rows.sum().to_numpy()
        )
    systems = sheet.loc[[("north_shire", "system total"), ("south_shire", "system total")]]
    region = sheet.loc[("midlands", "region total")].to_numpy(float)
    np.testing.assert_allclose(region, systems.sum().to_numpy(float))
    england = sheet.loc[(None, "England total")].to_numpy(float)
    np.testing.assert_allclose(england, region + sheet.loc[("nhse", "centre")].to_numpy(float))
    positions = run.positions
    by_hand = positions.groupby(["fy", "org"])["surplus"].mean()
    for org in members["north_shire"]:
        got = sheet.loc[[(o, t) for o, t in sheet.index if o == org]].iloc[0]
        np.testing.assert_allclose(got.to_numpy(float), [by_hand[(fy, org)] for fy in YEARS])
    total = positions.groupby(["replication", "fy"])["surplus"].sum().groupby("fy").mean()
    np.testing.assert_allclose(england, total.loc[YEARS].to_numpy(), rtol=1e-9)


def test_percentile_sheets_hold_the_percentile_of_each_total(book, run):
    """The 5th percentile of a total is its own, not the sum of its members' 5th percentiles."""
    sheet = plan(book["Surplus (5th percentile)"]).set_index(["Code", "Type"])[YEARS]
    summary = run.summary().set_index(["level", "name", "fy"])["surplus_p05"]
    np.testing.assert_allclose(
        sheet.loc[("north_shire", "system total")].to_numpy(float),
        [summary[("system", "north_shire", fy)] for fy in YEARS],
    )
    np.testing.assert_allclose(
        sheet.loc[("south_acute", "provider")].to_numpy(float),
        [summary[("org", "south_acute", fy)] for fy in YEARS],
    )


def test_plan_sheets_are_formatted_for_a_board(book):
    """Negatives in brackets (#,##0.0;(#,##0.0)), panes frozen below the years and right of
    the names, columns wide enough for the names, A4 landscape."""
    ws = book["Surplus (mean)"]
    numbers = [c for row in ws.iter_rows() for c in row if isinstance(c.value, float)]
    assert numbers and all(c.number_format == PLAN_FORMAT for c in numbers)
    assert PLAN_FORMAT == "#,##0.0;(#,##0.0)"
    header = next(c.row for c in ws["A"] if c.value == "Code")
    assert ws.freeze_panes == f"D{header + 1}"
    longest = max(len(str(c.value or "")) for c in ws["B"][header:])
    assert ws.column_dimensions["B"].width >= longest
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9


def test_own_accounts_in_use_get_a_row_and_totals_still_add_up(tmp_path):
    """Under a top slice the region keeps money in its own account: it has a row, and the
    region total is its systems plus that row."""
    scenario = finsim.load_scenario(REGIONAL, variant="top_slice")
    res = finsim.run(scenario, replications=5, seed=1)
    ws = openpyxl.load_workbook(export.to_excel(res, tmp_path / "r.xlsx", tables=[]))
    sheet = plan(ws["Surplus (mean)"])
    year = res.years[0]
    own = sheet[sheet["Type"] == "own account"]
    assert own["Organisation"].tolist() == ["Midlands (own account)"]
    systems = sheet.loc[sheet["Type"] == "system total", year].sum()
    region = sheet.loc[sheet["Type"] == "region total", year].iloc[0]
    assert region == pytest.approx(systems + own[year].iloc[0], abs=1e-9)
    assert own[year].iloc[0] != 0


def test_long_tables_have_names_beside_ids(book, run):
    """org_name after org, source_name after source...; the summary's name has its
    organisation (an own account and England named too)."""
    names = dict(zip(run.economy.ids, run.economy.names, strict=True))
    sheet = book["positions"]
    header = [c.value for c in sheet[1]]
    assert header[header.index("org") + 1] == "org_name"
    assert header[header.index("system") + 1] == "system_name"
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    for row in rows[:50]:
        assert row[header.index("org_name")] == names[row[header.index("org")]]
    flows = [c.value for c in book["flows"][1]]
    assert flows[flows.index("source") + 1] == "source_name"
    summary = book["summary"]
    header = [c.value for c in summary[1]]
    assert header[header.index("name") + 1] == "organisation"
    pairs = {
        row[header.index("name")]: row[header.index("organisation")]
        for row in summary.iter_rows(min_row=2, values_only=True)
    }
    assert pairs["north_shire"] == "North Shire STP"
    assert pairs["midlands (own account)"] == "Midlands (own account)"
    assert pairs["England"] == "England"


# -- the comparison ------------------------------------------------------------------------
def system_totals(res: finsim.Results, column: str) -> pd.Series:
    """Each system's total (members and own account), per replication and year."""
    pos = res.positions
    system = pos["system"].where(pos["org_type"] != "system", pos["org"])
    return pos[column].groupby([pos["replication"], pos["fy"], system]).sum()


def test_comparison_figures_are_those_of_the_replications(ics):
    """Probability of meeting = mean of the met flags, with its Wilson interval; expected
    shortfall = mean of the worst 5%; shortfall against the total = mean of max(0, total -
    surplus); paired difference = mean of the differences, se = sd / sqrt(n)."""
    table = comparison(ics, levels=["system"]).set_index(["variant", "name", "fy"])
    fy, R = "2018/19", 40
    changed = 0
    for variant, res in ics.results.items():
        pos = res.positions
        own = pos[pos["org_type"] == "system"].set_index(["org", "replication"])
        before = system_totals(res, "surplus_before_incentives").xs(fy, level="fy")
        for system in own.index.get_level_values("org").unique():
            row = table.loc[(variant, system, fy)]
            met = own.loc[system, "met_system_control_total"].astype(float).to_numpy()
            assert row["p_met"] == pytest.approx(met.mean())
            low, high = wilson_interval(np.array([met.sum()]), np.array([R]))
            assert row["p_met_low"] == pytest.approx(low[0])
            assert row["p_met_high"] == pytest.approx(high[0])
            values = before.xs(system, level=-1).to_numpy()
            assert row["surplus_before_incentives_mean"] == pytest.approx(values.mean())
            assert row["worst5_mean"] == pytest.approx(np.sort(values)[:2].mean())
            total = own.loc[system, "system_control_total"].to_numpy()
            assert row["ct_shortfall_mean"] == pytest.approx(np.maximum(total - values, 0).mean())
            if variant == "own_only":
                assert np.isnan(row["surplus_diff"])
                continue
            base = ics.results["own_only"]
            base_own = base.positions[base.positions["org_type"] == "system"]
            base_met = base_own.set_index(["org", "replication"]).loc[system]
            d_met = met - base_met["met_system_control_total"].astype(float).to_numpy()
            assert row["p_met_diff"] == pytest.approx(d_met.mean(), abs=1e-12)
            assert row["p_met_diff_se"] == pytest.approx(d_met.std(ddof=1) / np.sqrt(R), abs=1e-12)
            after = system_totals(res, "surplus") - system_totals(base, "surplus")
            d = after.xs((fy, system), level=[1, 2]).to_numpy()
            assert row["surplus_diff"] == pytest.approx(d.mean(), abs=1e-9)
            assert row["surplus_diff_se"] == pytest.approx(d.std(ddof=1) / np.sqrt(R), abs=1e-9)
            changed += abs(d.mean()) > 0.1
    assert changed  # some systems move: the test can tell a wrong pairing


def test_comparison_incentives_are_the_sum_of_the_bodies(ics):
    """Earned and lost for a system, a region and England are the sums of incentives()."""
    table = comparison(ics, levels=["england", "system"])
    bodies = ics.incentives()
    orgs = ics.results["own_only"].economy.org_table().set_index("org")
    bodies = bodies.assign(system=bodies["org"].map(orgs["system"]))
    for variant in ics.variants:
        mine = table[table["variant"] == variant].set_index("name")
        theirs = bodies[bodies["variant"] == variant]
        assert mine.loc["England", "incentive_earned_mean"] == pytest.approx(
            theirs["earned_mean"].sum()
        )
        by_system = theirs.groupby("system")[["earned_mean", "lost_mean", "allocation"]].sum()
        for system, row in by_system.iterrows():
            assert mine.loc[system, "incentive_earned_mean"] == pytest.approx(row["earned_mean"])
            assert mine.loc[system, "incentive_lost_mean"] == pytest.approx(row["lost_mean"])
            assert mine.loc[system, "incentive_allocation"] == pytest.approx(row["allocation"])


def test_comparison_agrees_with_difference_under_antithetic_pairs():
    """Mirrored pairs are averaged before the standard error, as difference() does."""
    scenario = finsim.load_scenario(TWO)
    st = finsim.stress(scenario, ["baseline", "high_demand"], 20, seed=2, antithetic=True)
    table = comparison(st, levels=["system"])
    table = table[table["variant"] == "high_demand"].set_index(["fy", "name"])
    diff = st.difference("baseline", "high_demand", level="system").set_index(["fy", "system"])
    diff = diff.loc[table.index]
    np.testing.assert_allclose(table["surplus_diff"], diff["mean"], atol=1e-9)
    np.testing.assert_allclose(table["surplus_diff_se"], diff["se"], atol=1e-9)
    with pytest.raises(KeyError, match="no variant 'nope'"):
        comparison(st, "nope")
    with pytest.raises(ValueError, match="levels"):
        comparison(st, levels=["nation"])


def test_stress_workbook_holds_the_comparison_and_the_variants_side_by_side(ics, tmp_path):
    """The Comparison sheet's figures are comparison()'s; Surplus (mean) has each variant's
    years; the README names the baseline, seed, replications and units."""
    book = openpyxl.load_workbook(ics.to_excel(tmp_path / "s.xlsx"))
    assert book.sheetnames[:3] == ["README", "Comparison", "Surplus (mean)"]
    assert "differences" in book.sheetnames
    readme = {r[0]: r[1] for r in book["README"].iter_rows(values_only=True) if r[0]}
    assert readme["Baseline"].startswith("own_only")
    assert readme["Seed"] == 1 and readme["Replications"] == 40
    assert "GBP million" in readme["Units"]
    assert "worst 5%" in readme["Expected shortfall"]
    rows = list(book["Comparison"].iter_rows(values_only=True))
    header = next(i for i, r in enumerate(rows) if r[0] == "Level")
    sheet = pd.DataFrame(rows[header + 1 :], columns=rows[header])
    table = ics.comparison()
    assert len(sheet) == len(table)
    np.testing.assert_allclose(
        sheet["P(meet control total)"].astype(float), table["p_met"], equal_nan=True
    )
    np.testing.assert_allclose(
        sheet["Δ surplus after incentives vs own_only"].astype(float),
        table["surplus_diff"],
        equal_nan=True,
    )
    cell = book["Comparison"].cell(
        row=header + 2, column=rows[header].index("Incentive earned on the tests") + 1
    )
    assert cell.number_format == PLAN_FORMAT
    surplus = list(book["Surplus (mean)"].iter_rows(values_only=True))
    code = next(i for i, r in enumerate(surplus) if r[0] == "Code")
    assert surplus[code - 1][3:] == ("own_only", "fully_system")
    england = surplus[-1]
    for j, variant in enumerate(ics.variants):
        summary = ics.results[variant].summary()
        mean = summary.loc[summary["level"] == "england", "surplus_mean"].iloc[0]
        assert england[3 + j] == pytest.approx(mean)


# -- the report ------------------------------------------------------------------------------
def test_the_interval_is_labelled_at_the_confidence_it_was_computed_at(ics, tmp_path):
    """At 80% the workbook's headers and the report say 80%, over the 80% interval."""
    import dataclasses

    from finsim import report

    at80 = dataclasses.replace(ics, confidence=0.8)
    at80.to_excel(tmp_path / "c80.xlsx")
    rows = list(
        openpyxl.load_workbook(tmp_path / "c80.xlsx")["Comparison"].iter_rows(values_only=True)
    )
    header = next(r for r in rows if r[0] == "Level")
    assert "80% interval: low" in header and "95% interval: low" not in header
    report.MAX_CHARTED, kept = 1, report.MAX_CHARTED
    try:
        html = report_html(at80.results["own_only"], None, at80)
    finally:
        report.MAX_CHARTED = kept
    assert "80% Wilson interval" in html and "95% Wilson" not in html
    assert "[80% interval]" in html


def test_report_prints_on_a4_with_nothing_folded_away(ics):
    """A print stylesheet (A4, a page per section), no <details>, and the comparison with
    its figures."""
    from finsim import report

    report.MAX_CHARTED, kept = 1, report.MAX_CHARTED
    try:
        page = report_html(ics.results["own_only"], None, ics)
    finally:
        report.MAX_CHARTED = kept
    assert "@media print" in page and "@page { size: A4" in page
    assert "break-before: page" in page
    assert "<details" not in page and "<script" not in page
    assert "Comparison against own_only" in page
    table = ics.comparison()
    row = table[(table["name"] == "midlands") & (table["variant"] == "own_only")].iloc[0]
    assert f"{row['p_met']:.0%} [{row['p_met_low']:.0%}, {row['p_met_high']:.0%}]" in page


# -- the command line ------------------------------------------------------------------------
def test_run_and_stress_write_a_workbook_with_excel(tmp_path, capsys):
    """--excel FILE writes the workbook; a name not ending in .xlsx is one error, exit 2,
    before anything runs."""
    from finsim.cli import main

    path = tmp_path / "run.xlsx"
    assert main(["run", str(TWO), "-n", "5", "--excel", str(path)]) == 0
    assert openpyxl.load_workbook(path).sheetnames[:2] == ["README", "Surplus (mean)"]
    assert f"Wrote the workbook to {path}" in capsys.readouterr().out
    stressed = tmp_path / "stress.xlsx"
    args = ["stress", str(TWO), "--variants", "baseline,high_demand", "-n", "5"]
    assert main([*args, "--excel", str(stressed)]) == 0
    assert openpyxl.load_workbook(stressed).sheetnames[1] == "Comparison"
    capsys.readouterr()
    assert main(["run", str(TWO), "--excel", str(tmp_path / "run.csv")]) == 2
    err = capsys.readouterr().err
    assert "--excel" in err and ".xlsx" in err and "Traceback" not in err
    assert main([*args, "--excel", str(tmp_path)]) == 2
    assert not (tmp_path / "run.csv").exists()
