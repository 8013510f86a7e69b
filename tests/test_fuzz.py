"""Fuzzed scenario files: whatever a file holds, finsim runs it or says what is wrong with it.

Every case ends in a valid run (one replication) or in a :class:`finsim.ScenarioError` whose
problems each name a field path and what was expected: never another exception. Cases are
random YAML text, random documents, and mutations of every shipped example (keys dropped,
duplicated or renamed, values of the wrong type, random text and unicode, huge, tiny and
non-finite numbers, deep nesting, long lists, and anchors and aliases that would blow a small
file up); documents of random anchors and aliases, measured against their real expanded size;
and paths that are not files (a NUL, too long, a loop of links, a device, a named pipe). The
limits that keep a hostile file cheap to refuse are tested here too, by what they refuse and
by what is never built or allocated, not by wall time (speed is benchmarks/' business; see
docs/reliability.md).
"""

from __future__ import annotations

import copy
import errno
import os
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
from finsim.scenario import limits, validate, yamlio
from finsim.scenario.yamlio import read_yaml

from .strategies_full import FUZZ, fuzz_settings, texts, values

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
LARGE = ROOT / "examples" / "england_synthetic.yaml"
SMALL = [p for p in EXAMPLES if p != LARGE]
EXAMPLE = ROOT / "examples" / "two_systems.yaml"


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
    exception but a ScenarioError."""
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


def forbid_models(monkeypatch) -> None:
    """Make building the scenario's pydantic model fail the test: what follows must be refused
    by counting, before any of it is validated."""

    def no_model(*args: Any) -> Any:
        raise AssertionError("a model was built for a document over the limits")

    monkeypatch.setattr(validate, "scenario_model", no_model)


def forbid_building(monkeypatch) -> None:
    """Make composing a YAML document (or building a model of it) fail the test: what follows
    must be refused from its parsing events alone."""

    def no_document(*args: Any) -> Any:
        raise AssertionError("a YAML document over the limits was built")

    for loader in {yamlio._Loader, yamlio._FAST or yamlio._Loader}:
        monkeypatch.setattr(loader, "get_single_node", no_document)
    forbid_models(monkeypatch)


def problem_of(text: str) -> finsim.Problem:
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(text, source="hostile.yaml")
    assert_clear(info.value)
    assert len(info.value.problems) == 1, str(info.value)
    return info.value.problems[0]


def test_a_billion_laughs_is_refused_in_little_memory():
    """Aliases that would expand 4 KB into 10^9 values are refused before any is expanded."""
    tracemalloc.start()
    try:
        p = problem_of(laughs(9, 10))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.path == "(file)" and p.file == "hostile.yaml"
    assert "values once its aliases are expanded" in p.message
    assert "FINSIM_MAX_NODES" in p.message
    assert peak < 20e6


def test_text_repeated_by_aliases_counts_against_the_size_limit(monkeypatch):
    """A 1 MB string anchored once and aliased as 2,000 names (2 GB of text once expanded,
    under the value limit) is refused from its parsing events: nothing is built, and little
    memory is used (it ended in an out-of-memory traceback)."""
    text = EXAMPLE.read_text(encoding="utf-8")
    text = text.replace("  name: Two systems, one region", "  name: &big " + "x" * 1_000_000)
    regions = "".join(f"    - {{id: r{i}, name: *big}}\n" for i in range(2000))
    text = text.replace(
        "    - {id: midlands, name: Midlands}\n",
        "    - {id: midlands, name: Midlands}\n" + regions,
        1,
    )
    forbid_building(monkeypatch)
    tracemalloc.start()
    try:
        p = problem_of(text)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert p.path == "(file)" and p.line is not None
    assert "more than 20,000,000 characters of text once its aliases are expanded" in p.message
    assert "FINSIM_MAX_FILE_BYTES" in p.message
    assert peak < 30e6


def test_a_file_over_the_value_limit_is_refused_before_it_is_built(monkeypatch):
    """A file of 20,000 contracts past the value limit (4.8 MB; it took 14-46 s and 0.5 GB to
    refuse) is refused from its parsing events: no document and no model is built. (Its time
    is measured in docs/reliability.md, not here.)"""
    doc = copy.deepcopy(example(EXAMPLE))
    contract = doc["contracts"][0]
    doc["contracts"] = [
        {
            **contract,
            "id": f"c{i}",
            "plan": {**contract["plan"], **{f"pod{k}": k for k in range(10)}},
        }
        for i in range(20_000)
    ]
    text = yaml.safe_dump(doc, sort_keys=False, width=4096)
    forbid_building(monkeypatch)
    p = problem_of(text)
    assert "more than 500,000 values" in p.message and "once its aliases" not in p.message


@st.composite
def aliased_documents(draw: st.DrawFn) -> str:
    """YAML text of a few anchored values (text, lists, mappings) and values made of aliases of
    them, nested: small to write, of any expanded size up to a few thousand values."""
    n = draw(st.integers(1, 6))
    lines = []
    counter = iter(range(10**6))

    def scalar() -> str:
        return f"t{next(counter)}" + "x" * draw(st.sampled_from([0, 3, 50, 400]))

    for i in range(n):
        earlier = [f"*a{j}" for j in range(i)]
        parts = [
            scalar() if not earlier or draw(st.booleans()) else draw(st.sampled_from(earlier))
            for _ in range(draw(st.integers(1, 5)))
        ]
        shape = draw(st.sampled_from(["list", "map", "nested"]))
        if shape == "list":
            value = "[" + ", ".join(parts) + "]"
        elif shape == "map":
            value = "{" + ", ".join(f"k{j}: {v}" for j, v in enumerate(parts)) + "}"
        else:
            value = "[" * len(parts) + ", ".join(parts) + "]" * len(parts)
        lines.append(f"a{i}: &a{i} {value}")
    return "\n".join(lines) + "\n"


def expanded_size(node: yaml.Node) -> tuple[int, int, int]:
    """(values, characters of text, depth) of a composed document with every alias expanded:
    what the limits are about, measured the slow way."""
    if isinstance(node, yaml.ScalarNode):
        return 1, len(node.value), 1
    children = (
        [part for pair in node.value for part in pair]
        if isinstance(node, yaml.MappingNode)
        else list(node.value)
    )
    sizes = [expanded_size(child) for child in children]
    return (
        1 + sum(s[0] for s in sizes),
        sum(s[1] for s in sizes),
        1 + max((s[2] for s in sizes), default=0),
    )


@fuzz_settings(normal=40, fuzz=1500)
@given(text=aliased_documents(), nodes=st.integers(20, 400), chars=st.integers(100, 5000))
def test_aliases_are_measured_as_expanded(text, nodes, chars):
    """Random documents of anchors and aliases are refused exactly when, aliases expanded, they
    hold more values, text or depth than the limits allow (measured here by expanding them)."""
    size = expanded_size(yaml.compose(text, Loader=yaml.SafeLoader))
    env = {
        "FINSIM_MAX_NODES": str(nodes),
        "FINSIM_MAX_FILE_BYTES": str(chars),
        "FINSIM_MAX_DEPTH": "8",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        try:
            yamlio.parse_yaml(text, "aliases.yaml")
            refused = ""
        except finsim.ScenarioError as exc:
            assert_clear(exc)
            (problem,) = exc.problems
            refused = problem.message
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    over = size[0] > nodes or size[1] > chars or size[2] > 8 or len(text.encode()) > chars
    event("refused" if refused else "read")
    assert bool(refused) == over, (size, refused)
    if refused:
        assert "FINSIM_MAX_" in refused


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
    monkeypatch.setattr(limits, "MAX_DEPTH", 2)
    with pytest.raises(finsim.ScenarioError, match="nested more than 2 deep"):
        finsim.loads_scenario(text)
    monkeypatch.undo()
    monkeypatch.setattr(limits, "MAX_ORGANISATIONS", 3)
    with pytest.raises(finsim.ScenarioError, match="the limit is 3"):
        finsim.loads_scenario(text)


def test_too_many_organisations_are_refused_before_validation(monkeypatch):
    """A file listing 20,000 providers is refused by counting, not by validating each one (no
    model is built)."""
    doc = copy.deepcopy(example(ROOT / "examples" / "two_systems.yaml"))
    doc["organisations"]["providers"] = [
        {"id": f"p{i}", "system": "north_shire"} for i in range(20_000)
    ]
    forbid_models(monkeypatch)
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(doc)
    (p,) = info.value.problems
    assert p.path == "organisations" and "FINSIM_MAX_ORGANISATIONS" in p.message


def test_a_flat_list_past_the_value_limit_is_refused_while_read(monkeypatch):
    """Values are counted as the document is built: a long list is refused at the limit."""
    monkeypatch.setenv("FINSIM_MAX_NODES", "10000")
    text = "scenario: {name: x}\nregions: [" + ", ".join(["1"] * 50_000) + "]\n"
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


# -- paths that are not files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def odd_paths(tmp_path_factory) -> dict[str, Path]:
    """Paths that are not scenario files, each of a kind the fuzzing found crashing or hanging
    finsim: a NUL, a name or a path over the system's limit, a loop of links, a device that
    never ends, a named pipe with no writer, a folder, a path through a file."""
    folder = tmp_path_factory.mktemp("odd")
    (folder / "loop_a").symlink_to(folder / "loop_b")
    (folder / "loop_b").symlink_to(folder / "loop_a")
    os.mkfifo(folder / "pipe.yaml")
    (folder / "a-file").write_text("not a folder")
    (folder / "a-folder.yaml").mkdir()
    (folder / "base.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    return {
        "a NUL": folder / "base\x00.yaml",
        "a name too long": folder / ("n" * 300 + ".yaml"),
        "a path too long": folder.joinpath(*["p" * 200] * 30, "base.yaml"),
        "a loop of links": folder / "loop_a",
        "a device that never ends": Path("/dev/zero"),
        "a named pipe": folder / "pipe.yaml",
        "a folder": folder / "a-folder.yaml",
        "a path through a file": folder / "a-file" / "base.yaml",
        "nothing": folder / "missing.yaml",
    }


ODD = {
    "a NUL": "NUL character",
    "a name too long": "longer than this system allows",
    "a path too long": "longer than this system allows",
    "a loop of links": "loop of symbolic links",
    "a device that never ends": "got a device",
    "a named pipe": "got a named pipe (FIFO)",
    "a folder": "got a folder",
    "a path through a file": "a part of the path is a file",
    "nothing": "not found",
}


def forbid_opening(monkeypatch, path: Path) -> None:
    """Make opening ``path`` fail the test (a named pipe would hang, /dev/zero never ends)."""
    real = os.open

    def guarded(name: Any, *args: Any, **kwargs: Any) -> int:
        assert str(name) != str(path), f"{path} was opened"
        return real(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded)


@pytest.mark.parametrize("kind", list(ODD))
def test_a_path_that_is_not_a_file_is_refused_unopened(kind, odd_paths, monkeypatch, capsys):
    """finsim validate PATH, load_scenario(PATH) and ``extends: PATH``, for each odd path: one
    problem naming the file (or the extending file and its line) and what is wrong; the path is
    never opened; exit status 2 and no traceback."""
    from finsim.cli import main

    path = odd_paths[kind]
    forbid_opening(monkeypatch, path)
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.load_scenario(path)
    (problem,) = info.value.problems
    assert problem.path == "(file)" and ODD[kind] in problem.message, problem
    assert "\x00" not in str(info.value) and len(str(info.value)) < 2000
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and ODD[kind] in err

    text = EXAMPLE.read_text(encoding="utf-8")
    extending = f"extends: {json_string(str(path))}\n" + text
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(extending, source="child.yaml")
    (problem,) = info.value.problems
    if kind == "a NUL":  # (refused as text, before it is a path: a control character)
        assert problem.path == "extends" and "control character" in problem.message
    else:
        assert (problem.path, problem.file, problem.line) == ("extends", "child.yaml", 1)
        assert ODD[kind] in problem.message, problem


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not bind root")
def test_a_base_in_a_folder_that_cannot_be_entered_is_refused(tmp_path, example_path):
    """``extends:`` a file in a folder without search permission (chmod 000): one problem."""
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "base.yaml").write_text(example_path.read_text(encoding="utf-8"))
    locked.chmod(0)
    try:
        with pytest.raises(finsim.ScenarioError, match="permission denied"):
            finsim.loads_scenario(f"extends: {locked / 'base.yaml'}\n", source="child.yaml")
    finally:
        locked.chmod(0o700)


def test_a_permission_error_is_one_problem(monkeypatch, tmp_path):
    """A folder the user may not enter (PermissionError from the system; simulated here, as
    the tests may run as root): one problem naming the file, for the file and for its base."""
    real = os.stat

    def denied(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if "locked" in str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", denied)
    with pytest.raises(finsim.ScenarioError, match="permission denied") as info:
        finsim.load_scenario(tmp_path / "locked" / "scenario.yaml")
    assert info.value.problems[0].path == "(file)"
    with pytest.raises(finsim.ScenarioError, match="permission denied") as info:
        finsim.loads_scenario("extends: locked/base.yaml\n", source="child.yaml")
    assert info.value.problems[0].path == "extends"


def json_string(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (JSON's escapes are YAML's)."""
    import json

    return json.dumps(text)


#: Fragments of paths: separators, parents, NULs, long names, devices, the odd paths' names.
PATH_PARTS = (
    "/", "//", ".", "..", "../", "./", "\x00", "n" * 255, "n" * 256, "p" * 4000, "~", " ",
    "base.yaml", "loop_a", "pipe.yaml", "a-file", "a-folder.yaml", "/dev/zero", "/dev/null",
    "/dev/tty", "\\", ":", "*", "?", "\n", "\u202e", "\U0001f3e5",
)  # fmt: skip


@fuzz_settings(normal=30, fuzz=1500)
@given(parts=st.lists(st.sampled_from(PATH_PARTS) | texts, min_size=1, max_size=6))
def test_random_extends_paths_are_read_or_refused(parts, odd_paths):
    """``extends:`` any path at all (made of separators, parents, NULs, names at and past the
    system's limits, devices, links in a loop, a named pipe...), relative to a folder holding
    the odd paths: a scenario or a ScenarioError naming 'extends', never another exception and
    never a read of something that is not a regular file."""
    folder = odd_paths["a named pipe"].parent
    main = folder / "child.yaml"
    if not main.exists():
        main.write_text("extends: x\n")
    ref = "".join(parts)
    text = f"extends: {json_string(ref)}\n" + EXAMPLE.read_text(encoding="utf-8")
    try:
        data, lines = yamlio.parse_yaml(text, str(main))
    except finsim.ScenarioError as exc:  # (a control character, half a surrogate pair)
        assert_clear(exc)
        event("refused as text")
        return
    from finsim.scenario.loader import Scenario, _with_base

    try:
        merged, merged_lines = _with_base(
            data, {k: (str(main), v) for k, v in lines.items()}, str(main), folder
        )
        Scenario._build(merged, merged_lines, str(main))
    except finsim.ScenarioError as exc:
        assert_clear(exc)
        event("refused")
        return
    event("read")


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
    "a whole number of 5,000 hex digits": (
        _two_systems("central_reserve: 12.0", "central_reserve: 0x" + "f" * 5000),
        "allocations.central_reserve",
        "too long to read: expected at most 4,300 digits",
    ),
    "a whole number of 5,000 digits": (
        _two_systems("central_reserve: 12.0", "central_reserve: " + "9" * 5000),
        "allocations.central_reserve",
        "too long to read",
    ),
    "a key of 5,000 hex digits": (
        _two_systems("  uplift: {", "  uplift: {? 0x" + "f" * 5000 + " : 0.1, "),
        "allocations.uplift",
        "a key: a whole number of about 6,021 digits is too long to read",
    ),
    "a terminal escape in a name": (
        _two_systems("  name: Two systems, one region", '  name: "\\x1b[2J\\x1b]0;pwned\\x07Two"'),
        "scenario.name",
        "the control character '\\x1b'",
    ),
    "a bell in an organisation's name": (
        _two_systems("{id: midlands, name: Midlands}", '{id: midlands, name: "Mid\\alands"}'),
        "organisations.regions[0].name",
        "the control character '\\x07'",
    ),
    "a C1 control in an id": (
        _two_systems("{id: midlands, name: Midlands}", '{id: "mid\\x9blands", name: Midlands}'),
        "organisations.regions[0].id",
        "the control character '\\x9b'",
    ),
    "a control character in a key": (
        _two_systems("  years: 3\n", '  years: 3\n  "y\\x1bz": 1\n'),
        "scenario",
        "a key: text holds the control character '\\x1b'",
    ),
    "a point of delivery listed twice": (
        _two_systems("  efficiency: {2017/18: 0.02, 2019/20: 0.011}\n", "  efficiency: {2017/18: 0.02, 2019/20: 0.011}\n  emergency_marginal_rate: {rate: 0.3, pods: [non_elective, non_elective]}\n"),
        "tariff.emergency_marginal_rate.pods",
        "'non_elective' twice: expected each name once",
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


def test_a_description_may_hold_tabs_and_line_breaks():
    """Tab and line breaks are text, not control: a description written over lines is read."""
    text = _two_systems("  description: >-", '  description: "a\\tb\\r\\nc"\n  x_description: >-')
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.loads_scenario(text, source="ok.yaml")
    assert [p.path for p in info.value.problems] == ["scenario.x_description"]  # only the key


def test_control_characters_are_refused_from_data_too():
    """A scenario given as data (Scenario.from_dict) gets the same checks as a file: control
    characters and half surrogates in any text or key, whole numbers too long to print, names
    listed twice: each a problem at its path."""
    doc = copy.deepcopy(example(EXAMPLE))
    doc["scenario"]["name"] = "\x1b[2J"
    doc["organisations"]["regions"][0]["\x07"] = 1
    doc["allocations"]["central_reserve"] = 7**6000
    doc["tariff"]["emergency_marginal_rate"] = {"rate": 0.3, "pods": ["ae", "ae"]}
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(doc, source="data")
    found = {p.path: p.message for p in info.value.problems}
    assert "control character '\\x1b'" in found["scenario.name"]
    assert found["organisations.regions[0]"].startswith("a key: text holds the control")
    assert "too long to read" in found["allocations.central_reserve"]
    assert "'ae' twice" in found["tariff.emergency_marginal_rate.pods"]


def test_a_rule_listed_60000_times_is_refused_before_validation(monkeypatch):
    """60,000 copies of one incentive rule (it took 42 s and 4 GB to run twice) are one
    problem, found before any model is built."""
    text = (ROOT / "examples" / "ics_control_totals_2018.yaml").read_text(encoding="utf-8")
    rules = "  unearned:\n  - general_distribution\n"
    assert rules in text
    forbid_models(monkeypatch)
    problem = problem_of(
        text.replace(rules, "  unearned:\n" + "  - general_distribution\n" * 60_000)
    )
    assert problem.path == "incentives.unearned"
    assert "'general_distribution' 60,000 times: expected each name once" in problem.message


def test_a_base_60_number_of_many_parts_is_refused_unbuilt(monkeypatch):
    """A YAML 1.1 base-60 whole number of 200,000 parts (which PyYAML builds in time growing
    with the square of its length: hours) is refused from its length, never built."""

    def no_int(*args: Any) -> Any:
        raise AssertionError("the number was built")

    monkeypatch.setattr(yaml.constructor.SafeConstructor, "construct_yaml_int", no_int)
    text = _two_systems("central_reserve: 12.0", "central_reserve: 1" + ":59" * 200_000)
    problem = problem_of(text)
    assert problem.path == "allocations.central_reserve" and "too long to read" in problem.message
