"""Where the explorer's scenario comes from: one of finsim's examples, or a file the user
uploads (YAML, or an Excel workbook read by the same loader as ``finsim run``).

Either way the scenario is read by finsim's own loader, so a bad file gives finsim's own
:class:`~finsim.errors.ScenarioError`: every problem at once, each naming the file, the
line and the field path.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import replace
from pathlib import Path

from finsim.errors import Problem, ScenarioError
from finsim.scenario import Scenario, load_scenario, loads_scenario
from finsim.scenario.yamlio import decode_text

#: The endings of the files the explorer reads: YAML, or a workbook (``finsim.load_scenario``
#: reads it by its ending).
UPLOAD_TYPES = ("yaml", "yml", "xlsx")
#: The example shown first: the control totals of the first integrated care systems, whose
#: system share is the question the explorer was built for ("what if it were 50%?").
FIRST_EXAMPLE = "ics_control_totals_2018.yaml"


def examples() -> dict[str, Path]:
    """finsim's example scenario files by name, the one shown first first (the folder
    ``finsim examples`` lists; none when finsim is installed without its examples)."""
    from finsim.cli.info import examples_dir

    folder = examples_dir()
    if folder is None:
        return {}
    found = {path.name: path for path in sorted(folder.glob("*.yaml"))}
    first = {FIRST_EXAMPLE: found.pop(FIRST_EXAMPLE)} if FIRST_EXAMPLE in found else {}
    return {**first, **found}


def load_example(path: str) -> Scenario:
    """An example scenario, read and validated (a base or fragment file is refused with
    finsim's own error)."""
    return load_scenario(path)


def load_upload(name: str, data: bytes) -> Scenario:
    """A scenario from the bytes of an uploaded file called ``name``: YAML read as text,
    anything else (a ``.xlsx`` workbook) through :func:`finsim.load_scenario` from a
    temporary copy, with each problem naming the uploaded file rather than the copy.

    Raises :class:`finsim.ScenarioError`. An ``extends:`` is relative to the folder the
    explorer was started in (an upload has no folder of its own).
    """
    shown = Path(name).name or "upload"
    suffix = Path(shown).suffix.lower().lstrip(".")
    if suffix not in UPLOAD_TYPES:
        raise ScenarioError.single(
            "(file)",
            f"expected a scenario file ending .yaml, .yml or .xlsx, got {shown!r}",
            shown,
        )
    if suffix in ("yaml", "yml"):
        return loads_scenario(decode_text(data, shown), source=shown)
    with tempfile.TemporaryDirectory(prefix="finsim-app-") as folder:
        copy = Path(folder) / _safe(shown)
        copy.write_bytes(data)
        try:
            scenario = load_scenario(copy)
        except ScenarioError as exc:
            raise ScenarioError([_renamed(p, str(copy), shown) for p in exc.problems]) from None
        # read again from its data, so that the scenario names the upload, not the copy
        return Scenario.from_dict(scenario.to_data(), source=shown, system=scenario.system)


def _safe(name: str) -> str:
    """A file name for the temporary copy: the upload's, less anything a path could use."""
    stem, dot, suffix = name.rpartition(".")
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", stem)[:100] or "upload"
    return f"{cleaned}{dot}{suffix}"


def _renamed(problem: Problem, copy: str, shown: str) -> Problem:
    if problem.file is not None and copy in problem.file:
        return replace(problem, file=problem.file.replace(copy, shown))
    return problem
