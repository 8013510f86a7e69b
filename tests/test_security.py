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

import pandas as pd
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import finsim
from finsim.cli import main
from finsim.errors import ResultsError

from .strategies_full import fuzz_settings

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


# -- every chunk is its run's, whole and of the run's shape ------------------------------------


@pytest.fixture(scope="module")
def _other_run(tmp_path_factory) -> Path:
    """The same scenario and chunking as ``saved_run``, run with another seed."""
    folder = tmp_path_factory.mktemp("other") / "run"
    finsim.run(finsim.load_scenario(EXAMPLE), replications=8, chunk_size=2, seed=3, out=folder)
    return folder


@pytest.fixture(scope="module")
def _reference() -> finsim.Results:
    return finsim.run(finsim.load_scenario(EXAMPLE), replications=8, chunk_size=2, seed=2)


CHUNK = "000000002-000000003"


def test_a_chunk_copied_from_another_seeds_run_is_refused(saved_run, _other_run):
    """A chunk copied from a run of another seed (same scenario, same chunking: it fits
    perfectly) was read silently, mixing two runs: now a ResultsError naming the chunk and
    what does not match, on resuming and on loading."""
    chunks = saved_run / "chunks"
    shutil.rmtree(chunks / CHUNK)
    shutil.copytree(_other_run / "chunks" / CHUNK, chunks / CHUNK)
    for action in (resume, load):
        with pytest.raises(ResultsError) as info:
            action(saved_run)
        message = str(info.value)
        assert message.startswith(str(chunks / CHUNK)) and "not a chunk of this run" in message
        assert "seed 3 in the chunk, 2 in the run" in message and "--resume" in message


def test_a_chunk_missing_from_the_run_is_not_filled_from_another(saved_run, _other_run):
    """The other run's chunk put where this run has none (a gap resuming would fill) is refused
    before anything runs: it is not taken as done."""
    chunks = saved_run / "chunks"
    shutil.rmtree(chunks / CHUNK)
    shutil.copytree(_other_run / "chunks" / CHUNK, chunks / CHUNK)
    with pytest.raises(ResultsError, match="seed 3 in the chunk"):
        resume(saved_run)


@pytest.mark.parametrize("same", [False, True], ids=["another run", "an identical run"])
def test_chunks_linked_to_another_runs_are_refused(saved_run, _other_run, tmp_path, same):
    """``chunks/`` a symbolic link to another run's chunks (even an identical run's, which a
    resumed run would write into) is a ResultsError naming it, on resuming and on loading."""
    target = _other_run / "chunks"
    if same:
        target = Path(shutil.copytree(saved_run / "chunks", tmp_path / "elsewhere"))
    shutil.rmtree(saved_run / "chunks")
    (saved_run / "chunks").symlink_to(target, target_is_directory=True)
    before = sorted(p.name for p in target.iterdir())
    for action in (resume, load):
        with pytest.raises(ResultsError, match="chunks: is a symbolic link"):
            action(saved_run)
    assert sorted(p.name for p in target.iterdir()) == before


def test_force_over_linked_chunks_removes_the_link_not_the_other_run(saved_run, _other_run):
    """--force over a folder whose chunks/ links elsewhere starts again in a folder of its own,
    leaving the other run's chunks whole."""
    target = _other_run / "chunks"
    before = sorted(p.name for p in target.iterdir())
    shutil.rmtree(saved_run / "chunks")
    (saved_run / "chunks").symlink_to(target, target_is_directory=True)
    finsim.run(
        finsim.load_scenario(EXAMPLE),
        replications=8,
        chunk_size=2,
        seed=2,
        out=saved_run,
        force=True,
    )
    assert not (saved_run / "chunks").is_symlink()
    assert sorted(p.name for p in target.iterdir()) == before


def _npy_header_claiming(path: Path, shape: tuple[int, ...]) -> None:
    """Rewrite an .npy file's header to claim ``shape`` (the data left as it was)."""
    import numpy as np

    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        assert version == (1, 0)
        _, fortran, dtype = np.lib.format.read_array_header_1_0(handle)
        data = handle.read()
    with open(path, "wb") as handle:
        np.lib.format.write_array_header_1_0(
            handle,
            {
                "descr": np.lib.format.dtype_to_descr(dtype),
                "fortran_order": fortran,
                "shape": shape,
            },
        )
        handle.write(data)


def _resave(path: Path, change) -> None:
    import numpy as np

    np.save(path, change(np.load(path)))


def _edit_parquet(path: Path, change) -> None:
    import pandas as pd

    change(pd.read_parquet(path)).to_parquet(path, index=False)


def _edit_record(folder: Path, change) -> None:
    record = json.loads((folder / "chunk.json").read_text())
    change(record)
    (folder / "chunk.json").write_text(json.dumps(record))


#: Ways to tamper with a chunk folder, each a chunk read wrongly (ValueError, IndexError,
#: KeyError, RecursionError, MemoryError...) or silently before: (what to do, words of the error).
TAMPERINGS = {
    "an array of another dtype": (
        lambda c: _resave(c / "flow_amounts.npy", lambda a: a.astype("float32")),
        "holds float32, not float64",
    ),
    "an array of another shape": (
        lambda c: _resave(c / "total.income.npy", lambda a: a[:, :, :-1]),
        "'total.income.npy' has the shape",
    ),
    "an array of another length": (
        lambda c: _resave(c / "monthly.npy", lambda a: a[:1]),
        "'monthly.npy' has the shape",
    ),
    "an array of objects": (
        lambda c: __import__("numpy").save(
            c / "total.income.npy",
            __import__("numpy").array([1, "x"], dtype=object),
            allow_pickle=True,
        ),
        "holds object",
    ),
    "an array missing": (lambda c: (c / "total.income.npy").unlink(), "'total.income.npy' missing"),
    "an extra array": (
        lambda c: shutil.copy(c / "total.income.npy", c / "extra.bogus.npy"),
        "'extra.bogus.npy' that finsim did not write",
    ),
    "a header claiming a huge shape": (
        lambda c: _npy_header_claiming(c / "flow_amounts.npy", (10**12, 10**6)),
        "'flow_amounts.npy' has the shape",
    ),
    "a header claiming more than the file holds": (
        lambda c: (c / "total.income.npy").write_bytes((c / "total.income.npy").read_bytes()[:-8]),
        "another number of bytes than its header says",
    ),
    "garbage for an array": (
        lambda c: (c / "replications.npy").write_bytes(b"\x93NUMPY\x01\x00garbage"),
        "cannot be read",
    ),
    "flow keys out of range": (
        lambda c: _edit_parquet(
            c / "flow_keys.parquet", lambda f: f.assign(source=f["source"] + 10**6)
        ),
        "flow keys' 'source' fall outside the run's",
    ),
    "flow keys without a column": (
        lambda c: _edit_parquet(c / "flow_keys.parquet", lambda f: f.drop(columns="kind")),
        "has no column 'kind'",
    ),
    "rows removed from a table": (
        lambda c: _edit_parquet(c / "table.allocations.parquet", lambda f: f.iloc[:1]),
        "holds another number of rows than written",
    ),
    "garbage for a table": (
        lambda c: (c / "flow_keys.parquet").write_bytes(b"PAR1 garbage PAR1"),
        "cannot be read",
    ),
    "no chunk.json": (lambda c: (c / "chunk.json").unlink(), "it has no chunk.json"),
    "a chunk.json nested 100,000 deep": (
        lambda c: (c / "chunk.json").write_text("[" * 100_000 + "]" * 100_000),
        "nested too deep",
    ),
    "a chunk.json of 2 MB": (
        lambda c: (c / "chunk.json").write_text(" " * 2_000_000 + "{}"),
        "more than a finsim chunk's record ever holds",
    ),
    "a chunk.json that is not a record": (
        lambda c: (c / "chunk.json").write_text("[1, 2]"),
        "not a finsim chunk's record",
    ),
    "a chunk.json of another scenario": (
        lambda c: _edit_record(c, lambda r: r["identity"].update(scenario_hash="0" * 16)),
        "scenario_hash '0000000000000000' in the chunk",
    ),
    "a chunk.json of another chunk": (
        lambda c: _edit_record(c, lambda r: r["identity"].update(first=0, last=1)),
        "holds replications other than its name says",
    ),
    "a chunk.json listing another shape": (
        lambda c: _edit_record(c, lambda r: r["files"]["total.income.npy"].update(shape=[2, 1, 1])),
        "'total.income.npy' is not the array written there",
    ),
    "flows_kept garbage": (
        lambda c: (c / "flows_kept").write_text("x" * 10_000),
        "'flows_kept' is neither 0 nor 1",
    ),
    "an array linked from elsewhere": (
        lambda c: ((c / "monthly.npy").unlink(), (c / "monthly.npy").symlink_to("/dev/zero")),
        "'monthly.npy' is not a plain file",
    ),
    "a folder inside": (lambda c: (c / "table.x.parquet").mkdir(), "did not write there"),
    "a folder for an array": (
        lambda c: ((c / "monthly.npy").unlink(), (c / "monthly.npy").mkdir()),
        "'monthly.npy' is not a plain file",
    ),
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_tampered_chunk_is_a_clear_error(saved_run, tampering, capsys):
    """Each way of tampering with a chunk (wrong dtype or shape, arrays missing or extra, a
    header claiming a huge shape, a record nested deep...) is a ResultsError naming the chunk
    and what is wrong, on resuming and on loading, never a traceback; the command line says
    it in one line, exit status 2."""
    from finsim.cli import main

    chunk = saved_run / "chunks" / CHUNK
    tamper, words = TAMPERINGS[tampering]
    tamper(chunk)
    for action in (resume, load):
        with pytest.raises(ResultsError) as info:
            action(saved_run)
        message = str(info.value)
        assert message.startswith(str(chunk) + ": this chunk of results cannot be read"), message
        assert words in message and "--resume" in message, message
    status = main(
        ["report", str(saved_run), "--scenario", str(EXAMPLE), "-o", str(saved_run / "r.html")]
    )
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda f: f.drop(columns="org"), "has no column 'org'"),
        (lambda f: f.assign(replication=f["replication"] + 100), "name replications other than"),
        (lambda f: f.assign(replication="x"), "cannot be read"),
    ],
    ids=["a column missing", "other replications", "replications as text"],
)
def test_a_chunk_with_tampered_events_is_a_clear_error(tmp_path, change, words):
    """A chunk's events without a column, or naming replications of other chunks (or not
    numbers at all): a ResultsError naming the chunk."""
    scenario = finsim.load_scenario(ROOT / "examples" / "ics_control_totals_2018.yaml")
    options = dict(replications=4, chunk_size=2, seed=1, out=tmp_path / "run")
    finsim.run(scenario, **options)
    events = tmp_path / "run" / "chunks" / "000000002-000000003" / "events.parquet"
    _edit_parquet(events, change)
    with pytest.raises(ResultsError, match=f"000000002-000000003: .*{words}"):
        finsim.run(scenario, resume=True, **options)


def test_a_manifest_nested_deep_is_a_clear_error_on_resuming(saved_run):
    """A manifest of 100,000 nested lists (RecursionError) is one problem naming the file."""
    (saved_run / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(finsim.ScenarioError) as info:
        resume(saved_run)
    (problem,) = info.value.problems
    assert problem.file.endswith("manifest.json") and "nested too deep" in problem.message


def test_a_manifest_nested_deep_is_a_clear_error_on_loading(saved_run):
    """The same manifest, its results loaded (finsim report): a ResultsError naming the file."""
    (saved_run / "manifest.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ResultsError, match="manifest.json: .*nested too deep"):
        load(saved_run)


@st.composite
def tamperings(draw: st.DrawFn) -> list[tuple[str, str]]:
    """One to three tamperings, each of a chunk of the run."""
    chunks = [
        "000000000-000000001",
        "000000002-000000003",
        "000000004-000000005",
        "000000006-000000007",
    ]
    return draw(
        st.lists(
            st.tuples(st.sampled_from(list(TAMPERINGS)), st.sampled_from(chunks)),
            min_size=1,
            max_size=3,
        )
    )


@fuzz_settings(normal=8, fuzz=300)
@given(done=tamperings())
def test_a_run_tampered_at_random_is_refused_or_read_whole(
    done, _saved_once, _other_run, _reference, tmp_path_factory
):
    """Random tamperings of a saved run, on top of each other (and a chunk swapped for the
    other seed's): resuming is a clear error, or the run read whole, the same bits as the
    reference; never another exception, never two runs mixed."""
    folder = Path(
        shutil.copytree(_saved_once, tmp_path_factory.mktemp("tampered") / "run", symlinks=True)
    )
    for tampering, name in done:
        chunk = folder / "chunks" / name
        if not chunk.is_dir():
            continue
        try:
            TAMPERINGS[tampering][0](chunk)
        except Exception:  # (a tampering an earlier one made impossible: nothing to do)
            continue
    try:
        res = resume(folder)
    except (ResultsError, finsim.ScenarioError):
        event("refused")
        return
    event("read whole")
    pd.testing.assert_frame_equal(res.positions, _reference.positions, check_exact=True)


@pytest.mark.parametrize(
    "name", ["n" * 300, "p" * 200 + "/" + "q" * 200 + "/" + "r" * 4000], ids=["a part", "the path"]
)
def test_an_out_folder_too_long_for_the_system_is_a_clear_error(tmp_path, name):
    """run(out=PATH) with a name over the system's limit (ENAMETOOLONG): one problem naming
    --out, nothing written."""
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.run(finsim.load_scenario(EXAMPLE), replications=2, out=tmp_path / name)
    (problem,) = info.value.problems
    assert problem.path == "--out" and "longer than this system allows" in problem.message
    assert list(tmp_path.iterdir()) == []


def test_the_command_line_refuses_an_out_folder_too_long(tmp_path, capsys):
    """finsim run --out PATH, PATH too long for the system: exit status 2, no traceback."""
    assert main(["run", str(EXAMPLE), "-n", "2", "--out", str(tmp_path / ("n" * 300))]) == 2
    assert "Traceback" not in capsys.readouterr().err
