"""Loading a scenario workbook: its document read (:mod:`finsim.workbook.reader`), then
validated by the loader as a YAML file's is, every problem named by its sheet and cell.

The loader hands in the two steps it takes for a YAML file (merging onto an ``extends:``
base, building the Scenario), so that this module needs nothing of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from finsim.errors import Problem, ScenarioError, format_path
from finsim.scenario.files import shown_path
from finsim.scenario.validate import scenario_model
from finsim.scenario.values import check_data
from finsim.workbook.paths import PathKey
from finsim.workbook.reader import read_workbook
from finsim.workbook.shape import field_at

if TYPE_CHECKING:
    from finsim.scenario.loader import Scenario
    from finsim.system import System

#: The loader's ``_with_base``: (document, lines, file, folder) -> merged (document, lines).
WithBase = Callable[[Any, Any, str, Path], tuple[dict[str, Any], Any]]
#: The loader's ``Scenario._build``: (document, lines, file, system) -> Scenario.
Build = Callable[[dict[str, Any], Any, str, "System | None"], "Scenario"]
_MISSING = "required field is missing"


def load_workbook_scenario(
    path: str | Path,
    variant: str | None,
    system: System | None,
    build: Build,
    with_base: WithBase,
) -> Scenario:
    """Read and validate a scenario workbook, as :func:`finsim.load_scenario` reads a YAML
    file; every problem names its sheet and cell (``contracts!C7``)."""
    path = Path(path)
    name = shown_path(path)
    model = scenario_model(system)
    data, cells = read_workbook(path, model)
    lines = {k: (_token(name, cell), None) for k, cell in cells.items()}
    try:
        check_data(data, name)
        merged, merged_lines = with_base(data, lines, name, path.parent)
        scenario = build(merged, merged_lines, name, system)
        return scenario.with_variant(variant) if variant else scenario
    except ScenarioError as exc:
        raise ScenarioError([_at_cell(p, name, cells, model) for p in exc.problems]) from None


def _token(name: str, cell: str) -> str:
    # where a value was written, as the loader's "file" (a workbook has no lines): the
    # problems it reports are given back their cell by _at_cell
    return f"{name}: {cell}"


def _at_cell(
    problem: Problem, name: str, cells: dict[PathKey, str], model: type[BaseModel]
) -> Problem:
    """A problem of the workbook named by its cell, not its field path (a missing value: the
    cell it should be written in, the first required one if the whole section is missing)."""
    path = problem.path
    variant = ""
    found = re.match(r"^variants\.(.+?) -> (.*)$", path)
    if found:
        variant, path = found.groups()
    cell: str | None = None
    if problem.file and problem.file.startswith(f"{name}: ") and problem.line is None:
        cell = problem.file[len(name) + 2 :]
    elif problem.file == name:
        cell = _by_text(cells).get(path)
    message = problem.message
    if message == _MISSING and not variant:
        cell = _empty_cell(path, cells, model) or cell
    if cell is None:
        return problem
    if message == _MISSING:
        message = f"required field '{_last(path)}' is missing"
    if variant:
        cell += f" (variant {variant})"
    return Problem(cell, message, name, None, problem.suggestion)


def _last(path: str) -> str:
    return re.split(r"[.\[]", path)[-1].rstrip("]")


def _empty_cell(path: str, cells: dict[PathKey, str], model: type[BaseModel]) -> str | None:
    inside = [k for k in cells if format_path(k).startswith((f"{path}.", f"{path}["))]
    for k in inside:
        info = field_at(model, k)
        if info is not None and info.is_required():
            return cells[k]
    return cells[inside[0]] if inside else None


def _by_text(cells: dict[PathKey, str]) -> dict[str, str]:
    return {format_path(k): v for k, v in cells.items()}
