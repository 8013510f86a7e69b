"""The policy tree: the NHS financial rules by year, each value cited and marked C, S or U.

The shipped tree is checked whole (every value cited, every source known, marks kept),
looked up by year (a value runs on until the next; null and ``until`` end it), compared
between years, extended by a user's file, refused with one located ScenarioError when a
file is wrong, spot-checked against the fact sheet, and rendered as the reference page.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from finsim import policy
from finsim.errors import ScenarioError
from finsim.policy import PolicyTree, render_markdown

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "reference" / "rules-by-year.md"


@pytest.fixture(scope="module")
def tree() -> PolicyTree:
    return policy.load()


# -- the shipped tree, whole -------------------------------------------------------------------


def test_every_value_has_a_source_and_a_confidence_mark(tree: PolicyTree):
    """Walking the whole tree: each dated value cites a source (a gap may cite none) and is
    marked C, S or U."""
    assert len(tree) > 150
    for parameter in tree:
        assert parameter.values, parameter.name
        for value in parameter.values:
            where = f"{parameter.name} {value.start}"
            assert value.confidence in ("C", "S", "U"), where
            assert value.sources or value.unknown, where


def test_every_cited_source_exists_and_every_source_is_described(tree: PolicyTree):
    """Each cited ID is in sources.yaml, which holds the fact sheet's sources (118 and BRIEF)."""
    cited = {s for p in tree for v in p.values for s in v.sources}
    assert cited <= set(tree.sources)
    assert len(tree.sources) == 119
    for sid in ("T1", "T20", "CIPFA-2", "M10", "Q9", "F26", "V5", "A11", "D9", "L6", "K5", "P15"):
        assert sid in tree.sources
    for source in tree.sources.values():
        assert source.publisher and source.title, source.id


def test_marks_are_kept_honest(tree: PolicyTree):
    """A C value cites an official source; a U value has a note; a value citing the brief
    is U; a gap ('unknown') is U, has no value and says why."""
    for parameter in tree:
        for v in parameter.values:
            where = f"{parameter.name} {v.start}"
            if v.confidence == "C":
                assert any(tree.sources[s].official for s in v.sources), where
            if v.confidence == "U":
                assert v.note, where
            if "BRIEF" in v.sources:
                assert v.confidence == "U", where
            if v.unknown:
                assert v.value is None and v.confidence == "U" and v.note, where


def test_years_increase_and_until_stays_before_the_next_value(tree: PolicyTree):
    """Dated values are in year order, and a value's last year comes before the next value."""
    for parameter in tree:
        starts = [v.start_year for v in parameter.values]
        assert starts == sorted(set(starts)), parameter.name
        for v, later in zip(parameter.values, parameter.values[1:], strict=False):
            if v.until is not None:
                assert v.until < later.start, parameter.name


def test_the_tree_is_immutable(tree: PolicyTree):
    """A loaded tree cannot be changed, so it can be shared (load() returns the same one)."""
    with pytest.raises(AttributeError):
        tree.name = "scotland"  # type: ignore[misc]
    with pytest.raises(TypeError):
        tree.parameters["x.y"] = tree.parameter("cquin.share")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        tree.parameter("cquin.share").values[0].value = 0.5  # type: ignore[misc]
    assert policy.load() is tree


# -- lookups by year ---------------------------------------------------------------------------


def test_a_value_applies_from_its_year_until_the_next(tree: PolicyTree):
    """A value set in 2017/18 applies in 2018/19, and says when it was set."""
    rule = tree.at("2018/19")["cquin.share"]
    assert (rule.value, rule.set_in, rule.confidence) == (0.025, "2017/18", "U")
    assert tree.at("2018/19")["marginal_rate.rate"].set_in == "2016/17"
    assert tree.at("2018/19").value("marginal_rate.rate") == 0.7


def test_null_ends_a_rule_and_until_ends_a_value(tree: PolicyTree):
    """MRET is abolished from 2019/20 (value null), and a value dated to its sources' years
    does not run on past them (STF phasing is given for 2017/18 and 2018/19 only)."""
    rate = tree.parameter("marginal_rate.rate")
    assert rate.at("2019/20") is None and rate.at("2024/25") is None
    assert "marginal_rate.rate" not in tree.at("2019/20")
    assert tree.at("2019/20").value("marginal_rate.rate", "gone") == "gone"
    phasing = tree.parameter("provider_funds.stf.phasing")
    assert phasing.at("2018/19").value == (0.15, 0.20, 0.30, 0.35)
    assert phasing.at("2018/19").set_in == "2017/18"
    assert phasing.at("2019/20") is None
    assert rate.at("2006/07") is None  # before the first value


def test_a_gap_is_in_force_but_unknown(tree: PolicyTree):
    """Where the sources give no figure the rule is in force with an unknown value, so an
    earlier year's figure does not run on into it."""
    rule = tree.at("2022/23")["tariff.cost_uplift"]
    assert rule.unknown and rule.value is None and rule.confidence == "U"
    assert tree.at("2022/23").value("tariff.cost_uplift") is None
    uplift = tree.parameter("tariff.cost_uplift").by_year("2019/20", "2022/23")
    assert uplift == {"2019/20": 0.038, "2021/22": 0.031}


def test_at_refuses_a_label_that_is_not_a_financial_year(tree: PolicyTree):
    """tree.at("2018") says what a financial year label looks like."""
    with pytest.raises(ValueError, match="2018/19"):
        tree.at("2018")


def test_a_misspelt_parameter_gets_a_suggestion(tree: PolicyTree):
    """tree.parameter() names the parameter meant."""
    with pytest.raises(KeyError, match="cquin.share"):
        tree.parameter("cquin.shares")


def test_rules_in_force_filter_by_domain_and_make_a_table(tree: PolicyTree):
    """The rules of a year, by domain, and as a DataFrame a notebook can show."""
    rules = tree.at("2019/20")
    assert set(rules.domain("cquin")) <= {n for n in rules if n.startswith("cquin.")}
    frame = rules.to_frame()
    assert len(frame) == len(rules)
    assert list(frame.columns[:4]) == ["name", "value", "unit", "set_in"]


def test_diff_lists_what_changed(tree: PolicyTree):
    """2018/19 -> 2019/20: MRET ends, the blended payment arrives, CQUIN halves, the PSF
    shrinks; the PDC dividend, unchanged, is not listed."""
    changes = {c.name: c for c in tree.diff("2018/19", "2019/20")}
    assert changes["marginal_rate.rate"].kind == "ended"
    assert changes["marginal_rate.blended.variable_share"].kind == "added"
    cquin = changes["cquin.share"]
    assert cquin.kind == "changed"
    assert (cquin.before.value, cquin.after.value) == (0.025, 0.0125)  # type: ignore[union-attr]
    assert changes["provider_funds.psf.size"].after.value == 1250  # type: ignore[union-attr]
    assert "loans_pdc.pdc_dividend" not in changes
    assert tree.diff("2018/19", "2018/19") == []


# -- spot checks against the fact sheet --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "year", "value", "sources", "mark"),
    [
        ("marginal_rate.rate", "2012/13", 0.3, ("M1", "M2", "M3"), "S"),
        ("marginal_rate.rate", "2017/18", 0.7, ("T2", "M5", "M6"), "S"),
        ("provider_funds.psf.incentive_rate", "2018/19", 2.0, ("F14",), "S"),
        ("loans_pdc.pdc_dividend", "2018/19", 0.035, ("L6",), "C"),
        ("cquin.share", "2019/20", 0.0125, ("Q4",), "C"),
        ("loans_pdc.converted_to_pdc", "2020/21", 13400, ("L4", "L5"), "S"),
        ("tariff.cost_uplift", "2016/17", 0.031, ("T2", "T3"), "S"),
        ("tariff.efficiency", "2023/24", 0.011, ("T11",), "C"),
        ("covid.elective_incentive.excess_payment", "2020/21", 0.75, ("V5",), "S"),
        ("api_erf.elective_target", "2023/24", 1.03, ("A4", "A5"), "C"),
        ("system.options.interim", "2018/19", 0.25, ("F26", "F24"), "S"),
    ],
)
def test_spot_checks_against_the_fact_sheet(tree, name, year, value, sources, mark):
    """Figures, sources and marks as the fact sheet gives them."""
    rule = tree.at(year)[name]
    assert rule.value == pytest.approx(value)
    assert (rule.sources, rule.confidence) == (sources, mark)


def test_loans_were_converted_at_the_start_of_2020_21_only(tree: PolicyTree):
    """£13.4bn of debt became PDC on 1 April 2020: a one-off, not a yearly amount."""
    converted = tree.parameter("loans_pdc.converted_to_pdc")
    assert converted.values[0].start == "2020/21"
    assert converted.at("2021/22") is None


# -- a user's policy file ----------------------------------------------------------------------

USER = """\
extends: england
title: A proposed scheme
sources:
  MY1:
    publisher: A think tank
    title: A proposal for emergency payments
    official: false
parameters:
  marginal_rate.rate:
    values:
      2019/20:
        value: 0.5
        source: [MY1]
        confidence: U
        note: proposed
"""


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str, name: str = "scheme.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_a_user_file_extending_england_overrides_one_value_and_keeps_the_rest(write, tree):
    """The user's 2019/20 value replaces the base's 'abolished'; earlier years, other
    parameters and the shipped tree itself are unchanged."""
    mine = policy.load_file(write(USER))
    assert mine.base == "england" and mine.title == "A proposed scheme"
    assert mine.at("2019/20")["marginal_rate.rate"].value == 0.5
    assert mine.at("2019/20")["marginal_rate.rate"].sources == ("MY1",)
    assert mine.at("2017/18")["marginal_rate.rate"].value == 0.7
    assert mine.parameter("marginal_rate.rate").description == (
        tree.parameter("marginal_rate.rate").description
    )
    assert len(mine) == len(tree)
    for name in tree.parameters:
        if name != "marginal_rate.rate":
            assert mine.parameter(name) == tree.parameter(name)
    assert "marginal_rate.rate" not in policy.load().at("2019/20")
    changes = [(c.name, c.kind) for c in mine.diff("2018/19", "2019/20")]
    assert ("marginal_rate.rate", "changed") in changes


def test_a_user_value_cuts_short_a_base_value_that_would_run_past_it(write):
    """The base gives the STF general allocation for 2017/18 to 2018/19; a user's value
    from 2018/19 takes over then."""
    text = (
        USER.replace(
            "  marginal_rate.rate:",
            "  provider_funds.stf.general_allocation:",
        )
        .replace("value: 0.5", "value: 1200")
        .replace("2019/20:", "2018/19:")
    )
    mine = policy.load_file(write(text))
    allocation = mine.parameter("provider_funds.stf.general_allocation")
    assert [(v.start, v.until, v.value) for v in allocation.values] == [
        ("2017/18", "2017/18", 1500.0),
        ("2018/19", None, 1200.0),
    ]


def test_a_user_file_may_add_a_parameter_in_a_new_domain(write):
    """A new parameter needs a description and a unit; its domain is its first part."""
    text = USER + (
        "  scheme.bonus_rate:\n"
        "    description: A proposed bonus.\n"
        "    unit: ratio\n"
        "    values:\n"
        "      2026/27: {value: 1.5, source: [MY1], confidence: U, note: proposed}\n"
    )
    mine = policy.load_file(write(text))
    assert mine.at("2027/28").value("scheme.bonus_rate") == 1.5
    assert list(mine.domains)[-1] == "scheme"


def test_a_user_file_may_extend_another_policy_file(write):
    """``extends:`` may name another policy file, relative to this one."""
    write(USER, "base.yaml")
    text = (
        "extends: base.yaml\n"
        "parameters:\n"
        "  cquin.share:\n"
        "    values:\n"
        "      2025/26: {value: 0.02, source: [MY1], confidence: U, note: proposed}\n"
    )
    mine = policy.load_file(write(text))
    assert mine.at("2025/26").value("cquin.share") == 0.02
    assert mine.at("2019/20").value("marginal_rate.rate") == 0.5


# -- a file with a mistake gets one located ScenarioError -----------------------------------

VALUE = "parameters.marginal_rate.rate.values.2019/20"


NEW = [("    values:\n", "    description: A new rule.\n    unit: share\n    values:\n")]


@pytest.mark.parametrize(
    ("changes", "line", "path", "words"),
    [
        (
            [("note: proposed\n", "note: proposed\n        remark: x\n")],
            16,
            f"{VALUE}.remark",
            "unknown key 'remark'",
        ),
        ([("value: 0.5", "value: 70")], 12, f"{VALUE}.value", "write 0.7 for 70%"),
        ([("[MY1]", "[MY2]")], 13, f"{VALUE}.source[0]", "unknown source 'MY2'"),
        (
            [("2019/20:", "2019/21:")],
            11,
            "parameters.marginal_rate.rate.values.2019/21",
            "not a financial year",
        ),
        (
            [("2019/20:", "2019-20:")],
            11,
            "parameters.marginal_rate.rate.values.2019-20",
            "expected a financial year label",
        ),
        ([("confidence: U", "confidence: C")], 14, f"{VALUE}.confidence", "official source"),
        ([("confidence: U", "confidence: X")], 14, f"{VALUE}.confidence", "'C', 'S' or 'U'"),
        ([("        note: proposed\n", "")], 11, f"{VALUE}.note", "unconfirmed (U) value"),
        (
            [("    values:\n", "    unit: growth\n    values:\n")],
            10,
            "parameters.marginal_rate.rate.unit",
            "its unit cannot change",
        ),
        (
            [
                ("  marginal_rate.rate:", "  marginal_rate.new_rate:"),
                ("    values:\n", "    unit: share\n    values:\n"),
            ],
            9,
            "parameters.marginal_rate.new_rate.description",
            "required field is missing",
        ),
        (
            [("  marginal_rate.rate:", "  marginal_rate.rate.extra:"), *NEW],
            9,
            "parameters.marginal_rate.rate.extra",
            "cannot also be a group",
        ),
        (
            [("  marginal_rate.rate:", "  Marginal rate:")],
            9,
            "parameters.Marginal rate",
            "dotted, in lower case",
        ),
        (
            [("value: 0.5\n", "value: 0.5\n        until: 2018/19\n")],
            13,
            f"{VALUE}.until",
            "expected 2019/20 or later",
        ),
        ([("extends: england", "extends: englund")], 1, "extends", "neither a shipped tree"),
    ],
)
def test_a_mistake_gets_one_problem_naming_file_line_and_field(write, changes, line, path, words):
    """Each kind of mistake in a user's file: file, line, field path and what was expected."""
    text = USER
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    file = write(text)
    with pytest.raises(ScenarioError) as caught:
        policy.load_file(file)
    assert len(caught.value.problems) == 1, caught.value
    problem = caught.value.problems[0]
    assert (problem.file, problem.line, problem.path) == (str(file), line, path)
    assert words in problem.message
    assert f"{file}:{line}: {path}: " in str(caught.value)


def test_years_out_of_order_are_refused(write):
    """Years are written in increasing order."""
    text = USER + "      2018/19: {value: 0.5, source: [MY1], confidence: U, note: proposed}\n"
    with pytest.raises(ScenarioError, match="years must increase: 2018/19 is written after"):
        policy.load_file(write(text))


def test_a_misspelt_key_or_source_gets_a_suggestion(write):
    """'confidance' -> 'confidence'; 'MY11' -> 'MY1'."""
    with pytest.raises(ScenarioError) as caught:
        policy.load_file(write(USER.replace("confidence: U", "confidance: U")))
    assert "confidence" in {p.suggestion for p in caught.value.problems}
    with pytest.raises(ScenarioError) as caught:
        policy.load_file(write(USER.replace("[MY1]", "[MY11]")))
    assert caught.value.problems[0].suggestion == "MY1"


def test_every_problem_is_reported_at_once(write):
    """Two mistakes, two problems, one error."""
    text = USER.replace("value: 0.5", "value: 70").replace("[MY1]", "[MY2]")
    with pytest.raises(ScenarioError) as caught:
        policy.load_file(write(text))
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "the file is empty: expected a mapping with 'parameters'"),
        ("- a list\n", "expected a mapping with 'parameters'"),
        ("parameters: [1, 2\n", "not valid YAML"),
    ],
)
def test_a_file_that_is_not_a_policy_is_refused(write, text, words):
    """Empty, not a mapping, or not YAML: one problem naming the file."""
    file = write(text)
    with pytest.raises(ScenarioError) as caught:
        policy.load_file(file)
    assert words in str(caught.value)
    assert caught.value.problems[0].file == str(file)


def test_a_cyclic_extends_is_refused(write):
    """A file cannot extend itself, directly or through another."""
    write("extends: b.yaml\n", "a.yaml")
    file = write("extends: a.yaml\n", "b.yaml")
    with pytest.raises(ScenarioError, match="cyclic 'extends'"):
        policy.load_file(file)


def test_an_unknown_shipped_tree_is_named():
    """load() lists the shipped trees."""
    assert policy.shipped_trees() == ["england"]
    with pytest.raises(ValueError, match="did you mean 'england'"):
        policy.load("englnd")


# -- the reference page ------------------------------------------------------------------------


def test_the_committed_reference_page_is_up_to_date(tree: PolicyTree):
    """docs/reference/rules-by-year.md is exactly what render_markdown gives now: after
    changing the tree, run `python -m finsim.policy > docs/reference/rules-by-year.md`."""
    committed = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
    assert committed == render_markdown(tree), (
        "docs/reference/rules-by-year.md is out of date: run "
        "`python -m finsim.policy > docs/reference/rules-by-year.md`"
    )


def test_the_page_explains_the_marks_and_shows_every_parameter(tree: PolicyTree):
    """The page opens with how to regenerate it and what C, S and U mean, has a table row
    for each parameter, shows U values as unconfirmed, and lists the sources with anchors."""
    page = render_markdown(tree)
    head = page[: page.index("## Domains")]
    assert "python -m finsim.policy > docs/reference/rules-by-year.md" in head
    for mark in ("- **C**", "- **S**", "- **U**"):
        assert mark in head
    for name in tree.parameters:
        assert f"| `{name}` |" in page
    assert "+2.1% (unconfirmed) | U |" in page
    for sid in tree.sources:
        assert f'<a id="source-{sid.lower()}"></a>{sid} |' in page


def test_python_m_finsim_policy_prints_the_page(tree: PolicyTree):
    """The command the page names writes the page."""
    done = subprocess.run(
        [sys.executable, "-m", "finsim.policy"], capture_output=True, check=True, cwd=ROOT
    )
    assert done.stdout.decode("utf-8") == render_markdown(tree)


def test_format_value_writes_values_as_readers_do():
    """Shares as percentages, money in £m or £bn, lists with slashes."""
    assert policy.format_value("share", 0.0125) == "1.25%"
    assert policy.format_value("growth", 0.011) == "+1.1%"
    assert policy.format_value("money_gbp_m", 13400) == "£13,400m"
    assert policy.format_value("money_gbp_bn", 114.6) == "£114.6bn"
    assert policy.format_value("share", (0.15, 0.2)) == "15% / 20%"
    assert policy.format_value("ratio", 2.0) == "2×"
    assert policy.format_value("boolean", False) == "no"
