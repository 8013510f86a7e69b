"""One plug-in seam (issue 15): a System holds the mechanisms and schemes; nothing global."""

from __future__ import annotations

import ast
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import finsim
from finsim.system import BUILTIN_MECHANISMS, System
from tests.plugin_levy import Levy, Toll

EXAMPLE = "examples/two_systems.yaml"
SRC = Path(__file__).resolve().parents[1] / "src"


def _with(section: str, value: dict) -> dict:
    data = finsim.load_scenario(EXAMPLE).to_data()
    data[section] = value
    return data


def _levied(res: finsim.Results) -> float:
    flows = res.flows
    return float(
        flows[(flows["target"] == "nhse") & (flows["category"] == "other_income")]["amount"].sum()
    )


def test_the_default_system_is_the_builtins_and_is_not_changed_by_a_new_one():
    default = System.default()
    assert set(default.mechanisms.values()) >= set(BUILTIN_MECHANISMS)
    with_levy = default.with_mechanism(Levy)
    assert "levy" in with_levy.mechanisms and "levy" not in System.default().mechanisms
    assert "levy" not in default.schema().model_fields
    assert "levy" in with_levy.schema().model_fields
    assert with_levy.schema() is with_levy.schema()  # built once per System
    assert list(with_levy.mechanisms)[-1] == "levy"  # order 100: after the built-ins


def test_two_systems_in_one_process_have_their_own_schema_and_results():
    levy = System.default().with_mechanism(Levy)
    toll = System.default().with_mechanism(Toll)
    sc_levy = finsim.Scenario.from_dict(_with("levy", {"rate": 0.01}), system=levy)
    sc_toll = finsim.Scenario.from_dict(_with("toll", {"rate": 0.02}), system=toll)
    with pytest.raises(finsim.ScenarioError):  # each System knows only its own section
        finsim.Scenario.from_dict(_with("levy", {"rate": 0.01}), system=toll)
    with pytest.raises(finsim.ScenarioError):
        finsim.Scenario.from_dict(_with("levy", {"rate": 0.01}))
    a = finsim.run(sc_levy, replications=2, seed=3)
    b = finsim.run(sc_toll, replications=2, seed=3)
    plain = finsim.run(finsim.load_scenario(EXAMPLE), replications=2, seed=3)
    assert _levied(a) > 0
    assert _levied(b) == pytest.approx(2 * _levied(a), rel=1e-12)
    assert _levied(plain) == 0


def test_load_and_run_take_a_system():
    levy = System.default().with_mechanism(Levy)
    text = Path(EXAMPLE).read_text() + "\nlevy:\n  rate: 0.01\n"
    sc = finsim.loads_scenario(text, system=levy)
    assert sc.system is levy and sc.with_variant(sc.variants[0]).system is levy
    plain = finsim.load_scenario(EXAMPLE)
    assert plain.with_system(levy).system == levy
    res = finsim.run(plain, replications=1, seed=0, system=levy)
    assert _levied(res) == 0  # the section is allowed, not present


def test_a_scenario_pickles_its_system():
    levy = System.default().with_mechanism(Levy)
    sc = finsim.Scenario.from_dict(_with("levy", {"rate": 0.01}), system=levy)
    back = pickle.loads(pickle.dumps(sc))
    assert back.system == levy and back.model.levy.rate == 0.01


def test_a_system_is_immutable():
    with pytest.raises(AttributeError):
        System.default().x = 1  # type: ignore[attr-defined]


def test_a_plugin_runs_on_processes_without_being_imported_by_hand():
    levy = System.default().with_mechanism(Levy)
    sc = finsim.Scenario.from_dict(_with("levy", {"rate": 0.01}), system=levy)
    serial = finsim.run(sc, replications=4, seed=5, chunk_size=2)
    spread = finsim.run(sc, replications=4, seed=5, chunk_size=2, backend="processes", workers=2)
    assert _levied(serial) > 0
    assert spread.flows.equals(serial.flows)


def test_a_plugin_runs_on_a_dask_cluster_without_being_imported_by_hand():
    distributed = pytest.importorskip("distributed")
    levy = System.default().with_mechanism(Levy)
    sc = finsim.Scenario.from_dict(_with("levy", {"rate": 0.01}), system=levy)
    serial = finsim.run(sc, replications=4, seed=5, chunk_size=2)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        spread = finsim.run(sc, replications=4, seed=5, chunk_size=2, backend="dask", client=client)
    assert spread.flows.equals(serial.flows)


def test_importing_the_scenario_layer_imports_no_mechanism():
    code = (
        "import sys, finsim.scenario\n"
        "bad = sorted(m for m in sys.modules if m.startswith('finsim.mechanisms'))\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_an_entry_point_plugin_is_in_the_default_system(monkeypatch):
    from importlib.metadata import EntryPoint

    from finsim import system as system_module

    points = [
        EntryPoint("levy", "tests.plugin_levy:Levy", "finsim.plugins"),
        EntryPoint("toll", "tests.plugin_levy:register", "finsim.plugins"),
    ]
    monkeypatch.setattr(system_module, "entry_points", lambda group: points)
    system_module.entry_point_plugins.cache_clear()
    try:
        assert System.default().mechanisms["levy"] is Levy
        assert System.default().mechanisms["toll"] is Toll
    finally:
        monkeypatch.undo()
        system_module.entry_point_plugins.cache_clear()
    assert "levy" not in System.default().mechanisms


# -- no import cycle ----------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST, here: str, modules: set[str]) -> set[str]:
    """The finsim modules a module imports, at top level or inside functions, outside
    ``if TYPE_CHECKING:`` blocks. ``from finsim.a import b`` counts ``finsim.a.b`` when that
    is a module, else ``finsim.a``; a parent package's ``__init__`` is not counted. A string
    that is exactly a module's name (``importlib.import_module("finsim.results")``, a table of
    lazy imports) counts as importing it."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "finsim")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = here.split(".")[: -node.level] if node.level else []
                base = ".".join([*package, *([base] if base else [])])
            if base.split(".")[0] == "finsim":
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.add(sub if sub in modules else base)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("finsim.") and node.value in modules:
                found.add(node.value)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in modules and m != here}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def _one_cycle(graph: dict[str, set[str]], comp: list[str]) -> list[str]:
    """A shortest cycle through the first module of a component, to show."""
    start = comp[0]
    members = set(comp)
    paths = {start: [start]}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return [*paths[v], start]
            if w not in paths:
                paths[w] = [*paths[v], w]
                queue.append(w)
    return comp


def import_graph() -> dict[str, set[str]]:
    files = sorted((SRC / "finsim").rglob("*.py"))
    modules = {_module_name(f) for f in files}
    return {
        _module_name(f): _imports(ast.parse(f.read_text()), _module_name(f), modules) for f in files
    }


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_counting_imports_inside_functions():
    graph = import_graph()
    found = _cycles(graph)
    shown = "\n".join(f"{len(c)} modules, e.g. {' -> '.join(_one_cycle(graph, c))}" for c in found)
    assert not found, f"import cycles:\n{shown}"


def test_keep_is_one_value_and_the_old_keywords_still_work():
    """finsim.run's keep-what options as one Keep; a keep_* keyword overrides its field."""
    assert finsim.Keep().resolved(5) == finsim.Keep(True, True, True, True, True)
    assert finsim.Keep().resolved(5000) == finsim.Keep(False, False, False, False, False)
    sc = finsim.load_scenario(EXAMPLE)
    by_value = finsim.run(sc, replications=2, seed=1, keep=finsim.Keep(tables=False))
    by_keyword = finsim.run(sc, replications=2, seed=1, keep_tables=False)
    assert by_value.tables_kept is False and by_keyword.tables_kept is False
    both = finsim.run(sc, replications=2, seed=1, keep=finsim.Keep(tables=False), keep_tables=True)
    assert both.tables_kept is True
    assert by_value.positions.equals(by_keyword.positions)


def test_no_module_of_the_package_is_over_400_lines():
    """Large modules are split by what each part is for (issue 15.5)."""
    long = {
        str(path.relative_to(SRC)): n
        for path in sorted(SRC.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not long, long
