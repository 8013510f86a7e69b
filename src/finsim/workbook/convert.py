"""Writing scenario workbooks (a template, or a scenario) and converting a scenario between
a YAML file and a workbook."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from finsim.errors import ScenarioError
from finsim.results_io import atomic_write
from finsim.scenario.files import is_workbook, os_problem, shown_path
from finsim.scenario.loader import Scenario, load_scenario
from finsim.scenario.validate import scenario_model
from finsim.workbook.arrange import arrange
from finsim.workbook.layout import layout_of
from finsim.workbook.readme import readme_rows
from finsim.workbook.writer import require_openpyxl, save

if TYPE_CHECKING:
    from finsim.system import System

YAML_SUFFIXES = (".yaml", ".yml")


def write_workbook(
    document: dict[str, Any] | Scenario, path: str | Path, system: System | None = None
) -> Path:
    """Write a scenario (a :class:`Scenario`, or its document as plain data) to a workbook;
    the file is written beside ``path`` and renamed into place."""
    path = Path(path)
    require_openpyxl(shown_path(path))
    _check_suffix(path, (".xlsx",))
    if isinstance(document, Scenario):
        system = system or document.system
        document = document._base  # (with its variants, whichever variant it is)
    model = scenario_model(system)
    layout = layout_of(model)
    sheets = arrange(copy.deepcopy(document), layout)
    title = str((document.get("scenario") or {}).get("name") or "finsim scenario")
    _write(path, save(sheets, readme_rows(layout), title))
    return path


def write_template(path: str | Path, system: System | None = None) -> Path:
    """Write an empty scenario workbook: a sheet per section of ``system``'s scenario model,
    its columns, drop-down lists and a README explaining each sheet and column."""
    return write_workbook({}, path, system)


def convert(source: str | Path, target: str | Path, system: System | None = None) -> Path:
    """Convert a scenario between a YAML file and a workbook (either way, by the suffixes).

    The scenario is validated first. What is written is the scenario after ``extends:`` is
    resolved (the base's values merged in), so the new file stands alone; its variants are
    kept. Reading the new file gives the same document as reading ``source``.
    """
    target = Path(target)
    _check_suffix(target, (".xlsx", *YAML_SUFFIXES))
    scenario = load_scenario(source, system=system)
    if is_workbook(target):
        return write_workbook(scenario, target, system)
    text = _yaml_text(scenario._base, shown_path(source))
    _write(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


def _write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` whole or not at all (see :func:`finsim.results_io.atomic_write`)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, write)
    except OSError as exc:
        raise ScenarioError.single("(file)", os_problem(exc), shown_path(path)) from None


def _yaml_text(document: dict[str, Any], source: str) -> str:
    body = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    return f"# Converted by finsim from {source}.\n{body}"


def _check_suffix(path: Path, allowed: tuple[str, ...]) -> None:
    if path.suffix.lower() not in allowed:
        raise ScenarioError.single(
            "(file)",
            f"expected a file name ending in {', '.join(allowed)}, got '{path.name}'",
            shown_path(path),
        )
