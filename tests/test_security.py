"""Security: nothing in a scenario file or a results folder can run code or write elsewhere.

No ``eval``, ``exec`` or pickle load anywhere in finsim; YAML read with the safe loader (a
Python tag is refused, never constructed); text from a scenario HTML-escaped in reports;
``--out`` never writes into a folder that holds something else unless told to; and a
results folder whose manifest or chunks were tampered with gives a clear error.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
from pathlib import Path

import pytest

import finsim
from finsim.cli import main
from finsim.errors import ResultsError

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "src" / "finsim"
EXAMPLE = ROOT / "examples" / "two_systems.yaml"


# -- no code from data ----------------------------------------------------------------------------


def _dotted(node: ast.AST) -> str:
    """'yaml.load' for the call target yaml.load; '' if it is not a plain dotted name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


#: Calls that run code, or build objects from bytes in ways that can (pickle, marshal,
#: YAML's full loader), whatever module they are reached through.
FORBIDDEN_CALLS = {
    "eval", "exec", "compile", "__import__", "pickle.load", "pickle.loads", "cPickle.load",
    "marshal.load", "marshal.loads", "shelve.open", "dill.load", "dill.loads",
    "cloudpickle.load", "cloudpickle.loads", "joblib.load", "pd.read_pickle",
    "pandas.read_pickle", "yaml.unsafe_load", "yaml.unsafe_load_all", "yaml.full_load",
    "yaml.full_load_all", "os.system", "os.popen",
}  # fmt: skip
UNSAFE_LOADERS = {"Loader", "FullLoader", "UnsafeLoader", "CLoader", "CFullLoader", "CUnsafeLoader"}


def forbidden_in(path: Path) -> list[str]:
    """Every forbidden call in a Python file, as 'file:line: what'."""
    found = []
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            short = name.rsplit(".", 1)[-1]
            keywords = {k.arg: k.value for k in node.keywords}
            if name in FORBIDDEN_CALLS or (short in {"eval", "exec"} and name == short):
                found.append(f"{name}()")
            elif name in {"yaml.load", "yaml.load_all"}:
                loader = keywords.get("Loader", node.args[1] if len(node.args) > 1 else None)
                if loader is None or _dotted(loader).rsplit(".", 1)[-1] not in {
                    "SafeLoader", "CSafeLoader", "BaseLoader", "CBaseLoader"
                }:  # fmt: skip
                    found.append(f"{name}() without the safe loader")
            elif name in {"np.load", "numpy.load"}:
                allow = keywords.get("allow_pickle")
                if not (isinstance(allow, ast.Constant) and allow.value is False):
                    found.append(f"{name}() without allow_pickle=False")
            elif (
                isinstance(keywords.get("allow_pickle"), ast.Constant)
                and keywords["allow_pickle"].value
            ):
                found.append(f"{name}(allow_pickle=True)")
        elif isinstance(node, ast.Attribute) and node.attr in UNSAFE_LOADERS:
            if _dotted(node.value) == "yaml":
                found.append(f"yaml.{node.attr}")
        elif isinstance(node, ast.ImportFrom) and node.module in {"pickle", "marshal", "shelve"}:
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.Import) and any(
            a.name in {"pickle", "marshal", "shelve", "dill"} for a in node.names
        ):
            found.append("import " + ", ".join(a.name for a in node.names))
    shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    return [f"{shown}: {what}" for what in found]


def test_no_eval_exec_or_pickle_load_in_finsim():
    """No eval, exec, pickle or marshal load, unsafe YAML loading or np.load that may unpickle
    anywhere in src/finsim (found in the syntax tree, so '.evaluate' or a comment is not one)."""
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 20
    found = [hit for path in files for hit in forbidden_in(path)]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "code",
    [
        "eval('1')",
        "exec('x = 1')",
        "import pickle\npickle.loads(b'')",
        "import numpy as np\nnp.load('x.npy', allow_pickle=True)",
        "import numpy as np\nnp.load('x.npy')",
        "import yaml\nyaml.load('a: 1')",
        "import yaml\nyaml.load('a: 1', Loader=yaml.Loader)",
        "import yaml\nyaml.unsafe_load('a: 1')",
        "import pandas as pd\npd.read_pickle('x')",
    ],
)
def test_the_check_finds_what_it_looks_for(tmp_path, code):
    """The check above is not vacuous: each forbidden form is found in a file holding it."""
    path = tmp_path / "forbidden_probe.py"
    path.write_text(code + "\n")
    assert forbidden_in(path)


def test_the_check_ignores_look_alikes(tmp_path):
    """Methods and text that merely look like the forbidden calls are not flagged."""
    code = (
        "import numpy as np\nimport yaml\n"
        "model.evaluate(x)\nframe.eval('a + b')\nnp.load('x.npy', allow_pickle=False)\n"
        "yaml.load(text, Loader=yaml.SafeLoader)\nyaml.SafeLoader(text)\n"
        "# eval(x) in a comment\ns = 'exec(x) in text'\n"
    )
    path = tmp_path / "lookalike_probe.py"
    path.write_text(code)
    assert forbidden_in(path) == []


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:os.system ['touch {marker}']",
        "!!python/name:os.system",
        "!!python/module:os",
        "!python/object/apply:os.system ['touch {marker}']",
    ],
)
def test_a_python_tag_is_refused_never_run(tmp_path, tag, capsys):
    """A scenario file asking YAML to build a Python object or call a function is a
    ScenarioError naming the line, and nothing runs; the command line exits 2."""
    marker = tmp_path / "pwned"
    path = tmp_path / "hostile.yaml"
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "  name: Two systems, one region", "  name: " + tag.format(marker=marker)
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.load_scenario(path)
    (problem,) = info.value.problems
    assert problem.path == "(file)" and problem.line == 10
    assert main(["validate", str(path)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert not marker.exists()


# -- reports escape what a scenario says ---------------------------------------------------------

HOSTILE = "<script>alert('x')</script>"
HOSTILE_ATTRIBUTE = '"><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def hostile_run() -> tuple[finsim.Scenario, finsim.Results]:
    """A run whose scenario name, description and organisation names are HTML."""
    data = finsim.load_scenario(EXAMPLE).to_data()
    data["scenario"]["name"] = f"Two systems {HOSTILE}"
    data["scenario"]["description"] = f"{HOSTILE_ATTRIBUTE} and {HOSTILE}"
    for group in ("regions", "systems", "commissioners", "providers"):
        for org in data["organisations"][group]:
            org["name"] = f"{org['name']} {HOSTILE}"
    scenario = finsim.Scenario.from_dict(data, source="hostile.yaml")
    return scenario, finsim.run(scenario, replications=3, seed=1)


def assert_escaped(page: str) -> None:
    assert HOSTILE not in page and HOSTILE_ATTRIBUTE not in page
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;script&gt;" in page  # the text is there, as text


def test_the_html_report_escapes_scenario_text(hostile_run):
    """The HTML report (finsim.report.report_html) shows hostile names as text, never markup."""
    report = pytest.importorskip("finsim.report")
    scenario, results = hostile_run
    assert_escaped(report.report_html(results, scenario))


def test_notebook_html_escapes_scenario_text(hostile_run):
    """The notebook views of a Scenario and of Results escape hostile names too."""
    from finsim.export import results_html, scenario_html

    scenario, results = hostile_run
    assert_escaped(scenario_html(scenario))
    assert_escaped(results_html(results))


# -- --out writes only where it should -----------------------------------------------------------


def test_out_refuses_a_folder_that_holds_something_else(tmp_path, capsys):
    """--out into a non-empty folder that is not a finsim results folder is refused (API and
    command line) unless --force; with --force the files already there are left alone."""
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.docx").write_text("years of work")
    scenario = finsim.load_scenario(EXAMPLE)
    with pytest.raises(
        finsim.ScenarioError, match="is not empty and is not a finsim results folder"
    ):
        finsim.run(scenario, replications=2, out=folder)
    assert main(["run", str(EXAMPLE), "-n", "2", "--out", str(folder)]) == 2
    assert "use --force" in capsys.readouterr().err
    assert sorted(p.name for p in folder.iterdir()) == ["chapter1.docx"]
    assert main(["run", str(EXAMPLE), "-n", "2", "--out", str(folder), "--force"]) == 0
    assert (folder / "chapter1.docx").read_text() == "years of work"
    assert (folder / "manifest.json").exists()


def test_out_refuses_to_overwrite_a_run_without_resume_or_force(tmp_path):
    """A folder holding a finsim run is neither overwritten nor mixed with another run."""
    scenario = finsim.load_scenario(EXAMPLE)
    finsim.run(scenario, replications=4, chunk_size=2, out=tmp_path / "run")
    with pytest.raises(finsim.ScenarioError, match="already holds a finsim run"):
        finsim.run(scenario, replications=4, chunk_size=2, out=tmp_path / "run")
    with pytest.raises(finsim.ScenarioError, match="differs from the one asked for in seed"):
        finsim.run(
            scenario, replications=4, chunk_size=2, seed=9, out=tmp_path / "run", resume=True
        )


def test_out_refuses_a_file(tmp_path):
    """--out naming a file is refused."""
    path = tmp_path / "results.csv"
    path.write_text("a,b\n")
    with pytest.raises(finsim.ScenarioError, match="exists and is not a folder"):
        finsim.run(finsim.load_scenario(EXAMPLE), replications=2, out=path)
    assert path.read_text() == "a,b\n"


# -- tampered results folders --------------------------------------------------------------------


@pytest.fixture(scope="module")
def _saved_once(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("saved") / "run"
    finsim.run(finsim.load_scenario(EXAMPLE), replications=8, chunk_size=2, seed=2, out=folder)
    return folder


@pytest.fixture
def saved_run(_saved_once, tmp_path) -> Path:
    """A finished run saved with out= (four chunks of two replications), to tamper with."""
    return Path(shutil.copytree(_saved_once, tmp_path / "run", symlinks=True))


def resume(folder: Path) -> finsim.Results:
    return finsim.run(
        finsim.load_scenario(EXAMPLE), replications=8, chunk_size=2, seed=2, out=folder, resume=True
    )


def load(folder: Path) -> finsim.Results:
    from finsim.report import load_results

    return load_results(folder, finsim.load_scenario(EXAMPLE))


@pytest.mark.parametrize(
    "manifest",
    ["[1, 2, 3]", "not json", '"a string"', "null", json.dumps({"replications": "eight"})],
    ids=["a list", "not JSON", "a string", "null", "wrong types"],
)
def test_a_tampered_manifest_is_a_clear_error(saved_run, manifest):
    """A manifest that is not a finsim manifest (not JSON, not an object, wrong types): a clear
    error naming the file, whether the run is resumed or its results loaded."""
    (saved_run / "manifest.json").write_text(manifest)
    with pytest.raises(finsim.ScenarioError) as info:
        resume(saved_run)
    (problem,) = info.value.problems
    assert problem.file.endswith("manifest.json") and problem.path == "--out"
    with pytest.raises((ResultsError, finsim.ScenarioError), match="manifest"):
        load(saved_run)


def forbid_listing_chunks(monkeypatch) -> None:
    """Make listing a run's chunks fail the test (rather than exhaust memory)."""
    import finsim.runner

    def no_chunks(*args):
        raise AssertionError("the chunks of a tampered manifest were listed")

    monkeypatch.setattr(finsim.runner, "chunks_of", no_chunks)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("replications", 10**11),
        ("replications", 1e11),
        ("replications", 0),
        ("replications", True),
        ("seed", "2"),
        ("seed", -1),
        ("chunk_size", 0),
        ("chunk_size", 2.5),
        ("source", None),
        ("keep_flows", "yes"),
    ],
)
def test_a_manifest_with_impossible_numbers_is_a_clear_error(saved_run, monkeypatch, field, value):
    """A manifest saying 10^11 replications (or a seed that is not a whole number, a chunk
    size of 0...) is refused naming the file and the field, before a chunk is listed: it
    cannot exhaust memory."""
    forbid_listing_chunks(monkeypatch)
    manifest = json.loads((saved_run / "manifest.json").read_text())
    manifest[field] = value
    (saved_run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=f"manifest.json: .*field '{field}': expected"):
        load(saved_run)


def test_a_manifest_asking_for_more_chunks_than_are_there_lists_none(saved_run, monkeypatch):
    """A manifest saying 10^9 replications in chunks of one, over a folder of four chunks, is an
    unfinished run: counted, not listed (a billion chunks would not fit in memory)."""
    forbid_listing_chunks(monkeypatch)
    manifest = json.loads((saved_run / "manifest.json").read_text())
    manifest.update(replications=10**9, chunk_size=1)
    (saved_run / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=r"unfinished \(0 of 1,000,000,000 chunks\)"):
        load(saved_run)


def test_the_command_line_reports_a_tampered_manifest_in_one_line(saved_run, monkeypatch, capsys):
    """finsim report on a folder whose manifest says 10^11 replications: exit status 2 and one
    line naming the manifest and the field."""
    forbid_listing_chunks(monkeypatch)
    manifest = json.loads((saved_run / "manifest.json").read_text())
    manifest["replications"] = 10**11
    (saved_run / "manifest.json").write_text(json.dumps(manifest))
    assert main(["report", str(saved_run), "--scenario", str(EXAMPLE)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("finsim: ") and len(err.strip().splitlines()) == 1
    assert str(saved_run / "manifest.json") in err and "'replications'" in err
    assert "got 100000000000" in err


def test_a_manifest_naming_paths_elsewhere_reads_nothing_from_there(saved_run, tmp_path):
    """Paths in a manifest (chunk names, a traversal in 'source') are never followed to
    read results from elsewhere: chunks are only the folders under chunks/."""
    manifest = json.loads((saved_run / "manifest.json").read_text())
    outside = tmp_path / "outside"
    shutil.copytree(saved_run / "chunks", outside)
    manifest["chunks"] = [str(outside / "000000000-000000001"), "../../../etc"]
    (saved_run / "manifest.json").write_text(json.dumps(manifest))
    assert resume(saved_run).replications == 8
    manifest["source"] = "../../../../../../etc/passwd"
    (saved_run / "manifest.json").write_text(json.dumps(manifest))
    from finsim.report import load_results

    with pytest.raises((ResultsError, finsim.ScenarioError)):
        load_results(saved_run)


def test_chunk_folders_that_are_not_this_runs_are_not_read(saved_run, tmp_path):
    """A folder under chunks/ named like nothing finsim writes, a link to a folder elsewhere,
    or a chunk of another chunking is never read: nothing is doubled."""
    chunks = saved_run / "chunks"
    shutil.copytree(chunks / "000000000-000000001", chunks / "..evil")
    shutil.copytree(chunks / "000000002-000000003", tmp_path / "elsewhere")
    os.symlink(tmp_path / "elsewhere", chunks / "000000008-000000009")
    shutil.copytree(chunks / "000000000-000000001", chunks / "000000000-000000003")
    res = resume(saved_run)
    counts = res.positions.groupby("replication").size()
    assert list(counts.index) == list(range(8)) and counts.nunique() == 1


def test_a_chunk_that_is_not_what_its_name_says_is_a_clear_error(saved_run):
    """A chunk folder holding other replications than its name (copied over another), or a
    damaged array: a ResultsError saying how to recover, never a doubled replication."""
    chunks = saved_run / "chunks"
    shutil.rmtree(chunks / "000000002-000000003")
    shutil.copytree(chunks / "000000000-000000001", chunks / "000000002-000000003")
    with pytest.raises(ResultsError, match="holds replications other than its name says"):
        resume(saved_run)
    shutil.rmtree(chunks / "000000002-000000003")
    resume(saved_run)
    (chunks / "000000004-000000005" / "flow_amounts.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(ResultsError, match="cannot be read.*--resume"):
        resume(saved_run)


def test_a_pickled_array_in_a_chunk_is_refused_not_loaded(saved_run):
    """An .npy file holding pickled objects (which np.load would unpickle if allowed) is
    refused with a clear error: no code in a results folder runs."""
    import numpy as np

    path = saved_run / "chunks" / "000000000-000000001" / "flow_amounts.npy"
    np.save(path, np.array([os.system], dtype=object), allow_pickle=True)
    with pytest.raises(ResultsError, match="cannot be read"):
        resume(saved_run)
