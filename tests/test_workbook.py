"""Scenario workbooks (finsim.workbook): the template, the round trip YAML -> workbook -> YAML
on every example, and problems named by sheet and cell."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml

import finsim
from finsim.cli import main
from finsim.errors import ScenarioError
from finsim.scenario.validate import scenario_model
from finsim.workbook import convert, write_template, write_workbook
from finsim.workbook.layout import layout_of
from finsim.workbook.paths import parse_path, path_text

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
TWO = ROOT / "examples" / "two_systems.yaml"


@pytest.fixture(scope="module")
def two_systems(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("wb") / "two_systems.xlsx"
    convert(TWO, path)
    return path


def edited(source: Path, tmp_path: Path, edit: Any, name: str = "plan.xlsx") -> Path:
    """A copy of the workbook ``source`` changed by ``edit(book)``."""
    book = openpyxl.load_workbook(source)
    edit(book)
    out = tmp_path / name
    book.save(out)
    return out


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        finsim.load_scenario(path)
    return [str(p) for p in caught.value.problems]


def column(ws: Any, header: str) -> int:
    return next(c.column for c in ws[1] if c.value == header)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_example_goes_to_a_workbook_and_back_unchanged(example: Path, tmp_path: Path) -> None:
    """YAML -> workbook -> scenario gives the same document (extends resolved, variants
    kept) and the same validated model."""
    before = finsim.load_scenario(example)
    after = finsim.load_scenario(write_workbook(before, tmp_path / "scenario.xlsx"))
    assert after.to_data() == before.to_data()
    assert after.model == before.model
    assert after.variants == before.variants


def test_a_workbook_converts_to_a_yaml_file_that_stands_alone(tmp_path: Path) -> None:
    """convert resolves 'extends' (the file written stands alone) and keeps the variants."""
    (tmp_path / "base.yaml").write_text(TWO.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "mine.yaml").write_text(
        "extends: base.yaml\nscenario: {name: Mine}\n", encoding="utf-8"
    )
    before = finsim.load_scenario(tmp_path / "mine.yaml")
    book = convert(tmp_path / "mine.yaml", tmp_path / "out" / "mine.xlsx")
    back = convert(book, tmp_path / "back.yaml")
    written = yaml.safe_load(back.read_text(encoding="utf-8"))
    assert "extends" not in written and written["scenario"]["name"] == "Mine"
    assert written == before.to_data()
    assert finsim.load_scenario(back).model == before.model


def test_the_template_has_a_sheet_per_section_a_readme_and_drop_downs(tmp_path: Path) -> None:
    """Every section's sheet is there, the README describes columns, kinds are drop-downs."""
    path = write_template(tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(path)
    names = book.sheetnames
    for sheet in ("README", "scenario", "regions", "systems", "commissioners", "providers",
                  "allocations", "contracts", "costs.providers", "control_totals",
                  "control_totals.organisations", "incentives", "variants"):  # fmt: skip
        assert sheet in names
    assert set(names) - {"README"} == {s.name for s in layout_of(scenario_model()).sheets}
    readme = [row for row in book["README"].iter_rows(values_only=True)]
    assert ("providers", "kind") in {row[:2] for row in readme}
    kinds = book["providers"].data_validations.dataValidation
    assert any("mental_health" in str(v.formula1) for v in kinds)
    contracts = book["contracts"].data_validations.dataValidation
    assert any("'providers'!$A$2" in str(v.formula1) for v in contracts)


def test_the_empty_template_is_refused_naming_the_cells_to_fill(tmp_path: Path) -> None:
    """An unfilled template names the required cells, not a traceback."""
    found = problems_of(write_template(tmp_path / "template.xlsx"))
    assert any("scenario!B" in p and "'scenario'" in p for p in found)


def test_a_misspelt_provider_is_one_problem_naming_its_cell(
    two_systems: Path, tmp_path: Path
) -> None:
    """contracts!C2: unknown provider 'north_acut' (did you mean 'north_acute'?)"""

    def edit(book: Any) -> None:
        book["contracts"]["C2"] = "north_acut"

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert found.startswith(f"{tmp_path / 'plan.xlsx'}: contracts!C2: ")
    assert "north_acut" in found and "(did you mean 'north_acute'?)" in found


def test_a_bad_number_names_its_cell(two_systems: Path, tmp_path: Path) -> None:
    """Text where money is expected is one problem at that cell."""

    def edit(book: Any) -> None:
        ws = book["costs.providers"]
        ws.cell(row=3, column=column(ws, "fixed"), value="lots")

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "costs.providers!B3: " in found and "'lots'" in found


def test_a_percentage_typed_as_a_whole_number_gets_the_fix(
    two_systems: Path, tmp_path: Path
) -> None:
    """A year column of a settings sheet: the cell and the unit's hint."""

    def edit(book: Any) -> None:
        ws = book["activity"]
        ws.cell(row=2, column=column(ws, "2018/19"), value=3)

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "activity!D2: " in found and 'write 0.03 (or "3%")' in found


def test_a_missing_required_column_names_the_header_row(two_systems: Path, tmp_path: Path) -> None:
    def edit(book: Any) -> None:
        book["contracts"].delete_cols(3)

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "contracts!" in found and "missing required column 'provider'" in found


def test_an_unknown_column_is_one_problem_with_what_was_meant(
    two_systems: Path, tmp_path: Path
) -> None:
    def edit(book: Any) -> None:
        book["contracts"]["C1"] = "providr"

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "contracts!C1: unknown column 'providr'" in found
    assert "(did you mean 'provider'?)" in found


def test_an_unknown_sheet_is_one_problem_with_what_was_meant(
    two_systems: Path, tmp_path: Path
) -> None:
    def edit(book: Any) -> None:
        book["contracts"].title = "contrats"

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert ": contrats: unknown sheet 'contrats'" in found
    assert "(did you mean 'contracts'?)" in found


def test_sheets_and_columns_starting_with_an_underscore_are_skipped(
    two_systems: Path, tmp_path: Path
) -> None:
    def edit(book: Any) -> None:
        book.create_sheet("_workings")["A1"] = "anything"
        book["contracts"].cell(row=1, column=40, value="_note")
        book["contracts"].cell(row=2, column=40, value="checked with finance")

    scenario = finsim.load_scenario(edited(two_systems, tmp_path, edit))
    assert scenario.to_data() == finsim.load_scenario(TWO).to_data()


def test_a_value_in_a_column_without_a_name_is_not_lost_silently(
    two_systems: Path, tmp_path: Path
) -> None:
    def edit(book: Any) -> None:
        book["contracts"].cell(row=3, column=40, value=5)

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "contracts!AN3: " in found and "without a name" in found


def test_an_unknown_path_in_a_settings_sheet_suggests_the_section(
    two_systems: Path, tmp_path: Path
) -> None:
    def edit(book: Any) -> None:
        ws = book["activity"]
        ws.append(["correlation", 0.5])

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "activity!A" in found and "(did you mean 'activity.correlation'?)" in found


def test_a_problem_in_a_variant_names_the_variants_cell(two_systems: Path, tmp_path: Path) -> None:
    def edit(book: Any) -> None:
        book["variants"].append(["tight_tariff", "tariff.cost_uplift", 2])

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "variants!" in found and "(variant tight_tariff)" in found


def test_the_same_row_twice_names_both_cells(two_systems: Path, tmp_path: Path) -> None:
    def edit(book: Any) -> None:
        book["costs.providers"].append(["north_acute", 1.0])

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "costs.providers!A6: 'north_acute' is given twice (also costs.providers!A2)" in found


def test_text_that_looks_like_a_formula_stays_text(tmp_path: Path) -> None:
    """A name such as '=SUM(A1)' is written as text and read back as it was."""
    data = finsim.load_scenario(TWO).to_data()
    data["organisations"]["regions"][0]["name"] = "=SUM(A1)"
    path = write_workbook(data, tmp_path / "f.xlsx")
    assert finsim.load_scenario(path).to_data()["organisations"]["regions"][0]["name"] == (
        "=SUM(A1)"
    )


def test_paths_are_written_and_read_back() -> None:
    for parts, year in [
        (("allocations", "streams", "core", "pace", "bands", 0, "cap"), None),
        (("allocations", "opening", "rdr.1"), None),
        (("contracts", 3, "growth"), "2019/20"),
        (("a", 'say "hi"'), None),
    ]:
        assert parse_path(path_text(parts, year)) == (parts, year)


def test_the_cli_writes_a_template_and_converts_both_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["template", str(tmp_path / "t.xlsx")]) == 0
    assert main(["convert", str(TWO), str(tmp_path / "a.xlsx")]) == 0
    assert main(["convert", str(tmp_path / "a.xlsx"), str(tmp_path / "a.yaml")]) == 0
    assert main(["validate", str(tmp_path / "a.xlsx")]) == 0
    assert "a.xlsx: valid" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "a.xlsx"), "-n", "2"]) == 0
    assert main(["stress", str(tmp_path / "a.xlsx"), "-n", "2"]) == 0
    assert main(["convert", str(TWO), str(tmp_path / "a.csv")]) == 2


def test_the_cli_exits_2_on_a_bad_workbook_without_a_traceback(
    two_systems: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def edit(book: Any) -> None:
        book["contracts"]["C2"] = "north_acut"

    bad = edited(two_systems, tmp_path, edit)
    for command in (["validate"], ["run"], ["stress"]):
        assert main([*command, str(bad)]) == 2
    err = capsys.readouterr().err
    assert "contracts!C2: unknown provider 'north_acut'" in err and "Traceback" not in err
    not_a_workbook = tmp_path / "notes.xlsx"
    not_a_workbook.write_text("hello", encoding="utf-8")
    assert main(["validate", str(not_a_workbook)]) == 2
    assert "cannot read the file as an Excel workbook" in capsys.readouterr().err


def test_without_openpyxl_one_clear_error_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)
    assert main(["template", str(tmp_path / "t.xlsx")]) == 2
    assert "pip install 'finsim[excel]'" in capsys.readouterr().err


def test_a_blank_variant_value_is_an_error_and_remove_removes(
    two_systems: Path, tmp_path: Path
) -> None:
    """variants!C3 left blank is one problem (never a removal); (remove) removes the value,
    and a variant's null is written (remove), so it comes back."""

    def blank(book: Any) -> None:
        book["variants"]["C3"] = None

    (found,) = problems_of(edited(two_systems, tmp_path, blank))
    assert "variants!C3: " in found and "write (remove) to remove it" in found

    def remove(book: Any) -> None:
        book["variants"]["C3"] = "(remove)"

    plan = edited(two_systems, tmp_path, remove, "removed.xlsx")
    variants = finsim.load_scenario(plan).to_data()["variants"]
    assert variants["high_demand"]["activity"]["shock_sd"] is None
    back = convert(plan, tmp_path / "back.yaml")
    again = convert(back, tmp_path / "again.xlsx")
    assert openpyxl.load_workbook(again)["variants"]["C3"].value == "(remove)"
    assert finsim.load_scenario(again).to_data() == finsim.load_scenario(plan).to_data()


def test_a_formula_never_calculated_is_an_error_not_an_empty_cell(
    two_systems: Path, tmp_path: Path
) -> None:
    """A formula in a file not saved by Excel has no result: named, not read as empty; the
    same formula with the result Excel stores is read as that result."""

    def edit(book: Any) -> None:
        book["commissioners"]["F2"] = "=400000+10000"

    plan = edited(two_systems, tmp_path, edit)
    (found,) = problems_of(plan)
    assert "commissioners!F2: a formula with no calculated value" in found

    calculated = tmp_path / "calculated.xlsx"  # (as Excel saves it: the result kept)
    with zipfile.ZipFile(plan) as src, zipfile.ZipFile(calculated, "w") as out:
        for item in src.infolist():
            data = src.read(item)
            out.writestr(item, data.replace(b"<f>400000+10000</f><v />", b"<f>4E5</f><v>7</v>"))
    people = finsim.load_scenario(calculated).to_data()["organisations"]["commissioners"]
    assert people[0]["population"] == 7


def test_merged_cells_are_an_error_naming_the_range(two_systems: Path, tmp_path: Path) -> None:
    """A merged B2:B3 would leave B3 empty (its default): one problem naming the range."""

    def edit(book: Any) -> None:
        book["costs.providers"].merge_cells("B2:B3")

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "costs.providers!B2:B3: merged cells B2:B3: unmerge them" in found


def test_an_id_without_its_value_is_an_error(two_systems: Path, tmp_path: Path) -> None:
    """allocations.opening!B3 left blank beside its id: one problem, not a missing value."""

    def edit(book: Any) -> None:
        book["allocations.opening"]["B3"] = None

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "allocations.opening!B3: no value for 'nw_ccg'" in found


def test_a_year_after_the_run_is_an_error_naming_its_header(
    two_systems: Path, tmp_path: Path
) -> None:
    """2091/92 on a run to 2019/20 would never apply: one problem at its header; a year
    continuing the run (as a scenario cut short from a longer one holds) is kept."""

    def edit(book: Any) -> None:
        book["tariff"]["D1"] = "2091/92"

    (found,) = problems_of(edited(two_systems, tmp_path, edit))
    assert "tariff!D1: the year 2091/92 is after the last year simulated (2019/20)" in found

    def later(book: Any) -> None:
        book["tariff"]["D1"] = "2020/21"

    finsim.load_scenario(edited(two_systems, tmp_path, later, "later.xlsx"))


def test_the_cli_never_replaces_a_file_unasked_nor_the_file_converted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing target needs --force (exit 2, one message, the file kept); the source is
    never the target, even with --force."""
    book = tmp_path / "t.xlsx"
    book.write_bytes(b"mine")
    assert main(["template", str(book)]) == 2
    assert "exists: give --force to replace it" in capsys.readouterr().err
    assert book.read_bytes() == b"mine"
    assert main(["template", str(book), "--force"]) == 0
    mine = tmp_path / "a.yaml"
    mine.write_text(TWO.read_text(encoding="utf-8"), encoding="utf-8")
    before = mine.read_bytes()
    assert main(["convert", str(mine), str(book)]) == 2
    for target in (str(mine), str(tmp_path / "." / "a.yaml")):
        assert main(["convert", str(mine), target, "--force"]) == 2
        err = capsys.readouterr().err
        assert "is the file converted (FROM)" in err and "Traceback" not in err
    assert mine.read_bytes() == before
    assert main(["convert", str(mine), str(book), "--force"]) == 0
