"""Units: every number in a scenario has one, percentages are read or refused with the fix.

The schema walk below fails on any number of any registered mechanism's section that has
no unit, and on any field without a description, so that no future field escapes.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

import finsim
from finsim.scenario.models import StrictModel
from finsim.scenario.units import GROWTH, SHARE, UNITS, UnitError, percent_value
from finsim.scenario.validate import scenario_model

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "examples").glob("*.yaml"))

# -- the schema walk ----------------------------------------------------------------------------

#: Keys whose value maps names to schemas, holds one schema, or a list of schemas.
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
_SCHEMA_ONE = ("additionalProperties", "items", "not", "contains")
_SCHEMA_MANY = ("anyOf", "oneOf", "allOf", "prefixItems")


def schema_gaps(schema: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(numbers without a unit, properties without a description) in a JSON Schema, by
    JSON-pointer-like location, looking inside $defs, anyOf, additionalProperties, items..."""
    no_unit: list[str] = []
    no_description: list[str] = []

    def walk(node: Any, where: str) -> None:
        if not isinstance(node, dict):
            return
        kind = node.get("type")
        kinds = kind if isinstance(kind, list) else [kind]
        if ("number" in kinds or "integer" in kinds) and "unit" not in node:
            no_unit.append(where)
        for name, sub in (node.get("properties") or {}).items():
            if not (isinstance(sub, dict) and sub.get("description")):
                no_description.append(f"{where}/properties/{name}")
        for key in _SCHEMA_MAPS:
            for name, sub in (node.get(key) or {}).items():
                walk(sub, f"{where}/{key}/{name}")
        for key in _SCHEMA_ONE:
            value = node.get(key)
            for i, sub in enumerate(value if isinstance(value, list) else [value]):
                walk(sub, f"{where}/{key}" + (f"/{i}" if isinstance(value, list) else ""))
        for key in _SCHEMA_MANY:
            for i, sub in enumerate(node.get(key) or []):
                walk(sub, f"{where}/{key}/{i}")

    walk(schema, "#")
    return no_unit, no_description


def units_in(schema: Any) -> list[str]:
    """Every 'unit' named anywhere in a schema."""
    if isinstance(schema, dict):
        found = [schema["unit"]] if isinstance(schema.get("unit"), str) else []
        return found + [u for k, v in schema.items() if k != "unit" for u in units_in(v)]
    if isinstance(schema, list):
        return [u for v in schema for u in units_in(v)]
    return []


def test_every_number_in_the_scenario_schema_has_a_unit():
    """Every number/integer in the JSON Schema of the whole file (every registered mechanism's
    section, its $defs, inside anyOf, additionalProperties and items) names its unit."""
    schema = scenario_model().model_json_schema()
    no_unit, _ = schema_gaps(schema)
    assert no_unit == [], "numbers without a unit:\n" + "\n".join(no_unit)
    named = units_in(schema)
    assert len(named) > 100  # the walk saw the numbers: there are well over a hundred
    assert set(named) <= set(UNITS), set(named) - set(UNITS)


def test_every_field_in_the_scenario_schema_has_a_description():
    """Every property of every model, and every top-level section, says what it is."""
    _, no_description = schema_gaps(scenario_model().model_json_schema())
    assert no_description == [], "fields without a description:\n" + "\n".join(no_description)


def test_the_walk_finds_a_number_without_a_unit_and_a_field_without_a_description():
    """The walk is not vacuous: a plain float, one inside a mapping, a list and a union, and a
    field without a description, are each reported."""

    class Careless(StrictModel):
        rate: float
        by_body: dict[str, float] = {}
        phasing: list[int] = []
        maybe: float | str = 0.0

    no_unit, no_description = schema_gaps(Careless.model_json_schema())
    assert no_unit == [
        "#/properties/rate",
        "#/properties/by_body/additionalProperties",
        "#/properties/phasing/items",
        "#/properties/maybe/anyOf/0",
    ]
    assert len(no_description) == 4


def test_a_unit_names_itself_and_its_bounds_in_the_schema():
    """A share says 'share', 0 to 1, and that '70%' is a way to write one; growth is below 1."""
    defs = scenario_model().model_json_schema()["$defs"]
    chance = defs["IncentivesConfig"]["properties"]["performance_chance"]
    number, text = chance["anyOf"]
    assert (number["type"], number["minimum"], number["maximum"], number["unit"]) == (
        "number",
        0,
        1,
        "share",
    )
    assert text["type"] == "string" and re.match(text["pattern"], "70%")
    uplift = defs["TariffConfig"]["properties"]["cost_uplift"]["anyOf"][0]["anyOf"][0]
    assert (uplift["unit"], uplift["minimum"], uplift["exclusiveMaximum"]) == ("growth", -1, 1)
    money = defs["IncentivesConfig"]["properties"]["allocation"]["additionalProperties"]
    assert (money["unit"], money["minimum"]) == ("money", 0)


# -- a percentage written as a whole number -------------------------------------------------------

UNITS_YAML = """\
scenario:
  name: Units
  start: 2018/19
  years: 2
organisations:
  regions:
    - id: r
  systems:
    - id: s
      region: r
  commissioners:
    - id: c
      system: s
      population: 100000
  providers:
    - id: p
      system: s
allocations:
  opening:
    c: 117.0
  uplift: 0.03
tariff:
  prices:
    non_elective: 2000
  cost_uplift: 0.021
  emergency_marginal_rate:
    rate: 0.7
contracts:
  - id: k
    commissioner: c
    provider: p
    type: blended
    variable_rate: 0.2
    plan:
      non_elective: 50000
activity:
  growth: 0.02
costs:
  inflation: 0.025
  providers:
    p:
      fixed: 100.0
savings:
  programmes:
    - id: cip
      who: providers
      share_of_costs: 0.03
      recurrent_share: 0.5
      delivery:
        mean: 0.8
control_totals:
  organisations:
    p: 1.0
incentives:
  fund: 10.0
  allocation:
    p: 10.0
  finance_share: 0.7
  performance_chance: 0.9
  system_share: 0.0
"""


def edit(old: str, new: str) -> str:
    assert UNITS_YAML.count(old) == 1, old
    return UNITS_YAML.replace(old, new)


def line_of(text: str, needle: str) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert len(hits) == 1, hits
    return hits[0]


def only_problem(text: str) -> finsim.Problem:
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(text, source="units.yaml")
    problems = info.value.problems
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_the_units_scenario_is_valid():
    """The starting point of the tests below loads as written."""
    assert finsim.loads_scenario(UNITS_YAML).name == "Units"


@pytest.mark.parametrize(
    ("old", "new", "path", "hint"),
    [
        ("    rate: 0.7", "    rate: 70", "tariff.emergency_marginal_rate.rate",
         'got 70: write 0.70 (or "70%")'),
        ("  finance_share: 0.7", "  finance_share: 70", "incentives.finance_share",
         'got 70: write 0.70 (or "70%")'),
        ("  system_share: 0.0", "  system_share: 100", "incentives.system_share",
         'got 100: write 1.00 (or "100%")'),
        ("      share_of_costs: 0.03", "      share_of_costs: 3",
         "savings.programmes[0].share_of_costs", 'got 3: write 0.03 (or "3%")'),
        ("  uplift: 0.03", "  uplift: 2", "allocations.uplift", 'got 2: write 0.02 (or "2%")'),
        ("  cost_uplift: 0.021", "  cost_uplift: 3", "tariff.cost_uplift",
         'got 3: write 0.03 (or "3%")'),
        ("  growth: 0.02", "  growth: 3", "activity.growth", 'got 3: write 0.03 (or "3%")'),
        ("  inflation: 0.025", "  inflation: 2.5", "costs.inflation",
         'got 2.5: write 0.025 (or "2.5%")'),
        # the fields that refused these before, now in the same words
        ("    variable_rate: 0.2", "    variable_rate: 20", "contracts[0].variable_rate",
         'got 20: write 0.20 (or "20%")'),
        ("  performance_chance: 0.9", "  performance_chance: 90",
         "incentives.performance_chance", 'got 90: write 0.90 (or "90%")'),
        ("      recurrent_share: 0.5", "      recurrent_share: 50",
         "savings.programmes[0].recurrent_share", 'got 50: write 0.50 (or "50%")'),
        ("        mean: 0.8", "        mean: 80", "savings.programmes[0].delivery.mean",
         'got 80: write 0.80 (or "80%")'),
    ],
)  # fmt: skip
def test_a_percentage_written_as_a_whole_number_is_refused_with_the_fix(old, new, path, hint):
    """70 for a share (7,000%), 3 for an uplift (300% a year): one problem at the field's line,
    saying the bound, the unit, what was found and what to write."""
    text = edit(old, new)
    p = only_problem(text)
    assert p.path == path
    assert p.message.endswith(hint), p.message
    assert p.message.startswith("expected a number <")
    assert p.line == line_of(text, new.strip())


def test_a_percentage_written_as_a_whole_number_in_one_year():
    """In a per-year mapping the problem points at the year, and the message names it."""
    text = edit("  uplift: 0.03", "  uplift:\n    2018/19: 0.0\n    2019/20: 3")
    p = only_problem(text)
    assert p.path == "allocations.uplift.2019/20"
    assert "for 2019/20" in p.message and p.message.endswith('got 3: write 0.03 (or "3%")')
    assert p.line == line_of(text, "2019/20: 3")


def test_a_growth_of_100_percent_or_more_is_refused_and_minus_100_percent_is_not():
    """Growth of 1 (100% a year) or more is refused with the hint; -1 (to zero) is allowed."""
    p = only_problem(edit("  growth: 0.02", "  growth: 1"))
    assert p.message == (
        'expected a number < 1 (a growth rate: 1 is 100% a year), got 1: write 0.01 (or "1%")'
    )
    finsim.loads_scenario(edit("  growth: 0.02", "  growth: -1"))
    p = only_problem(edit("  growth: 0.02", "  growth: 150"))
    assert "write" not in p.message  # 1.5 would be refused too: no fix to suggest


def test_a_share_above_one_that_is_not_a_percentage_gets_no_hint():
    """A share of 170% written as "170%" or 170.5 cannot be fixed by dividing: no hint."""
    assert (
        "write" not in only_problem(edit("  finance_share: 0.7", '  finance_share: "170%"')).message
    )
    assert (
        "write" not in only_problem(edit("  finance_share: 0.7", "  finance_share: 170.5")).message
    )


@pytest.mark.parametrize(
    ("old", "new", "read"),
    [
        ("  finance_share: 0.7", "  finance_share: 70%",
         lambda m: m.incentives.finance_share.at(2018)),
        ("  finance_share: 0.7", '  finance_share: "70%"',
         lambda m: m.incentives.finance_share.at(2018)),
        ("  finance_share: 0.7", "  finance_share:\n    2018/19: 70%",
         lambda m: m.incentives.finance_share.at(2018)),
        ("    rate: 0.7", "    rate: 70 %", lambda m: m.tariff.emergency_marginal_rate.rate.at(2018)),
        ("  performance_chance: 0.9", "  performance_chance: 70%",
         lambda m: m.incentives.performance_chance),
    ],
)  # fmt: skip
def test_a_percentage_in_text_is_read_exactly_as_the_fraction(old, new, read):
    """'70%' is 0.70, the same float as 0.70 written out, in a plain and a per-year field."""
    model = finsim.loads_scenario(edit(old, new)).model
    assert read(model) == 0.70


def test_growth_and_uplift_as_percentages():
    """'3%' is 0.03 and '-2.5%' is -0.025, for growth; '3.1%' is exactly 0.031."""
    text = edit("  uplift: 0.03", "  uplift: 3%")
    text = text.replace("  cost_uplift: 0.021", '  cost_uplift: "3.1%"')
    text = text.replace("  growth: 0.02", "  growth: -2.5%")
    model = finsim.loads_scenario(text).model
    assert model.allocations.uplift.at(2019) == 0.03
    assert model.tariff.cost_uplift.at(2019) == 0.031
    assert model.activity.growth.at(2019) == -0.025


def test_a_scenario_with_percentages_is_the_scenario_with_fractions():
    """Written with percentages or with fractions, the validated model is the same."""
    text = UNITS_YAML
    for old, new in (
        ("  finance_share: 0.7", "  finance_share: 70%"),
        ("  uplift: 0.03", "  uplift: 3%"),
        ("      share_of_costs: 0.03", "      share_of_costs: 3%"),
        ("    rate: 0.7", "    rate: 70%"),
    ):
        text = text.replace(old, new)
    assert finsim.loads_scenario(text).model == finsim.loads_scenario(UNITS_YAML).model


def test_money_is_not_a_percentage():
    """Only shares, rates and growth take percentages: '5%' of money is text, refused."""
    p = only_problem(edit("    c: 117.0", '    c: "5%"'))
    assert p.path == "allocations.opening.c"
    assert p.message == "expected a number, got '5%'"


def test_a_whole_number_field_refuses_a_decimal():
    """Years, months and replications are whole numbers: 2.0 is refused, 2 is not."""
    p = only_problem(edit("  years: 2", "  years: 2.0"))
    assert p.path == "scenario.years" and p.message == "expected a whole number, got 2.0"


# -- the units themselves ---------------------------------------------------------------------


@given(whole=st.integers(0, 10**6), places=st.integers(0, 4), sign=st.sampled_from(["", "-"]))
def test_a_percentage_is_the_decimal_fraction_rounded_once(whole, places, sign):
    """'x%' reads as the float nearest x/100 (the number written as the fraction), for any
    decimal x: no double rounding through float(x) / 100."""
    digits = str(Decimal(whole).scaleb(-places))
    text = f"{sign}{digits}%"
    exact = Decimal(f"{sign}{digits}") / 100
    assert percent_value(text) == float(exact) == float(str(exact))


@given(value=st.integers(2, 100) | st.decimals("1.01", "100", places=2).map(float))
def test_the_hinted_fix_is_valid_and_is_the_value_over_100(value):
    """For a share written as a percentage, the fix in the message is a valid share equal to
    value / 100, and so is the percentage it suggests."""
    with pytest.raises(UnitError) as info:
        SHARE.check(value)
    match = re.search(r'got (\S+): write (\S+) \(or "(\S+)"\)$', str(info.value))
    assert match is not None, str(info.value)
    fraction, percent = match.group(2), match.group(3)
    assert Decimal(fraction) == Decimal(repr(value)) / 100
    assert SHARE.check(float(fraction)) == SHARE.check(percent) == float(Decimal(fraction))


@given(value=st.floats(-1.0, 1.0, exclude_max=True, allow_nan=False))
def test_a_value_within_bounds_is_read_unchanged(value):
    """Units check; they never transform a number written as a number."""
    assert GROWTH.check(value) == value
    if value >= 0:
        assert SHARE.check(value) == value


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_example_validates_unchanged_and_reads_every_number_as_written(path):
    """The shipped examples, and each variant, validate as written; every number in the file
    is the number the model holds at that place (the units check, never convert)."""
    scenario = finsim.load_scenario(path)
    for variant in scenario.variants:
        finsim.load_scenario(path, variant)
    written = yaml.safe_load(path.read_text(encoding="utf-8"))
    held = scenario.model.model_dump(by_alias=True)
    compared = 0

    def same(doc: Any, model: Any, where: str) -> None:
        nonlocal compared
        if isinstance(doc, dict):
            for key, value in doc.items():
                assert isinstance(model, dict) and key in model, f"{where}.{key}"
                same(value, model[key], f"{where}.{key}")
        elif isinstance(doc, list):
            assert isinstance(model, list) and len(model) == len(doc), where
            for i, value in enumerate(doc):
                same(value, model[i], f"{where}[{i}]")
        elif isinstance(doc, int | float) and not isinstance(doc, bool):
            assert model == doc and type(model) in (int, float), where
            compared += 1

    same(written, held, "")
    assert compared > 0
