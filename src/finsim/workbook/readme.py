"""The README sheet: how a scenario workbook is filled in, then every sheet and column with
its type, unit, default and description (from the scenario model's field descriptions,
as the scenario schema reference is)."""

from __future__ import annotations

from finsim.workbook.arrange import help_at
from finsim.workbook.layout import Layout, Settings, Table, offered_paths, record_columns
from finsim.workbook.paths import PathKey, path_text

RULES = (
    "A finsim scenario as a workbook. Check it with: finsim validate FILE.xlsx; run it with "
    "finsim run FILE.xlsx; compare its variants with finsim stress FILE.xlsx. finsim convert "
    "turns it into a YAML scenario file and back.",
    "Money is in GBP million (46.0 is £46.0m), prices in GBP; shares, rates and growth are "
    'fractions (0.7, or the text "70%"). Each column\'s unit is in the table below and in the '
    "note on its header.",
    "An empty cell is a value not given: finsim uses the default. A section runs only if one "
    "of its cells is filled. Ids are letters, digits, '_', '-' and '.'.",
    "Settings sheets hold one value a row: 'path' names it (tariff.cost_uplift), 'value' "
    "holds it; 'unit' and 'description' are for you and are not read.",
    "A value that changes by financial year: leave 'value' empty and fill a column per year "
    "(add columns headed 2019/20, 2020/21...); a year's value holds until the next year given. "
    "In a table, a column growth[2019/20] holds that year's value of growth.",
    "Tables hold one record a row. A dotted column is a value inside a record: at.fy, or one "
    "entry of a mapping: plan.elective (add a column per point of delivery).",
    "A list is written in one cell as [a, b] (e.g. [non_elective, elective]); a mapping as "
    "{a: 1, b: 2}.",
    "variants: each row sets one value (path, as in the settings sheets) in one variant; the "
    "value (remove) removes it from the variant's scenario, and an empty value is an error; "
    "a row with a variant and no path declares a variant that changes nothing.",
    "Sheets and columns whose names start with '_' are yours (workings, notes): finsim skips "
    "them. Formulas are read as the values Excel last calculated (a formula never calculated, "
    "in a file not saved by Excel, is an error). Merged cells are an error: each row needs "
    "its own value.",
)
HEADER = ["Sheet", "Column or path", "Type and unit", "Default", "Description"]


def readme_rows(layout: Layout) -> list[list[str]]:
    """The README sheet's rows: a title, the rules, then a row per sheet and column."""
    rows: list[list[str]] = [["finsim scenario workbook"], *([rule] for rule in RULES), [], HEADER]
    for spec in layout.sheets:
        if isinstance(spec, Settings):
            rows.append([spec.name, "(settings: path | value | years)", "", "", spec.description])
            rows.extend(_row(layout, spec.name, p, p) for p in offered_paths(layout, spec))
        elif spec.kind in ("records", "keyed"):
            assert spec.model is not None
            about = "a row per record" if spec.kind == "records" else "a row per key"
            where = path_text(spec.path)
            rows.append([spec.name, f"(table of {where}: {about})", "", "", spec.description])
            if spec.key:
                rows.append([spec.name, spec.key, "name", "required", "the key of each row"])
            example: PathKey = (*spec.path, "x" if spec.key else 0)
            for column in record_columns(spec.model):
                rows.append(_row(layout, spec.name, column, (*example, *column)))
        else:
            rows.extend(_values_rows(layout, spec))
    return rows


def _row(layout: Layout, sheet: str, shown: PathKey, path: PathKey) -> list[str]:
    kind, default, words = help_at(layout.model, path)
    if kind.startswith("mapping of name"):
        words = f"{words} (a column per name: {path_text(shown)}.<name>)"
    return [sheet, path_text(shown), kind, default, words]


def _values_rows(layout: Layout, spec: Table) -> list[list[str]]:
    if spec.kind == "overlays":
        return [
            [spec.name, "(variants: variant | path | value | years)", "", "", spec.description],
            [spec.name, "variant", "name", "required", "the variant a row belongs to"],
            [spec.name, "path", "path", "", "the value the variant sets, as in settings sheets"],
            [spec.name, "value", "", "", "its value in the variant ((remove): removed)"],
        ]
    kind, _, _ = help_at(layout.model, (*spec.path, "x"))
    return [
        [
            spec.name,
            f"(table of {path_text(spec.path)}: id | value | years)",
            "",
            "",
            spec.description,
        ],
        [spec.name, "id", "name", "required", "the name the value is for"],
        [spec.name, "value", kind, "", "its value (or a column per financial year)"],
    ]
