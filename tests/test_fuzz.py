"""Fuzzed scenario files: whatever a file holds, finsim runs it or says what is wrong with it.

Every case ends in a valid run (one replication) or in a :class:`finsim.ScenarioError` whose
problems each name a field path and what was expected: never another exception, and never
more than a fixed time budget. Cases are random YAML text, random documents, and mutations
of every shipped example (keys dropped, duplicated or renamed, values of the wrong type,
random text and unicode, huge, tiny and non-finite numbers, deep nesting, long lists, and
anchors and aliases that would blow a small file up). The limits that keep a hostile file
cheap to refuse are tested here too (see docs/reliability.md).
"""

from __future__ import annotations

import copy
import re
import tracemalloc
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given, note
from hypothesis import strategies as st

import finsim
from finsim.errors import ResultsError
from finsim.scenario import validate, yamlio
from finsim.scenario.yamlio import read_yaml

from .strategies_full import FUZZ, fuzz_settings, texts, time_budget, values

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
LARGE = ROOT / "examples" / "england_synthetic.yaml"
SMALL = [p for p in EXAMPLES if p != LARGE]
#: Most seconds one fuzzed case may take: read, validate (every variant) and run once.
CASE_BUDGET = 30.0


@cache
def example(path: Path) -> dict[str, Any]:
    """An example's document, parsed once (the England-sized one takes seconds to parse)."""
    return read_yaml(path)[0]


def assert_clear(exc: finsim.ScenarioError) -> None:
    """A ScenarioError lists at least one problem, each naming where and what."""
    assert exc.problems, "a ScenarioError must hold at least one problem"
    for problem in exc.problems:
        assert isinstance(problem.path, str) and problem.path, problem
        assert isinstance(problem.message, str) and problem.message, problem
    assert str(exc).splitlines()[0].endswith("in scenario:")


def outcome(load: Any, run: bool = True) -> str:
    """Load (``load()`` returns a Scenario) and run once; return what happened, failing on any
    exception but a ScenarioError, or on a case over its time budget."""
    with time_budget(CASE_BUDGET):
        try:
            scenario = load()
        except finsim.ScenarioError as exc:
            assert_clear(exc)
            note(str(exc)[:2000])
            return "rejected when read"
        if not run:
            return "valid"
        try:
            res = finsim.run(scenario, replications=1, seed=0, progress=False)
        except finsim.ScenarioError as exc:  # e.g. a pace of change no allocation can meet
            assert_clear(exc)
            return "rejected when run"
        positions = res.positions
        assert positions["surplus"].notna().all()
        try:
            assert len(res.summary()) > 0
        except ResultsError as exc:  # sums past 4e9 GBP m a cell: refused, in one line
            assert "too large" in str(exc) and "\n" not in str(exc)
            return "ran, too large to summarise"
        return "ran"


def from_text(text: str, run: bool = True) -> str:
    return outcome(lambda: finsim.loads_scenario(text, source="fuzz.yaml"), run)


def dump(data: Any) -> str:
    """YAML text of ``data``, with each ``laughs(depth, fan)`` placeholder written out."""
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=4096)
    bombs = iter(range(len(text)))
    return LAUGHS.sub(lambda m: laughs_value(int(m["depth"]), int(m["fan"]), next(bombs)), text)


#: Where a mutation asked for a billion laughs (as a short placeholder: the data itself would
#: be too large for hypothesis to print if the case failed).
LAUGHS = re.compile(r"'?@@laughs:(?P<depth>\d+):(?P<fan>\d+)@@'?")


def laughs_value(depth: int, fan: int, bomb: int = 0) -> str:
    """A flow value of ``fan ** depth`` values written in a line: each level's first item
    anchors the level below and the others alias it (anchors ``b<bomb>_<level>``)."""
    value = f"&b{bomb}_0 [" + ", ".join(["lol"] * fan) + "]"
    for i in range(1, depth + 1):
        value = f"&b{bomb}_{i} [{value}" + f", *b{bomb}_{i - 1}" * (fan - 1) + "]"
    return value


# -- random YAML ---------------------------------------------------------------------------------

#: Fragments of YAML syntax, hostile tags among them, for random text that is nearly YAML.
TOKENS = (
    ":", ": ", "- ", "\n", "\n  ", "  ", "[", "]", "{", "}", ",", "&a ", "*a", "&b ", "*b",
    "<<: *a", "? ", "|", ">", "#", "'", '"', "\t", "---\n", "...\n", "%YAML 1.1\n",
    "!!python/object/apply:os.system ['echo pwned']", "!!python/name:os.system", "!!binary ",
    "!!set ", "!!omap ", "!!float ", "!!str ", "scenario", "organisations", "regions",
    "systems", "id", "2018/19", "0.5", "1e999", ".nan", "-.inf", "0x1F", "null", "~", "yes",
)  # fmt: skip

yamlish = st.lists(st.sampled_from(TOKENS) | texts, max_size=40).map("".join)


@fuzz_settings(normal=60, fuzz=3000)
@given(text=st.one_of(st.text(max_size=200), yamlish))
def test_random_text_is_read_or_refused(text):
    """Random text, much of it nearly YAML: a scenario or a ScenarioError, nothing else."""
    event(from_text(text))


#: Keys of the scenario format, so that random documents reach past the top level.
KEYS = (
    "scenario", "organisations", "name", "start", "years", "regions", "systems", "id",
    "region", "system", "commissioners", "providers", "population", "allocations", "opening",
    "uplift", "tariff", "prices", "contracts", "plan", "commissioner", "provider", "activity",
    "variants", "extends", "control_totals", "incentives", "fund", "allocation", "transfers",
)  # fmt: skip


@st.composite
def scenario_shaped(draw: st.DrawFn) -> dict[str, Any]:
    """A random document whose keys are mostly the scenario format's own."""
    key = st.sampled_from(KEYS) | texts
    inner = st.recursive(
        values(8),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(key, kids, max_size=4),
        max_leaves=25,
    )
    doc = draw(st.dictionaries(key, inner, max_size=6))
    if draw(st.booleans()):
        doc["scenario"] = {
            "name": draw(texts),
            "start": draw(st.sampled_from(["2018/19", "1999/00"])),
            "years": draw(st.integers(-1, 60)),
        }
    if draw(st.booleans()):
        doc["organisations"] = {
            "regions": [{"id": "r"}],
            "systems": [{"id": "s", "region": draw(st.sampled_from(["r", "x"]))}],
        }
    doc.pop("extends", None)  # (a random path would read a random file)
    return doc


@fuzz_settings(normal=50, fuzz=600)
@given(doc=st.one_of(values(30), scenario_shaped()))
def test_random_documents_are_run_or_refused(doc):
    """Random YAML documents: a run or a ScenarioError with a field path."""
    event(from_text(dump(doc)))


# -- mutations of the shipped examples -----------------------------------------------------------


def paths(value: Any, prefix: tuple = (), above: frozenset = frozenset()) -> list[tuple]:
    """Every path to a value inside ``value`` (keys and list positions), not entering a value
    that contains itself (an earlier mutation may have made one)."""
    out = []
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        out.append(prefix + (key,))
        if id(item) not in above:
            out.extend(paths(item, prefix + (key,), above | {id(value)}))
    return out


def parent_of(doc: Any, path: tuple) -> Any:
    for key in path[:-1]:
        doc = doc[key]
    return doc


def numeric(doc: Any, path: tuple) -> bool:
    value = parent_of(doc, path)[path[-1]]
    return isinstance(value, int | float) and not isinstance(value, bool)


def scaled(value: Any, factor: float) -> Any:
    """``value`` times ``factor`` if it is a number that can be scaled, else ``factor``."""
    try:
        return value * factor if isinstance(value, int | float) else factor
    except OverflowError:  # a whole number too large for a float
        return factor


MUTATIONS = (
    "number", "number", "number", "drop", "replace", "retype", "rename", "nest", "long",
    "duplicate_item", "alias", "laughs",
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any], most: int = 3) -> dict[str, Any]:
    """``doc`` with one to ``most`` random mutations (the first few favour numbers: those make
    documents that still validate, and so reach the engine)."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, most))):
        everything = paths(doc)
        if not everything:
            break
        kind = draw(st.sampled_from(MUTATIONS))
        numbers = [p for p in everything if numeric(doc, p)]
        path = draw(st.sampled_from(numbers if kind == "number" and numbers else everything))
        parent, key = parent_of(doc, path), path[-1]
        value = parent[key]
        event(f"mutation: {kind}")
        if kind == "number":
            parent[key] = draw(
                st.one_of(
                    st.sampled_from(
                        [0, -1, 1e-300, 1e300, 10**400, float("nan"), float("inf"), -float("inf")]
                    ),
                    st.floats(-10, 10).map(lambda f, v=value: scaled(v, f)),
                    st.floats(allow_nan=False) if FUZZ else st.floats(-1e6, 1e6),
                )
            )
        elif kind == "drop":
            del parent[key]
        elif kind == "replace":
            parent[key] = draw(values(10))
        elif kind == "retype":
            parent[key] = draw(
                st.sampled_from(
                    [str(value), [value], {"value": value}, None, True, 1, 0.5, "", [], {}]
                )
            )
        elif kind == "rename" and isinstance(parent, dict):
            new = draw(st.one_of(texts, st.just(str(key)[:-1]), st.just(str(key).upper())))
            parent[new] = parent.pop(key)
        elif kind == "nest":
            for _ in range(draw(st.integers(1, 60))):
                value = draw(st.sampled_from([[value], {"x": value}]))
            parent[key] = value
        elif kind == "long" and isinstance(value, list | dict):
            k = draw(st.integers(2, 200))
            parent[key] = (
                value * k
                if isinstance(value, list)
                else {f"{name}{i or ''}": item for i in range(k) for name, item in value.items()}
            )
        elif kind == "duplicate_item" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(value))
        elif kind == "alias":  # the same object twice: written as an anchor and an alias
            other = draw(st.sampled_from(everything))
            if other[: len(path)] != path and path[: len(other)] != other:
                parent_of(doc, other)[other[-1]] = value
        elif kind == "laughs":  # aliases of aliases of aliases...: a billion laughs
            parent[key] = f"@@laughs:{draw(st.integers(1, 12))}:{draw(st.integers(2, 12))}@@"
    return doc


@pytest.mark.parametrize("path", SMALL, ids=[p.name for p in SMALL])
@fuzz_settings(normal=10, fuzz=70)
@given(data=st.data())
def test_mutated_examples_run_or_are_refused(path, data):
    """Every shipped example, mutated: it still runs, or a ScenarioError says what is wrong."""
    doc = data.draw(mutated(example(path)))
    event(from_text(dump(doc)))


@st.composite
def text_mutated(draw: st.DrawFn, text: str) -> str:
    """YAML text with lines duplicated (duplicate keys), dropped, swapped or cut, or junk
    inserted."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        kind = draw(st.sampled_from(["duplicate", "drop", "swap", "junk", "cut"]))
        event(f"text mutation: {kind}")
        if kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "drop" and len(lines) > 1:
            del lines[i]
        elif kind == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif kind == "junk":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(yamlish | texts) + lines[i][at:]
        elif kind == "cut":
            lines = lines[: i + 1]
    return "".join(lines)


@pytest.mark.parametrize("path", SMALL, ids=[p.name for p in SMALL])
@fuzz_settings(normal=6, fuzz=40)
@given(data=st.data())
def test_edited_example_text_runs_or_is_refused(path, data):
    """Every shipped example's text, edited line by line (duplicate keys among the edits)."""
    text = data.draw(text_mutated(path.read_text(encoding="utf-8")))
    event(from_text(text))


@fuzz_settings(normal=10, fuzz=40)
@given(data=st.data())
def test_mutated_england_validates_or_is_refused(data):
    """The England-sized example, mutated, is validated (and, under make fuzz, run once): a
    scenario or a ScenarioError. (Its document is mutated directly: reading 450 KB of YAML
    each time would take most of the budget.)"""
    doc = data.draw(mutated(example(LARGE), most=2))
    event(outcome(lambda: finsim.Scenario.from_dict(doc, source=LARGE.name), run=FUZZ))


# -- limits --------------------------------------------------------------------------------------


def laughs(depth: int, fan: int) -> str:
    """A "billion laughs": each anchor repeats the one before ``fan`` times."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * fan)}]" for i in range(1, depth + 1)]
    return "\n".join(lines) + "\n"


def problem_of(text: str) -> finsim.Problem:
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(text, source="hostile.yaml")
    assert_clear(info.value)
    assert len(info.value.problems) == 1, str(info.value)
    return info.value.problems[0]


def test_a_billion_laughs_is_refused_quickly_in_little_memory():
    """Aliases that would expand 4 KB into 10^9 values are refused before any is expanded."""
    tracemalloc.start()
    try:
        with time_budget(5):
            p = problem_of(laughs(9, 10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.path == "(file)" and p.file == "hostile.yaml"
    assert "values once its aliases are expanded" in p.message
    assert "FINSIM_MAX_NODES" in p.message
    assert peak < 20e6


def test_a_recursive_alias_is_refused():
    """An alias used inside the value its anchor names (a document containing itself)."""
    p = problem_of("scenario: &a {name: *a}\n")
    assert "would contain itself" in p.message and p.line == 1


@pytest.mark.parametrize(
    "text",
    [
        "a: " + "[" * 5000 + "]" * 5000 + "\n",
        "a:\n" + "".join(" " * i + f"k{i}:\n" for i in range(1, 300)),
    ],
    ids=["flow", "block"],
)
def test_deep_nesting_is_refused_not_a_recursion_error(text):
    """Nesting thousands deep is one problem (PyYAML alone would exhaust Python's stack)."""
    with time_budget(10):
        p = problem_of(text)
    assert "nested more than 50 deep" in p.message and "FINSIM_MAX_DEPTH" in p.message


def test_aliases_that_nest_too_deep_are_refused():
    """Anchors nested through aliases count their expanded depth."""
    lines = ["a0: &a0 " + "[" * 20 + "1" + "]" * 20]
    lines += [f"a{i}: &a{i} [[[[[[[[[[[[[[[[[[[[*a{i - 1}]]]]]]]]]]]]]]]]]]]]" for i in range(1, 5)]
    p = problem_of("\n".join(lines) + "\n")
    assert "nested more than 50 deep once its aliases are expanded" in p.message


def test_limits_are_configurable_by_environment(monkeypatch, write_yaml, example_path):
    """FINSIM_MAX_FILE_BYTES, _NODES, _DEPTH, _ORGANISATIONS, _CONTRACTS and _VARIANTS tighten
    (or loosen) each limit, and the message names the variable."""
    text = example_path.read_text(encoding="utf-8")
    path = write_yaml(text)
    finsim.load_scenario(path)
    cases = {
        "FINSIM_MAX_FILE_BYTES": ("1000", "bytes; the limit is 1,000"),
        "FINSIM_MAX_NODES": ("100", "more than 100 values"),
        "FINSIM_MAX_DEPTH": ("3", "nested more than 3 deep"),
        "FINSIM_MAX_ORGANISATIONS": ("5", "11 organisations; the limit is 5"),
        "FINSIM_MAX_CONTRACTS": ("2", "9 contracts; the limit is 2"),
        "FINSIM_MAX_VARIANTS": ("1", "2 variants; the limit is 1"),
    }
    for variable, (value, words) in cases.items():
        with monkeypatch.context() as m:
            m.setenv(variable, value)
            with pytest.raises(finsim.ScenarioError) as info:
                finsim.load_scenario(path)
            message = str(info.value)
            assert words in message and variable in message, message
    monkeypatch.setenv("FINSIM_MAX_NODES", "many")
    with pytest.raises(finsim.ScenarioError, match="FINSIM_MAX_NODES: expected a whole number"):
        finsim.load_scenario(path)


def test_limits_are_module_constants(monkeypatch, example_path):
    """Without the environment variable, the module constant is the limit."""
    text = example_path.read_text(encoding="utf-8")
    monkeypatch.setattr(yamlio, "MAX_DEPTH", 2)
    with pytest.raises(finsim.ScenarioError, match="nested more than 2 deep"):
        finsim.loads_scenario(text)
    monkeypatch.undo()
    monkeypatch.setattr(validate, "MAX_ORGANISATIONS", 3)
    with pytest.raises(finsim.ScenarioError, match="the limit is 3"):
        finsim.loads_scenario(text)


def test_too_many_organisations_are_refused_before_validation():
    """A file listing 20,000 providers is refused by counting, not by validating each one."""
    doc = copy.deepcopy(example(ROOT / "examples" / "two_systems.yaml"))
    doc["organisations"]["providers"] = [
        {"id": f"p{i}", "system": "north_shire"} for i in range(20_000)
    ]
    with time_budget(5):
        with pytest.raises(finsim.ScenarioError) as info:
            finsim.Scenario.from_dict(doc)
    (p,) = info.value.problems
    assert p.path == "organisations" and "FINSIM_MAX_ORGANISATIONS" in p.message


def test_a_flat_list_past_the_value_limit_is_refused_while_read(monkeypatch):
    """Values are counted as the document is built: a long list is refused at the limit."""
    monkeypatch.setenv("FINSIM_MAX_NODES", "10000")
    text = "scenario: {name: x}\nregions: [" + ", ".join(["1"] * 50_000) + "]\n"
    with time_budget(10):
        p = problem_of(text)
    assert "more than 10,000 values" in p.message and p.line == 2


def test_a_file_over_the_size_limit_is_refused_unread(monkeypatch, write_yaml):
    """A file larger than the limit is refused from its size."""
    monkeypatch.setenv("FINSIM_MAX_FILE_BYTES", "100")
    path = write_yaml("# " + "x" * 200 + "\n")
    with pytest.raises(finsim.ScenarioError, match=r"file is 203 bytes; the limit is 100"):
        finsim.load_scenario(path)
    with pytest.raises(finsim.ScenarioError, match="the limit is 100"):
        finsim.loads_scenario("# " + "x" * 500)


def test_shipped_examples_are_well_inside_the_limits():
    """The England-sized example uses a tenth of the value limit and of the file size limit."""
    assert LARGE.stat().st_size < yamlio.MAX_FILE_BYTES / 10
    assert len(read_yaml(LARGE)[1]) < yamlio.MAX_NODES / 10


# -- regressions found by fuzzing ----------------------------------------------------------------


def _two_systems(edit: str, to: str) -> str:
    text = (ROOT / "examples" / "two_systems.yaml").read_text(encoding="utf-8")
    assert text.count(edit) == 1, edit
    return text.replace(edit, to)


REGRESSIONS = {
    # each: the text, the problem's field path, words of its message
    "a control character": ("scenario:\n  name: a\x1fb\n", "(file)", "character #x001f is not allowed"),
    "a key like a union tag": (
        _two_systems("  years: 3\n", "  years: 3\n  int: 1\n  '[a]': 2\n"),
        "scenario.int",
        "unknown key 'int'",
    ),
    "an uncertain input beside a broken section": (
        _two_systems("contracts:\n", "uncertain: [{path: tariff.cost_uplift, low: 0, high: 1}]\ncontracts: 5\nx_contracts:\n"),
        "contracts",
        "expected a list",
    ),
    "a variant holding binary data": (
        _two_systems("variants:\n", "uncertain: [{path: activity.shock_sd, low: 0, high: 1}]\nvariants:\n  odd: {x: !!binary gA==}\n"),
        "variants.odd -> x",
        "unknown key 'x'",
    ),
    "a whole number past float range": (
        _two_systems("central_reserve: 12.0", "central_reserve: " + "9" * 400),
        "allocations.central_reserve",
        "got a number of 400 digits",
    ),
    "half a surrogate pair": (
        _two_systems("  name: Two systems, one region", '  name: "Two \\ud800 systems"'),
        "scenario.name",
        "half of a UTF-16 surrogate pair",
    ),
    "a tag PyYAML cannot read": (
        _two_systems("central_reserve: 12.0", "central_reserve: !!float"),
        "(file)",
        "cannot read !!float ''",
    ),
    "an impossible delivery rate": (
        _two_systems("variants:\n", "savings:\n  programmes:\n    - {id: cip, who: providers, share_of_costs: 0.01, delivery: {mean: 0.01, sd: 0.2}}\nvariants:\n"),
        "savings.programmes[0].delivery",
        "cannot have sd 0.2",
    ),
    "a number too large to run": (
        _two_systems("    critical_care: 1200\n", "    critical_care: 1.2e+15\n"),
        "tariff.prices.critical_care",
        "at most 1e12 (FINSIM_MAX_NUMBER)",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(REGRESSIONS), ids=list(REGRESSIONS))
def test_what_fuzzing_found_is_a_scenario_error(case):
    """Each file the fuzzing found crashing finsim (IndexError, OverflowError, a pydantic
    serialisation error...) is now one clear problem at its field path."""
    text, path, words = REGRESSIONS[case]
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(text, source="found.yaml")
    assert_clear(info.value)
    found = [p for p in info.value.problems if p.path == path and words in p.message]
    assert found, str(info.value)
