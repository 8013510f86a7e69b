"""Results export to an Excel workbook and summarise themselves as HTML for notebooks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml

import finsim
from finsim import export
from finsim.errors import ResultsError

HOSTILE = "<script>alert(1)</script>"
#: The sheets of surplus by organisation and year that open a run's workbook.
PLAN = ["Surplus (mean)", "Surplus (5th percentile)", "Surplus (95th percentile)"]


@pytest.fixture(scope="module")
def scenario() -> finsim.Scenario:
    return finsim.load_scenario(Path(__file__).parent.parent / "examples" / "two_systems.yaml")


@pytest.fixture(scope="module")
def results(scenario: finsim.Scenario) -> finsim.Results:
    return finsim.run(scenario, replications=4, seed=7, keep_journal=False, keep_monthly=False)


@pytest.fixture(scope="module")
def workbook(results: finsim.Results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export.to_excel(results, tmp_path_factory.mktemp("excel") / "run.xlsx")


def renamed(scenario: finsim.Scenario, name: str, system_name: str | None = None) -> Any:
    """The example, as YAML text read by loads_scenario, with a new scenario (and system) name."""
    data = scenario.to_data()
    data["scenario"]["name"] = name
    if system_name is not None:
        data["organisations"]["systems"][0]["name"] = system_name
    return finsim.loads_scenario(yaml.safe_dump(data), source=f"{HOSTILE}.yaml")


def readme(path: Path) -> dict[str, Any]:
    """The README sheet's label -> value lines (and sheet -> description lines)."""
    sheet = openpyxl.load_workbook(path)["README"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row[0] is not None}


def assert_same(read: pd.DataFrame, frame: pd.DataFrame) -> None:
    named = [c for c in read.columns if c not in frame.columns]  # names beside ids
    assert all(c.endswith("_name") or c == "organisation" for c in named), named
    read = read.drop(columns=named)
    assert list(read.columns) == list(frame.columns)
    assert len(read) == len(frame)
    for column in frame.columns:
        want, got = frame[column], read[column]
        if pd.api.types.is_numeric_dtype(want.dtype) and not pd.api.types.is_bool_dtype(want):
            np.testing.assert_allclose(
                got.to_numpy(float), want.to_numpy(float), rtol=1e-12, equal_nan=True
            )
        else:
            # gaps (NaN, NA, None) read back as NaN; everything else as written
            want_values = [None if pd.isna(v) else v for v in want.astype(object)]
            got_values = [None if pd.isna(v) else v for v in got.astype(object)]
            assert got_values == want_values, column


# -- the workbook ----------------------------------------------------------------------------
def test_workbook_has_a_readme_then_a_sheet_per_table(results, workbook):
    """The first sheet is README; then surplus by organisation and year (the mean, the 5th and
    95th percentiles); then one sheet per table of results.tables(), in order."""
    sheets = openpyxl.load_workbook(workbook).sheetnames
    assert sheets == ["README", *PLAN, *results.tables()]


def test_readme_says_what_was_run_and_what_each_sheet_holds(results, workbook):
    """README names the scenario, source, variant, seed, replications, version, units, the
    time it was made, and has a line for every sheet."""
    lines = readme(workbook)
    assert lines["Scenario"] == "Two systems, one region"
    assert lines["Source file"] == results.source
    assert lines["Variant"] == "baseline"
    assert lines["Seed"] == 7
    assert lines["Replications"] == 4
    assert lines["finsim version"] == finsim.__version__
    assert lines["Units"] == "money in GBP million; tariff prices in GBP per unit"
    assert lines["Financial years"] == "2017/18 to 2019/20"
    assert lines["Created"].endswith("UTC")
    assert "GBP million" in lines["Units"]
    for name in [*PLAN, *results.tables()]:
        assert lines[name]


def test_sheets_hold_the_tables(results, workbook):
    """Every table's sheet reads back (pandas.read_excel) equal to its DataFrame, with
    organisations' names beside their ids."""
    sheets = pd.read_excel(workbook, sheet_name=None)
    for name, frame in results.tables().items():
        assert_same(sheets[name], frame)


def test_money_and_probability_columns_have_number_formats(workbook):
    """Money columns show GBP m, probabilities percentages; ids and counts stay General."""
    book = openpyxl.load_workbook(workbook)
    summary = book["summary"]
    header = [c.value for c in summary[1]]
    row = {name: cell for name, cell in zip(header, summary[2], strict=True)}
    for money in ("surplus_mean", "surplus_p05", "income_mean", "control_total"):
        assert row[money].number_format == export.MONEY_FORMAT
    for probability in ("p_deficit", "p_met_control_total"):
        assert row[probability].number_format == export.PERCENT_FORMAT
    assert row["fy"].number_format == "General"
    positions = book["positions"]
    header = [c.value for c in positions[1]]
    last = {name: cell for name, cell in zip(header, positions[positions.max_row], strict=True)}
    for money in ("income", "expenditure", "surplus", "capital_expenditure"):
        assert last[money].number_format == export.MONEY_FORMAT
    assert last["replication"].number_format == "General"
    flows = book["flows"]
    amount = [c.value for c in flows[1]].index("amount") + 1
    assert flows.cell(row=2, column=amount).number_format == export.MONEY_FORMAT


def test_headers_are_bold_frozen_and_columns_sized(results, workbook):
    """Each table sheet's header row is bold and frozen, with a filter and widened columns."""
    book = openpyxl.load_workbook(workbook)
    for name in results.tables():
        sheet = book[name]
        assert sheet.freeze_panes == "A2"
        assert all(cell.font.b for cell in sheet[1])
        assert sheet.auto_filter.ref
        assert sheet.column_dimensions["A"].width >= len(str(sheet["A1"].value))


@pytest.mark.parametrize(
    ("column", "values", "expected"),
    [
        ("surplus", [1.0, -2.0], export.MONEY_FORMAT),
        ("system_control_total", [1.0, np.nan], export.MONEY_FORMAT),
        ("net_subsidy_received_mean", [1.0], export.MONEY_FORMAT),
        ("surplus_p95", [1.0], export.MONEY_FORMAT),
        ("amount", pd.Series([1.5, None], dtype=object), export.MONEY_FORMAT),
        ("p_deficit", [0.5], export.PERCENT_FORMAT),
        ("growth", [0.03], export.PERCENT_FORMAT),
        ("case_mix", [1.01], export.INDEX_FORMAT),
        ("replication", [0, 1], None),
        ("month", [12], None),
        ("met_control_total", pd.array([True, None], dtype="boolean"), None),
        ("target", ["nhse"], None),  # a flow's target is an account, not money
    ],
)
def test_number_format_by_column(column, values, expected):
    """Columns are formatted by what their name says they hold, numbers only."""
    assert export.number_format(column, pd.Series(values)) == expected


def test_sheet_names_are_short_valid_and_unique():
    """Sheet names fit Excel: at most 31 characters, no []:*?/\\, unique whatever the case."""
    long = "a_mechanism_table_with_a_long_name"
    names = export.sheet_names(["README", "readme", long, long + "_too", "odd:name?"])
    sheets = list(names.values())
    assert all(len(s) <= 31 for s in sheets)
    assert len({s.casefold() for s in sheets}) == len(sheets)
    assert names["README"] == "README" and names["odd:name?"] == "odd_name_"


def test_tables_chooses_and_orders_sheets(results, tmp_path):
    """tables= writes only the named tables, in the order given."""
    path = export.to_excel(results, tmp_path / "some.xlsx", tables=["summary", "positions"])
    assert openpyxl.load_workbook(path).sheetnames == ["README", *PLAN, "summary", "positions"]
    bare = export.to_excel(results, tmp_path / "bare.xlsx", tables=["summary"], plan=False)
    assert openpyxl.load_workbook(bare).sheetnames == ["README", "summary"]
    one = export.to_excel(results, tmp_path / "one.xlsx", tables=[], percentiles=[0.1])
    assert openpyxl.load_workbook(one).sheetnames == [
        "README",
        PLAN[0],
        "Surplus (10th percentile)",
    ]
    with pytest.raises(ValueError, match="whole percents"):
        export.to_excel(results, tmp_path / "bad.xlsx", percentiles=[0.025])
    with pytest.raises(ResultsError, match="no table 'sumary'"):
        export.to_excel(results, tmp_path / "bad.xlsx", tables=["sumary"])


def test_a_table_longer_than_a_sheet_is_refused_naming_the_option(results, tmp_path, monkeypatch):
    """A table with more rows than a sheet holds is refused, naming tables= and to_parquet."""
    monkeypatch.setattr(export, "EXCEL_MAX_ROWS", 100)
    with pytest.raises(ResultsError, match="positions.*tables=.*to_parquet"):
        export.to_excel(results, tmp_path / "big.xlsx")
    assert list(tmp_path.iterdir()) == []
    export.to_excel(results, tmp_path / "small.xlsx", tables=["summary"])  # 48 rows fit


def test_the_name_must_end_in_xlsx(results, tmp_path):
    """A workbook's name ends in .xlsx, or Excel refuses to open it."""
    with pytest.raises(ResultsError, match=r"\.xlsx"):
        export.to_excel(results, tmp_path / "run.csv")


def test_missing_openpyxl_names_the_extra(results, tmp_path, monkeypatch):
    """Without openpyxl, the error says which extra to install."""
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    with pytest.raises(ImportError, match=r"pip install 'finsim\[excel\]'"):
        export.to_excel(results, tmp_path / "run.xlsx")


def test_text_that_looks_like_a_formula_stays_text(scenario, tmp_path):
    """A scenario name starting with '=' is written as text, never as a formula."""
    res = finsim.run(renamed(scenario, "=HYPERLINK(1)"), replications=2, seed=1)
    path = export.to_excel(res, tmp_path / "run.xlsx", tables=["summary"])
    cell = next(
        row[1]
        for row in openpyxl.load_workbook(path)["README"].iter_rows()
        if row[0].value == "Scenario"
    )
    assert cell.data_type == "s" and cell.value == "=HYPERLINK(1)"


# -- atomic writes ---------------------------------------------------------------------------
def test_an_existing_file_is_replaced_whole_leaving_no_temporary_file(results, tmp_path):
    """Writing over a file replaces it whole; nothing else is left in the folder."""
    path = tmp_path / "run.xlsx"
    path.write_bytes(b"not a workbook, and longer than nothing" * 1000)
    export.to_excel(results, path, tables=["summary"])
    assert openpyxl.load_workbook(path).sheetnames == ["README", *PLAN, "summary"]
    assert list(tmp_path.iterdir()) == [path]


def test_a_failure_mid_write_leaves_the_old_file_untouched(results, tmp_path, monkeypatch):
    """If writing fails part way, the old workbook is as it was and no temporary file remains."""
    path = export.to_excel(results, tmp_path / "run.xlsx", tables=["summary"])
    before = path.read_bytes()

    def fail(*args: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "_format_sheet", fail)
    with pytest.raises(RuntimeError, match="disk full"):
        export.to_excel(results, path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


# -- HTML ------------------------------------------------------------------------------------
def test_results_html_summarises_the_run(results):
    """A run's HTML gives the scenario, variant, seed, replications, years, tables kept and the
    last year's surplus for England, the region and the systems."""
    page = export.results_html(results)
    for text in ("Two systems, one region", "baseline", "2017/18 to 2019/20", "England"):
        assert text in page
    assert "North Shire STP" in page and "Midlands" in page
    assert "2019/20" in page and "positions, flows" in page
    assert len(page) < 5000


def test_scenario_html_summarises_the_scenario(scenario):
    """A scenario's HTML gives its years, counts, contracts, mechanisms on and variants."""
    page = export.scenario_html(scenario)
    for text in (
        "Two systems, one region",
        "1 region, 2 systems, 4 commissioners, 4 providers",
        '<td style="text-align:left">9</td>',
        "contracts, costs",
        "high_demand, tight_tariff",
    ):
        assert text in page
    assert len(page) < 5000


def test_html_escapes_names_from_the_scenario_file(scenario):
    """Names written in a scenario file appear escaped: no markup of theirs reaches the page."""
    hostile = renamed(scenario, HOSTILE, system_name=HOSTILE)
    res = finsim.run(hostile, replications=2, seed=1)
    for page in (export.scenario_html(hostile), export.results_html(res)):
        assert "<script" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


class Run:
    """Just enough of a Results for to_excel without the plan sheets: one hand-made table,
    and an economy that names organisations."""

    scenario_name = "hand-made"

    def __init__(self, frame: pd.DataFrame, economy: Any) -> None:
        self.frame = frame
        self.economy = economy

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"events": self.frame}

    def metadata(self) -> dict[str, Any]:
        return {
            "scenario": "hand-made",
            "source": "",
            "variant": "baseline",
            "seed": 0,
            "replications": 1,
            "years": ["2018/19"],
            "finsim_version": finsim.__version__,
        }


def test_table_text_that_looks_like_a_formula_stays_text(results, tmp_path):
    """Text in a table starting with '=' is written as text; gaps stay empty."""
    frame = pd.DataFrame(
        {
            "event": ["transfer", "=1+1"],
            "amount": pd.Series([2.5, None], dtype=object),
            "met": pd.array([True, None], dtype="boolean"),
        }
    )
    run = Run(frame, results.economy)
    path = export.to_excel(run, tmp_path / "run.xlsx", plan=False)  # type: ignore[arg-type]
    sheet = openpyxl.load_workbook(path)["events"]
    assert sheet["A3"].data_type == "s" and sheet["A3"].value == "=1+1"
    assert sheet["B2"].value == 2.5 and sheet["B2"].number_format == export.MONEY_FORMAT
    assert sheet["B3"].value is None and sheet["C3"].value is None
    assert_same(pd.read_excel(path, sheet_name="events"), frame)


def test_results_and_scenario_show_html_in_a_notebook(results, scenario, tmp_path):
    """Jupyter calls _repr_html_; Results.to_excel is the method form of export.to_excel."""
    assert results._repr_html_() == export.results_html(results)
    assert scenario._repr_html_() == export.scenario_html(scenario)
    path = results.to_excel(tmp_path / "run.xlsx", tables=["summary"])
    assert openpyxl.load_workbook(path).sheetnames == ["README", *PLAN, "summary"]


def test_a_long_journal_is_left_out_unless_named(scenario, tmp_path, monkeypatch):
    res = finsim.run(scenario, replications=1, seed=1)
    assert "journal" in res.kept_tables
    monkeypatch.setattr(export, "JOURNAL_DEFAULT_ROWS", 10)
    default = openpyxl.load_workbook(res.to_excel(tmp_path / "a.xlsx")).sheetnames
    named = openpyxl.load_workbook(res.to_excel(tmp_path / "b.xlsx", tables=["journal"]))
    assert "journal" not in default and named.sheetnames == ["README", "Surplus (mean)", "journal"]
