"""Scenario files load into validated, immutable Scenarios; extends and variants merge as documented."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import example as also_try
from hypothesis import strategies as st

import finsim
from finsim.calendar import fy_label, parse_fy
from finsim.mechanisms.base import Mechanism
from finsim.scenario.merge import deep_merge
from finsim.scenario.models import StrictModel
from finsim.scenario.params import ByYear
from finsim.scenario.validate import scenario_model


@pytest.fixture
def example(example_path: Path) -> finsim.Scenario:
    """The flagship example, loaded."""
    return finsim.load_scenario(example_path)


def example_data(example_path: Path) -> dict[str, Any]:
    """The example file as plain data, exactly as written."""
    return yaml.safe_load(example_path.read_text(encoding="utf-8"))


def contract(sc: finsim.Scenario, contract_id: str) -> Any:
    matches = [c for c in sc.model.contracts if c.id == contract_id]  # type: ignore[attr-defined]
    assert len(matches) == 1
    return matches[0]


# -- loading ---------------------------------------------------------------------------------


def test_the_example_loads(example, example_path):
    """examples/two_systems.yaml validates, with its settings, organisations and variants."""
    raw = example_data(example_path)
    assert example.name == raw["scenario"]["name"] == "Two systems, one region"
    assert example.source == str(example_path)
    assert example.variant == "baseline"
    assert example.variants == list(raw["variants"]) and example.variants
    assert example.calendar.labels[0] == raw["scenario"]["start"]
    assert len(example.calendar.labels) == raw["scenario"]["years"]
    commissioners = example.model.organisations.commissioners
    assert [c.id for c in commissioners] == [c["id"] for c in raw["organisations"]["commissioners"]]
    assert [c.id for c in example.model.contracts] == [c["id"] for c in raw["contracts"]]


def test_loads_scenario_reads_text(example_path):
    """loads_scenario validates YAML text as load_scenario validates a file."""
    text = example_path.read_text(encoding="utf-8")
    sc = finsim.loads_scenario(text, source="pasted")
    from_file = finsim.load_scenario(example_path)
    assert sc.source == "pasted"
    assert sc.to_data() == from_file.to_data()
    for name in sc.variants:
        assert sc.with_variant(name).to_data() == from_file.with_variant(name).to_data()


def test_from_dict_validates_plain_data(example_path):
    """Scenario.from_dict takes the same document as data and does not keep the caller's dict."""
    data = example_data(example_path)
    sc = finsim.Scenario.from_dict(data)
    data["scenario"]["name"] = "changed afterwards"
    assert sc.name == "Two systems, one region"


def test_a_scenario_cannot_be_changed(example):
    """A Scenario is immutable: attributes cannot be set, and to_data hands out a copy."""
    with pytest.raises(AttributeError):
        example.variant = example.variants[0]
    with pytest.raises(AttributeError):
        example.model = None
    shock_sd = example.to_data()["activity"]["shock_sd"]
    data = example.to_data()
    data["activity"]["shock_sd"] = shock_sd + 1.0
    assert example.to_data()["activity"]["shock_sd"] == shock_sd
    assert example.variant == "baseline"


# -- extends ---------------------------------------------------------------------------------


def test_extends_merges_a_base_file(write_yaml, example_path):
    """A child file overrides values of its base, keeps the rest, and may add variants."""
    child = write_yaml(
        f"extends: {example_path}\n"
        "scenario:\n"
        "  name: Child of two systems\n"
        "activity:\n"
        "  shock_sd: 0.08\n"
        "variants:\n"
        "  no_shocks:\n"
        "    activity:\n"
        "      shock_sd: 0.0\n",
        "child.yaml",
    )
    sc = finsim.load_scenario(child)
    base = finsim.load_scenario(example_path)
    assert sc.name == "Child of two systems"
    assert sc.model.scenario.start == base.model.scenario.start  # kept from the base
    assert sc.model.activity.shock_sd == 0.08  # overridden
    assert base.model.activity.shock_sd != 0.08
    assert sc.model.activity.growth == base.model.activity.growth  # sibling kept
    assert sc.model.contracts == base.model.contracts
    assert sc.variants == [*base.variants, "no_shocks"]
    assert sc.with_variant("no_shocks").model.activity.shock_sd == 0.0
    assert "extends" not in sc.to_data()


def test_extends_is_relative_to_the_extending_file(tmp_path, write_yaml, example_path):
    """A relative extends: path is read from the folder of the file that declares it."""
    (tmp_path / "bases").mkdir()
    write_yaml(f"extends: {example_path}\n", "bases/middle.yaml")
    sc = finsim.load_scenario(write_yaml("extends: bases/middle.yaml\n", "top.yaml"))
    assert sc.to_data() == finsim.load_scenario(example_path).to_data()


def test_loads_scenario_resolves_extends_from_the_working_folder(monkeypatch, example_path):
    """extends: in text given to loads_scenario is relative to the working folder."""
    monkeypatch.chdir(example_path.parent)
    sc = finsim.loads_scenario(f"extends: {example_path.name}\nscenario:\n  name: From text\n")
    assert sc.name == "From text"
    assert sc.model.contracts == finsim.load_scenario(example_path).model.contracts


# -- variants --------------------------------------------------------------------------------


def test_a_variant_deep_merges_onto_the_base(example_path):
    """A variant merges mappings recursively, removes null keys, merges id lists by id, replaces lists."""
    data = example_data(example_path)
    block = next(c for c in data["contracts"] if c.get("type") == "block")
    commissioner = data["organisations"]["commissioners"][0]["id"]
    provider = data["organisations"]["providers"][0]["id"]
    data["variants"] = {
        "reform": {
            # a mapping merged key by key: shock_sd changes, growth and monthly_sd stay;
            # a plain list (seasonality) is replaced
            "activity": {"shock_sd": 0.07, "seasonality": [1.0] * 12},
            # null removes a key
            "allocations": {"central_reserve": None},
            # a list of mappings with ids is merged by id: one changed, one appended
            "contracts": [
                {"id": block["id"], "value": block["value"] + 10.0},
                {
                    "id": "new-contract",
                    "commissioner": commissioner,
                    "provider": provider,
                    "type": "block",
                    "value": 5.0,
                },
            ],
        }
    }
    base = finsim.Scenario.from_dict(data)
    before = base.to_data()
    reform = base.with_variant("reform")

    assert isinstance(reform, finsim.Scenario)
    assert reform.variant == "reform"
    activity = reform.model.activity
    assert activity.shock_sd == 0.07 != base.model.activity.shock_sd
    assert activity.monthly_sd == base.model.activity.monthly_sd
    assert activity.growth == base.model.activity.growth
    assert activity.seasonality == [1.0] * 12 != base.model.activity.seasonality
    assert reform.model.allocations.central_reserve is None
    assert base.model.allocations.central_reserve is not None
    ids = [c.id for c in reform.model.contracts]
    assert ids == [c.id for c in base.model.contracts] + ["new-contract"]
    changed = contract(reform, block["id"])
    assert changed.value == block["value"] + 10.0
    assert (changed.commissioner, changed.provider, changed.type) == (
        block["commissioner"],
        block["provider"],
        "block",
    )

    # the base is untouched
    assert base.to_data() == before
    assert contract(base, block["id"]).value == block["value"]
    assert "new-contract" not in [c.id for c in base.model.contracts]


@pytest.fixture
def two_variants(example_path: Path) -> finsim.Scenario:
    """The example with two variants of its own: a tighter tariff and busier activity."""
    data = example_data(example_path)
    data["tariff"]["efficiency"] = {"2017/18": 0.02}
    data["activity"]["shock_sd"] = 0.03
    data["variants"] = {
        "tight": {"tariff": {"efficiency": {"2017/18": 0.04}}},
        "busy": {"activity": {"shock_sd": 0.05}},
    }
    return finsim.Scenario.from_dict(data)


def test_variants_do_not_stack(two_variants):
    """with_variant always starts from the base; 'baseline' names the base itself."""
    base = two_variants
    tight = base.with_variant("tight")
    assert tight.model.tariff.efficiency.at(2017) == 0.04
    busy = tight.with_variant("busy")
    assert busy.variant == "busy"
    assert busy.model.activity.shock_sd == 0.05
    assert busy.model.tariff.efficiency.at(2017) == 0.02  # not tight's
    assert busy.with_variant("baseline").to_data() == base.to_data()
    assert base.with_variant("baseline") is base
    assert tight.variants == base.variants == ["tight", "busy"]


def test_load_scenario_can_apply_a_variant(example_path):
    """load_scenario(path, variant) is the loaded file with that variant applied."""
    name = finsim.load_scenario(example_path).variants[-1]
    sc = finsim.load_scenario(example_path, name)
    assert sc.variant == name
    assert sc.to_data() == finsim.load_scenario(example_path).with_variant(name).to_data()
    assert sc.to_data() != finsim.load_scenario(example_path).to_data()


# -- deep_merge ------------------------------------------------------------------------------

keys = st.sampled_from(["a", "b", "c", "id", "value"])
scalars = st.one_of(st.none(), st.integers(-5, 5), st.text(max_size=3), st.booleans())
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(keys, inner, max_size=4),
        # lists of mappings with ids, mostly from a small pool so that ids meet
        st.lists(
            st.builds(
                lambda item_id, rest: {**rest, "id": item_id},
                st.one_of(st.sampled_from(["x", "y", "z"]), inner),
                st.dictionaries(keys, inner, max_size=2),
            ),
            min_size=1,
            max_size=3,
        ),
    ),
    max_leaves=12,
)
mappings = st.dictionaries(keys, documents, max_size=4)
# generation time varies with machine load; it is not what these tests measure
merge_settings = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def is_id_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("id"), str | int) for item in value)
    )


@merge_settings
@given(mappings)
def test_merging_an_empty_overlay_changes_nothing(base):
    """deep_merge(base, {}) equals base and is a copy, not the same object."""
    merged = deep_merge(base, {})
    assert merged == base
    assert merged is not base


@merge_settings
@given(mappings, mappings)
def test_deep_merge_does_not_modify_its_inputs(base, overlay):
    """Merging leaves both the base and the overlay as they were."""
    base_before, overlay_before = copy.deepcopy(base), copy.deepcopy(overlay)
    deep_merge(base, overlay)
    assert base == base_before
    assert overlay == overlay_before


@merge_settings
@given(mappings, mappings)
@also_try({"c": [{"id": "x", "a": 1}]}, {"c": [{"id": "x", "a": None}, {"id": "y"}]})
@also_try({"c": [{"id": "x"}]}, {"c": [{"id": ["x"]}]})  # an id that is a list: replaced
@also_try({"c": [{"id": None}]}, {"c": [{"id": None}]})  # a null id: replaced
def test_an_overlay_value_that_is_not_merged_wins(base, overlay):
    """Overlay values replace base values, except mappings and id lists, which are merged."""
    merged = deep_merge(base, overlay)
    for key, value in overlay.items():
        if value is None:
            assert key not in merged
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            assert set(merged[key]) == set(base[key]) - {
                k for k, v in value.items() if v is None
            } | {k for k, v in value.items() if v is not None}
        elif is_id_list(value) and is_id_list(base.get(key)):
            # merged by id: base items keep their places, new ids are appended in order
            base_ids = [item["id"] for item in base[key]]
            new_ids = [i for i in dict.fromkeys(item["id"] for item in value) if i not in base_ids]
            assert [item["id"] for item in merged[key]] == base_ids + new_ids
        else:
            assert merged[key] == value
    for key in base.keys() - overlay.keys():
        assert merged[key] == base[key]


def test_deep_merge_rule():
    """Mappings merge, null removes, id lists merge by id, other lists are replaced."""
    base = {
        "keep": 1,
        "drop": 2,
        "nested": {"x": 1, "y": 2},
        "items": [{"id": "a", "v": 1}, {"id": "b", "v": 2}],
        "plain": [1, 2, 3],
    }
    overlay = {
        "drop": None,
        "nested": {"y": 3, "z": 4},
        "items": [{"id": "b", "v": 20}, {"id": "c", "v": 3}],
        "plain": [9],
    }
    assert deep_merge(base, overlay) == {
        "keep": 1,
        "nested": {"x": 1, "y": 3, "z": 4},
        "items": [{"id": "a", "v": 1}, {"id": "b", "v": 20}, {"id": "c", "v": 3}],
        "plain": [9],
    }


# -- financial years and per-year parameters -------------------------------------------------


@given(st.integers(min_value=1000, max_value=9998))
def test_financial_year_labels_round_trip(year):
    """parse_fy and fy_label are inverses: '2018/19' <-> 2018, across centuries."""
    label = fy_label(year)
    assert parse_fy(label) == year
    assert fy_label(parse_fy(label)) == label


@given(st.integers(min_value=1000, max_value=9998), st.integers(min_value=0, max_value=99))
def test_only_consecutive_years_make_a_financial_year(year, second):
    """'YYYY/ZZ' is a financial year exactly when ZZ is the two digits of the following year."""
    label = f"{year}/{second:02d}"
    if second == (year + 1) % 100:
        assert parse_fy(label) == year
    else:
        with pytest.raises(ValueError, match="not a financial year"):
            parse_fy(label)


def test_a_per_year_value_applies_until_the_next_year_listed(example_path):
    """{2017/18: 0.02, 2019/20: 0.011}: 2018/19 takes 0.02, every year from 2019/20 on 0.011."""
    data = example_data(example_path)
    data["tariff"]["efficiency"] = {"2019/20": 0.011, "2017/18": 0.02}  # any order
    efficiency = finsim.Scenario.from_dict(data).model.tariff.efficiency
    assert efficiency.at(2017) == 0.02
    assert efficiency.at(2018) == 0.02
    assert efficiency.at(2019) == 0.011
    assert efficiency.at(2030) == 0.011
    assert efficiency.series(2017, 3) == [0.02, 0.02, 0.011]
    assert efficiency.first_year == 2017
    assert efficiency.to_data() == {"2017/18": 0.02, "2019/20": 0.011}
    with pytest.raises(KeyError, match="2016/17"):
        efficiency.at(2016)


def test_a_constant_applies_in_every_year(example_path):
    """A per-year parameter written as one number holds in every year, before and after."""
    data = example_data(example_path)
    data["tariff"]["efficiency"] = 0.015
    efficiency = finsim.Scenario.from_dict(data).model.tariff.efficiency
    assert efficiency == ByYear.constant(0.015)
    assert efficiency.first_year is None
    assert {efficiency.at(y) for y in (1990, 2017, 2050)} == {0.015}
    assert efficiency.to_data() == 0.015


# -- pickling --------------------------------------------------------------------------------


def test_a_scenario_pickles(example):
    """A Scenario survives pickling (as it must, to reach worker processes) unchanged."""
    again = pickle.loads(pickle.dumps(example))
    assert again.to_data() == example.to_data()
    assert again.model == example.model
    assert again.variant == "baseline"
    assert again.variants == example.variants
    assert again.source == example.source


def test_a_scenario_with_a_variant_pickles(two_variants):
    """A variant survives pickling with its values, and can still switch variant afterwards."""
    tight = two_variants.with_variant("tight")
    again = pickle.loads(pickle.dumps(tight))
    assert again.variant == "tight"
    assert again.model.tariff.efficiency.at(2017) == 0.04
    assert again.to_data() == tight.to_data()
    assert again.with_variant("baseline").to_data() == two_variants.to_data()
    assert again.with_variant("busy").model.activity.shock_sd == 0.05


# -- plug-in sections and the schema ---------------------------------------------------------


class BonusConfig(StrictModel):
    rate: float
    paid_to: list[str] = []


class Bonus(Mechanism):
    """A test mechanism: a bonus scheme with its own section."""

    section = "bonus"
    Config = BonusConfig

    @classmethod
    def check(cls, config: BonusConfig, refs: Any) -> None:
        for i, org_id in enumerate(config.paid_to):
            refs.org(("bonus", "paid_to", i), org_id, ("provider",))


@pytest.fixture
def bonus():
    """The default System with the bonus mechanism (a new System; nothing global changes)."""
    return finsim.System.default().with_mechanism(Bonus)


def test_a_registered_mechanism_section_is_accepted(bonus, example_path):
    """With a System holding the mechanism the loader accepts, types and cross-checks its
    section."""
    data = example_data(example_path)
    data["bonus"] = {"rate": 0.5, "paid_to": ["north_acute"]}
    sc = finsim.Scenario.from_dict(data, system=bonus)
    assert sc.model.bonus.rate == 0.5
    data["bonus"]["paid_to"] = ["north_acut"]
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(data, system=bonus)
    (problem,) = info.value.problems
    assert problem.path == "bonus.paid_to[0]"
    assert problem.suggestion == "north_acute"


def test_an_unregistered_section_is_an_unknown_key(bonus, example_path):
    """In the default System the same section is an unknown key."""
    data = example_data(example_path)
    data["bonus"] = {"rate": 0.5}
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(data)
    (problem,) = info.value.problems
    assert problem.path == "bonus"
    assert "unknown key 'bonus'" in problem.message


def test_the_json_schema_of_the_format_can_be_generated():
    """The scenario format's JSON schema is generated from the models and names every section."""
    schema = scenario_model().model_json_schema()
    sections = set(schema["properties"])
    assert {"scenario", "organisations", "variants", "extends"} <= sections
    assert {"allocations", "tariff", "contracts", "activity", "costs"} <= sections
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"scenario", "organisations"}
    start = schema["$defs"]["Settings"]["properties"]["start"]
    assert start["pattern"] == r"^\d{4}/\d{2}$"


def test_the_json_schema_includes_a_registered_section(bonus):
    """A mechanism's section appears in its System's schema, and only there."""
    assert "bonus" in scenario_model(bonus).model_json_schema()["properties"]
    assert "bonus" in bonus.schema().model_json_schema()["properties"]
    assert "bonus" not in scenario_model().model_json_schema()["properties"]
