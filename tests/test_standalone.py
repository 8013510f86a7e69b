"""finsim stands alone: nothing refers outside the repository, and the wheel carries its data.

A user has a clone or an installed wheel and nothing beside it, so no tracked file may name
a folder beside the repository, and the packaged NHS England files must be in the wheel and
found by an installed (not editable) finsim.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Built so that this file does not mention what it looks for.
OUTSIDE = "." + "./" + "shared"


def _tracked_files() -> list[Path]:
    """The repository's tracked files (every file under it when git cannot tell)."""
    if shutil.which("git"):
        done = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode == 0 and done.stdout:
            # a tracked file deleted in the work tree (not yet committed) has nothing to read
            return [ROOT / n for n in done.stdout.split("\0") if n and (ROOT / n).is_file()]
    skip = {".git", ".venv", "site", "build", "dist", ".hypothesis", ".mypy_cache"}
    return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.parts)]


def test_no_tracked_file_refers_to_a_folder_beside_the_repository():
    """No code, test, doc, example, benchmark, Makefile line or CI step names the folder beside it."""
    files = _tracked_files()
    assert len(files) > 50
    offending = []
    for path in files:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            continue  # pictures and compressed data
        for number, line in enumerate(text.splitlines(), start=1):
            if OUTSIDE in line:
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert not offending, "files refer outside the repository:\n  " + "\n  ".join(offending)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """finsim's wheel, built from this checkout without network access."""
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
        + ["--wheel-dir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    (built,) = out.glob("finsim-*.whl")
    return built


def test_the_wheel_carries_the_data_and_its_attribution(wheel: Path):
    """Both gzip editions and the README with the OGL attribution are package data in the wheel."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in [
        "finsim/data/nhse/gp_practice_weighted_populations_2024_25.csv.gz",
        "finsim/data/nhse/gp_practice_weighted_populations_2025_26.csv.gz",
        "finsim/data/nhse/README.md",
        "finsim/py.typed",
    ]:
        assert name in names, f"{name} is not in {wheel.name}"


def test_an_installed_finsim_finds_its_data(wheel: Path, tmp_path: Path):
    """Installed from the wheel into a fresh venv (not editable), finsim loads both editions.

    The fresh venv has no pip and no packages of its own; finsim goes in with this
    environment's pip (``--python``), and its dependencies (numpy, pandas...) are found
    on PYTHONPATH from this environment's site-packages, whose ``.pth`` files (the
    editable install) are not read from there.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet"]
        + ["--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    check = (
        "import finsim, finsim.data as d; "
        "a = d.weighted_populations('2024/25'); b = d.weighted_populations('2025/26'); "
        "print(finsim.__file__); print(len(a), len(b))"
    )
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    done = subprocess.run(
        [str(python), "-c", check],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    where, counts = done.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert counts == "6553 6348"


# --- the newcomer's path ---------------------------------------------------------------------


def _console_blocks(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"```console\n(.*?)```", text, re.S)]


def test_readme_quick_start_is_make_demo_then_make_test():
    """The Quick start is exactly the two commands that work on a fresh machine."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    assert _console_blocks(quick) == ["make demo\nmake test\n"]


def test_readme_error_example_prints_as_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """The README's broken.yaml example, run as printed, gives the output it shows and exits 2."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (block,) = [b for b in _console_blocks(readme) if "broken.yaml" in b]
    lines = block.splitlines()
    sed = re.fullmatch(r"\$ sed '(\d+)s/(\w+)/(\w+)/' (\S+) > broken\.yaml", lines[0])
    assert sed, lines[0]
    number, old, new, source = int(sed[1]), sed[2], sed[3], sed[4]
    text = (ROOT / source).read_text(encoding="utf-8").splitlines(keepends=True)
    text[number - 1] = text[number - 1].replace(old, new, 1)
    (tmp_path / "broken.yaml").write_text("".join(text), encoding="utf-8")
    assert lines[1] == "$ finsim validate broken.yaml"
    shown = lines[2 : lines.index("$ echo $?")]
    from finsim.cli import main

    os.chdir(tmp_path)
    try:
        status = main(["validate", "broken.yaml"])
    finally:
        os.chdir(ROOT)
    assert status == int(lines[-1])
    assert capsys.readouterr().err.splitlines() == shown


def test_readme_commands_name_real_subcommands_and_examples():
    """Every `finsim ...` line of the README names a subcommand and files that exist."""
    from finsim.cli import build_parser

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    parser = build_parser()
    seen = 0
    for block in _console_blocks(readme):
        for line in block.splitlines():
            command = line.removeprefix("$ ").split("#", 1)[0].split()
            if not command or command[0] != "finsim":
                continue
            seen += 1
            parser.parse_args(command[1:])  # SystemExit(2) on an unknown option
            for word in command:
                if word.startswith("examples/"):
                    assert (ROOT / word).is_file(), line
    assert seen >= 8


def test_finsim_examples_lists_every_example_the_readme_lists(capsys: pytest.CaptureFixture[str]):
    """`finsim examples` lists each file of the README's Examples table, scripts included."""
    from finsim.cli import main

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Examples", 1)[1].split("##", 1)[0]
    listed = re.findall(r"`(examples/[\w.]+)`", table)
    assert len(listed) >= 10
    assert main(["examples"]) == 0
    out = capsys.readouterr().out
    for name in listed:
        assert name.split("/")[1] in out, name
