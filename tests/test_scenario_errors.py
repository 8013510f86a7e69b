"""A bad scenario file gets one ScenarioError listing every problem, each located and explained.

Each test starts from a small valid scenario (``TINY``), makes one kind of mistake in
it, and checks the structured :class:`finsim.Problem`: the field path, the file, the
line, what was expected and, for misspellings, the suggestion.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import finsim
from finsim.errors import Problem

TINY = """\
scenario:
  name: Tiny
  start: 2017/18
  years: 2
organisations:
  centre: {id: nhse}
  regions:
    - id: midlands
    - id: london
  systems:
    - id: north
      region: midlands
    - id: capital
      region: london
  commissioners:
    - id: north_ccg
      system: north
      population: 300000
    - id: city_ccg
      system: capital
      population: 500000
  providers:
    - id: north_acute
      system: north
    - id: city_mh
      system: capital
      kind: mental_health
allocations:
  opening:
    north_ccg: 400.0
    city_ccg: 650.0
  uplift:
    2017/18: 0.0
    2018/19: 0.03
tariff:
  prices:
    elective: 3500
    ae: 140
  cost_uplift: 0.021
  efficiency: 0.02
contracts:
  - id: north-acute
    commissioner: north_ccg
    provider: north_acute
    plan: {elective: 9000, ae: 90000}
  - id: city-mh
    commissioner: city_ccg
    provider: city_mh
    type: block
    value: 60.0
activity:
  growth:
    2017/18: 0.0
    2018/19: 0.03
  shock_sd: 0.03
variants:
  high_demand:
    activity:
      shock_sd: 0.05
"""


def edit(old: str, new: str, text: str = TINY) -> str:
    """``text`` with the one occurrence of ``old`` replaced by ``new``."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, needle: str) -> int:
    """The 1-based line of the one line of ``text`` that contains ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[0]


def problems_of(path: Path, variant: str | None = None) -> list[Problem]:
    """The problems ``load_scenario`` reports for ``path`` (failing if it loads)."""
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.load_scenario(path, variant)
    assert info.value.problems, "a ScenarioError must hold at least one problem"
    return info.value.problems


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_the_tiny_scenario_is_valid(write_yaml):
    """The starting point of every test below loads without a problem."""
    sc = finsim.load_scenario(write_yaml(TINY))
    assert sc.name == "Tiny"
    assert sc.variants == ["high_demand"]


@pytest.mark.parametrize("text", ["", "\n\n", "# a scenario, one day\n"])
def test_empty_file(write_yaml, text):
    """An empty (or comments-only) file is one problem naming the file and what it should hold."""
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "(file)"
    assert p.file == str(path)
    assert "empty" in p.message
    assert "'scenario'" in p.message and "'organisations'" in p.message


def test_not_yaml(write_yaml):
    """Text that is not YAML is one problem on the line where parsing failed."""
    text = edit("  name: Tiny\n", "  name: Tiny: the sequel\n")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "(file)"
    assert p.file == str(path)
    assert p.message.startswith("not valid YAML")
    assert p.line == line_of(text, "Tiny: the sequel")


def test_a_python_tag_is_refused_as_not_yaml(write_yaml):
    """Only safe YAML is read: a Python object tag is refused with its line, never constructed."""
    text = edit("  name: Tiny\n", "  name: !!python/object/apply:os.getcwd []\n")
    p = only(problems_of(write_yaml(text)))
    assert p.message.startswith("not valid YAML") and "python/object" in p.message
    assert p.line == line_of(text, "python/object")


def test_a_top_level_list_is_not_a_scenario(write_yaml):
    """A document that is not a mapping is one problem saying what the top level should be."""
    path = write_yaml("- scenario\n- organisations\n")
    p = only(problems_of(path))
    assert p.path == "(top level)"
    assert p.file == str(path)
    assert "expected a mapping with 'scenario' and 'organisations'" in p.message
    assert "a list" in p.message


def test_wrong_type(write_yaml):
    """A value of the wrong type names its field, what was expected and what was given."""
    text = edit("  years: 2\n", "  years: two\n")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "scenario.years"
    assert p.file == str(path)
    assert p.line == line_of(text, "years: two")
    assert "expected a whole number" in p.message and "'two'" in p.message
    assert p.suggestion is None


def test_missing_field(write_yaml):
    """A required field left out is reported at the path it is missing from."""
    text = edit("  start: 2017/18\n", "")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "scenario.start"
    assert p.message == "required field is missing"
    assert p.file == str(path)
    assert p.line == line_of(text, "scenario:")


def test_unknown_key(write_yaml):
    """A misspelt key is an error listing the allowed keys, with 'did you mean'."""
    text = edit("  commissioners:\n", "  comissioners:\n")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "organisations.comissioners"
    assert p.suggestion == "commissioners"
    assert "unknown key 'comissioners'" in p.message
    assert "providers" in p.message  # the keys that are allowed there
    assert p.file == str(path)
    assert p.line == line_of(text, "comissioners:")
    assert "did you mean 'commissioners'?" in str(p)


def test_unknown_top_level_section(write_yaml):
    """A misspelt section (a mechanism's key) is unknown, with the section meant."""
    text = edit("\nactivity:\n", "\nactivty:\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "activty"
    assert p.suggestion == "activity"
    assert p.line == line_of(text, "activty:")


def test_unknown_organisation_id(write_yaml):
    """A contract naming a misspelt provider gets the field path and 'did you mean'."""
    text = edit("    provider: city_mh\n", "    provider: city_hm\n")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "contracts[1].provider"
    assert p.message == "unknown provider 'city_hm'"
    assert p.suggestion == "city_mh"
    assert p.file == str(path)
    assert p.line == line_of(text, "provider: city_hm")


def test_an_id_of_the_wrong_kind(write_yaml):
    """A contract whose provider is a commissioner says what kind of organisation it named."""
    text = edit("    provider: city_mh\n", "    provider: city_ccg\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "contracts[1].provider"
    assert "'city_ccg' is a commissioner; expected a provider" in p.message


def test_duplicate_ids(write_yaml):
    """Two organisations with one id: the second is reported, naming where the first is."""
    text = edit("    - id: london\n", "    - id: london\n    - id: midlands\n")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "organisations.regions[2].id"
    assert "duplicate id 'midlands'" in p.message
    assert "organisations.regions[0].id" in p.message
    assert p.line == line_of(text, "id: london") + 1


def test_duplicate_contract_ids(write_yaml):
    """Two contracts with one id: the second is reported."""
    text = edit("  - id: city-mh\n", "  - id: north-acute\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "contracts[1].id"
    assert "duplicate contract id 'north-acute'" in p.message


def test_negative_population(write_yaml):
    """A negative population is an error at that commissioner's field."""
    text = edit("      population: 300000\n", "      population: -300000\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "organisations.commissioners[0].population"
    assert ">= 0" in p.message and "-300000" in p.message
    assert p.line == line_of(text, "population: -300000")


def test_negative_money(write_yaml):
    """Negative money (an opening allocation, a block contract value) is an error at each."""
    text = edit("    north_ccg: 400.0\n", "    north_ccg: -400.0\n")
    text = edit("    value: 60.0\n", "    value: -60.0\n", text)
    problems = problems_of(write_yaml(text))
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {"allocations.opening.north_ccg", "contracts[1].value"}
    assert ">= 0" in by_path["allocations.opening.north_ccg"].message
    assert "-400.0" in by_path["allocations.opening.north_ccg"].message
    assert by_path["allocations.opening.north_ccg"].line == line_of(text, "north_ccg: -400.0")
    assert by_path["contracts[1].value"].line == line_of(text, "value: -60.0")


def test_nan(write_yaml):
    """YAML's .nan is refused wherever a number is read, plain or per year."""
    text = edit("  shock_sd: 0.03\n", "  shock_sd: .nan\n")
    text = edit("    city_ccg: 650.0\n", "    city_ccg: .NaN\n", text)
    text = edit("    2018/19: 0.03\n  shock_sd", "    2018/19: .nan\n  shock_sd", text)
    problems = problems_of(write_yaml(text))
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {
        "activity.shock_sd",
        "allocations.opening.city_ccg",
        "activity.growth.2018/19",
    }
    assert all("finite" in p.message for p in problems)
    assert "for 2018/19" in by_path["activity.growth.2018/19"].message
    assert by_path["activity.growth.2018/19"].line == line_of(text, "2018/19: .nan")
    assert by_path["activity.shock_sd"].line == line_of(text, "shock_sd: .nan")


def test_infinity(write_yaml):
    """YAML's .inf and -.inf are refused: in a price, in a per-year parameter, in money."""
    text = edit("    elective: 3500\n", "    elective: .inf\n")
    text = edit(
        "    2017/18: 0.0\n    2018/19: 0.03\ntariff",
        "    2017/18: -.inf\n    2018/19: 0.03\ntariff",
        text,
    )
    text = edit("    value: 60.0\n", "    value: .Inf\n", text)
    problems = problems_of(write_yaml(text))
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {
        "tariff.prices.elective",
        "allocations.uplift.2017/18",
        "contracts[1].value",
    }
    assert all("finite" in p.message for p in problems)
    assert by_path["allocations.uplift.2017/18"].line == line_of(text, "2017/18: -.inf")
    assert by_path["tariff.prices.elective"].line == line_of(text, "elective: .inf")


@pytest.mark.parametrize(
    ("old", "new", "path", "expected"),
    [
        ("    2018/19: 0.03\ntariff", "    2018/20: 0.03\ntariff", "allocations.uplift.2018/20",
         "'2018/20' is not a financial year: the second part should be 19, the year after 2018"),
        ("    2018/19: 0.03\ntariff", "    2018-19: 0.03\ntariff", "allocations.uplift.2018-19",
         "expected a financial year label like '2018/19', got '2018-19'"),
        ("  start: 2017/18\n", "  start: 2017-18\n", "scenario.start",
         "expected a financial year label like '2018/19', got '2017-18'"),
        ("  start: 2017/18\n", "  start: 2017/19\n", "scenario.start",
         "'2017/19' is not a financial year"),
        ("  start: 2017/18\n", "  start: 2017\n", "scenario.start",
         "expected a financial year label like '2018/19', got 2017"),
    ],
)  # fmt: skip
def test_a_financial_year_label_that_is_not_one(write_yaml, old, new, path, expected):
    """'2018/20', '2018-19' or 2017 where a financial year is expected says what one looks like."""
    text = edit(old, new)
    p = only(problems_of(write_yaml(text)))
    assert p.path == path
    assert expected in p.message
    assert p.line == line_of(text, new.split(":")[0])


def test_cyclic_extends(write_yaml):
    """a.yaml extends b.yaml extends a.yaml: one problem naming the chain, in the file closing it."""
    a = write_yaml("extends: b.yaml\nscenario: {name: A}\n", "a.yaml")
    b = write_yaml("# the base\nextends: a.yaml\n", "b.yaml")
    p = only(problems_of(a))
    assert p.path == "extends"
    assert p.file == str(b)
    assert p.line == 2
    assert "cyclic" in p.message
    assert f"{a} -> {b} -> {a}" in p.message


def test_a_file_extending_itself(write_yaml):
    """A file that extends itself is a cycle of one."""
    a = write_yaml("extends: ./a.yaml\n", "a.yaml")
    p = only(problems_of(a))
    assert p.path == "extends" and p.file == str(a) and "cyclic" in p.message


def test_a_missing_base_file(write_yaml):
    """extends: naming a file that does not exist says where it looked."""
    a = write_yaml("extends: nowhere.yaml\n", "a.yaml")
    p = only(problems_of(a))
    assert p.path == "extends" and p.file == str(a) and p.line == 1
    assert "nowhere.yaml" in p.message and "not found" in p.message


def test_a_problem_in_a_base_file_names_the_base_file(write_yaml):
    """A mistake in the base of an extends: chain is located in the base, not the child."""
    base_text = edit("    provider: city_mh\n", "    provider: city_hm\n")
    base = write_yaml(base_text, "base.yaml")
    child = write_yaml("extends: base.yaml\nscenario:\n  name: Child\n", "child.yaml")
    p = only(problems_of(child))
    assert p.path == "contracts[1].provider"
    assert p.file == str(base)
    assert p.line == line_of(base_text, "provider: city_hm")
    assert p.suggestion == "city_mh"


def test_a_contract_added_by_a_child_file_is_located_in_the_child(write_yaml):
    """A contract a child file appends (merged by id) is located at its line in the child."""
    write_yaml(TINY, "base.yaml")
    child_text = (
        "extends: base.yaml\n"
        "contracts:\n"
        "  - id: city-acute\n"
        "    commissioner: city_ccg\n"
        "    provider: north_acutee\n"
        "    type: block\n"
        "    value: 5.0\n"
    )
    child = write_yaml(child_text, "child.yaml")
    p = only(problems_of(child))
    assert p.path == "contracts[2].provider"  # appended after the base's two contracts
    assert p.file == str(child)
    assert p.line == 5
    assert p.suggestion == "north_acute"


def test_unknown_variant(write_yaml):
    """Asking for a variant the file does not declare lists those it does, with 'did you mean'."""
    path = write_yaml(TINY)
    p = only(problems_of(path, variant="high_demnad"))
    assert p.path == "variants"
    assert p.suggestion == "high_demand"
    assert "unknown variant 'high_demnad'" in p.message and "high_demand" in p.message
    assert p.file == str(path)
    assert p.line == line_of(TINY, "variants:")
    sc = finsim.load_scenario(path)
    with pytest.raises(finsim.ScenarioError) as info:
        sc.with_variant("tight_tariff")
    assert only(info.value.problems).suggestion is None  # nothing close enough to suggest


def test_an_organisation_in_a_system_of_another_region(write_yaml):
    """A commissioner said to be in one region, in a system of another, is an error."""
    text = edit(
        "      system: north\n      population",
        "      system: north\n      region: london\n      population",
    )
    p = only(problems_of(write_yaml(text)))
    assert p.path == "organisations.commissioners[0].region"
    assert "'london'" in p.message and "'north'" in p.message and "'midlands'" in p.message
    assert p.line == line_of(text, "id: north_ccg") + 2


def test_a_per_year_parameter_that_starts_after_the_first_year_it_is_used(write_yaml):
    """Growth first given for 2019/20 cannot be guessed back to 2018/19, where it first applies."""
    text = edit("    2017/18: 0.0\n    2018/19: 0.03\n  shock_sd", "    2019/20: 0.03\n  shock_sd")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "activity.growth"
    assert "no value for 2018/19" in p.message and "2019/20" in p.message
    assert p.line == line_of(text, "growth:")


def test_a_growth_rate_need_not_be_given_for_the_first_year(write_yaml):
    """Growth applies into each year from the second, so it may start in 2018/19."""
    text = edit("    2017/18: 0.0\n    2018/19: 0.03\n  shock_sd", "    2018/19: 0.03\n  shock_sd")
    finsim.load_scenario(write_yaml(text))


def test_a_growth_rate_below_minus_100_percent(write_yaml):
    """A growth rate, uplift or inflation below -1 (-100%) would make activity, allocations or
    costs negative: refused, naming the field and the year; -1 itself (down to zero) is fine."""
    text = edit("    2017/18: 0.0\n    2018/19: 0.03\n  shock_sd", "    2018/19: -1.5\n  shock_sd")
    text = edit("  cost_uplift: 0.021\n", "  cost_uplift: -1.01\n", text)
    problems = problems_of(write_yaml(text))
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {"activity.growth.2018/19", "tariff.cost_uplift"}
    assert all("expected a number >= -1" in p.message for p in problems)
    assert "-1.5" in by_path["activity.growth.2018/19"].message
    assert by_path["activity.growth.2018/19"].line == line_of(text, "2018/19: -1.5")
    assert by_path["tariff.cost_uplift"].line == line_of(text, "cost_uplift: -1.01")
    text = edit("    2017/18: 0.0\n    2018/19: 0.03\n  shock_sd", "    2018/19: -1\n  shock_sd")
    finsim.load_scenario(write_yaml(text))


def test_duplicate_yaml_keys(write_yaml):
    """A key written twice is an error on the second, naming the line of the first."""
    text = edit("  years: 2\n", "  years: 2\n  years: 3\n")
    path = write_yaml(text)
    p = only(problems_of(path))
    assert p.path == "scenario.years"
    assert p.file == str(path)
    assert p.line == line_of(text, "years: 3")
    assert f"duplicate key 'years' (first written on line {line_of(text, 'years: 2')})" in p.message


def test_an_error_inside_a_variant_is_reported_at_load_time(write_yaml):
    """A bad value in a variant fails load_scenario, naming the variant and the variant's line."""
    text = edit("      shock_sd: 0.05\n", "      shock_sd: -0.05\n")
    path = write_yaml(text)
    p = only(problems_of(path))  # no variant asked for: every variant is checked on load
    assert p.path == "variants.high_demand -> activity.shock_sd"
    assert ">= 0" in p.message
    assert p.file == str(path)
    assert p.line == line_of(text, "shock_sd: -0.05")


def test_a_misspelt_key_inside_a_variant(write_yaml):
    """An unknown key in a variant's overlay gets 'did you mean', located in the variant."""
    text = edit("      shock_sd: 0.05\n", "      shock_ds: 0.05\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "variants.high_demand -> activity.shock_ds"
    assert p.suggestion == "shock_sd"
    assert p.line == line_of(text, "shock_ds")


def test_a_contract_added_by_a_variant_is_located_in_the_variant(write_yaml):
    """A variant appending a contract with a misspelt provider points at the variant's line."""
    text = TINY + (
        "  new_contract:\n"
        "    contracts:\n"
        "      - id: city-acute\n"
        "        commissioner: city_ccg\n"
        "        provider: north_acutee\n"
        "        type: block\n"
        "        value: 5.0\n"
    )
    p = only(problems_of(write_yaml(text)))
    assert p.path == "variants.new_contract -> contracts[2].provider"
    assert p.line == line_of(text, "north_acutee")
    assert p.suggestion == "north_acute"


def test_a_list_as_a_contract_id_in_a_variant(write_yaml):
    """A variant contract whose id is a list is a problem at that id, not a crash of the merge."""
    text = TINY + "  odd:\n    contracts:\n      - id: [north-acute]\n        value: 1.0\n"
    problems = problems_of(write_yaml(text))
    assert "variants.odd -> contracts[0].id" in {p.path for p in problems}


def test_a_variant_that_is_not_a_mapping(write_yaml):
    """A variant must be a mapping of the parts to replace."""
    text = edit("      shock_sd: 0.05\n", "      shock_sd: 0.05\n  empty: 3\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "variants.empty"
    assert "expected a mapping" in p.message
    assert p.line == line_of(text, "empty: 3")


def test_several_problems_are_reported_at_once(write_yaml):
    """Three distinct mistakes (a type, a sign, a misspelt id) come back together in one error."""
    text = edit("  shock_sd: 0.03\n", "  shock_sd: .nan\n")
    text = edit("    north_ccg: 400.0\n", "    north_ccg: -400.0\n", text)
    text = edit("    provider: city_mh\n", "    provider: city_hm\n", text)
    path = write_yaml(text)
    problems = problems_of(path)
    by_path = {p.path: p for p in problems}
    assert set(by_path) == {
        "activity.shock_sd",
        "allocations.opening.north_ccg",
        "contracts[1].provider",
    }
    assert "finite" in by_path["activity.shock_sd"].message
    assert ">= 0" in by_path["allocations.opening.north_ccg"].message
    assert by_path["contracts[1].provider"].suggestion == "city_mh"
    assert all(p.file == str(path) and p.line is not None for p in problems)


def test_a_broken_section_causes_no_misleading_problems_elsewhere(write_yaml):
    """Contracts are not said to use unknown prices because the tariff itself has a type error."""
    text = edit("    elective: 3500\n", "    elective: lots\n")
    p = only(problems_of(write_yaml(text)))
    assert p.path == "tariff.prices.elective"
    assert "expected a number" in p.message and "'lots'" in p.message


def test_the_message_lists_every_problem_with_file_line_and_path(write_yaml):
    """str(ScenarioError) counts the problems and gives each as file:line: path: message."""
    text = edit("  years: 2\n", "  years: two\n")
    text = edit("    provider: city_mh\n", "    provider: city_hm\n", text)
    text = edit("  shock_sd: 0.03\n", "  shock_sd: -1\n", text)
    path = write_yaml(text)
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.load_scenario(path)
    message = str(info.value)
    assert message.startswith("2 problems in scenario:")
    assert (
        f"{path}:{line_of(text, 'years: two')}: scenario.years: expected a whole number" in message
    )
    assert f"{path}:{line_of(text, 'shock_sd: -1')}: activity.shock_sd: " in message


def test_an_id_with_spaces(write_yaml):
    """An id that is not letters, digits, '_', '-' or '.' says what an id may hold."""
    text = edit("    - id: london\n", "    - id: greater london\n")
    problems = problems_of(write_yaml(text))
    p = problems[0]
    assert p.path == "organisations.regions[1].id"
    assert "expected an id" in p.message and "'greater london'" in p.message


def test_a_mapping_used_as_a_key(write_yaml):
    """A YAML key that is a list or mapping is refused instead of crashing the reader."""
    p = only(problems_of(write_yaml("scenario:\n  ? [a, b]\n  : 1\n")))
    assert p.path == "scenario"
    assert "expected a plain key" in p.message and p.line == 2


def test_a_scenario_error_pickles_and_hashes():
    """ScenarioError crosses process boundaries whole and can be hashed like any exception."""
    error = finsim.ScenarioError.single(
        "contracts[3].provider", "unknown provider", "f.yaml", 7, "x"
    )
    again = pickle.loads(pickle.dumps(error))
    assert again.problems == error.problems
    assert str(again) == str(error)
    assert len({error, again}) == 2  # hashable, and equal only to itself like any exception


def test_loads_scenario_names_its_source_in_problems():
    """Problems in text given to loads_scenario name the source given."""
    text = edit("  years: 2\n", "  years: -1\n")
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(text, source="notebook cell 3")
    p = only(info.value.problems)
    assert p.file == "notebook cell 3"
    assert p.path == "scenario.years"
    assert p.line == line_of(text, "years: -1")


def test_a_variant_cannot_be_called_baseline(write_yaml):
    """'baseline' names the scenario without variants, so a variant of that name is an error."""
    text = edit("  high_demand:\n", "  baseline:\n")
    problems = problems_of(write_yaml(text))
    assert any(
        p.path == "variants.baseline" and "call this variant something else" in p.message
        for p in problems
    )


def test_an_efficiency_factor_that_would_make_prices_negative(write_yaml):
    """Uplift and efficiency each within limits, but together below -100%: refused, naming
    the year; exactly -100% (prices fall to zero) is accepted."""
    text = edit(
        "  cost_uplift: 0.021\n  efficiency: 0.02\n", "  cost_uplift: -0.5\n  efficiency: 0.6\n"
    )
    p = only(problems_of(write_yaml(text)))
    assert p.path == "tariff.efficiency"
    assert "2018/19" in p.message and "expected uplift - efficiency >= -1" in p.message
    text = edit(
        "  cost_uplift: 0.021\n  efficiency: 0.02\n", "  cost_uplift: -0.5\n  efficiency: 0.5\n"
    )
    finsim.load_scenario(write_yaml(text))
