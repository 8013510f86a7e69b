"""The figures an example is expected to reproduce, and whether a run reproduces them.

For each example ``examples/<stem>.yaml``, ``examples/expected/<stem>.yaml`` holds the
headline figures of the example's source, each with the value the source gives, a tolerance,
an honest *kind* and a small declarative *measure* saying how to compute it from a run (a
folder of their own, so that nothing reading ``examples/*.yaml`` as scenarios meets them)::

    replications: 1              # the run that is checked
    seed: 0
    figures:
      - name: south_recurrent
        description: "£52m recurrently to the four southern regions (seed 000, HSJ)"
        value: 52.0
        tolerance: 0.05          # absolute, in the measured column's units
        kind: input              # input | calibrated | emergent
        measure:
          table: flows
          filter: {category: reallocation, recurrence: recurrent, fy: "2001/02"}
          column: amount
          reduce: sum_per_replication_mean

``kind`` says where the figure comes from: ``input``, typed into the scenario from the
source; ``calibrated``, an input tuned until the figure came out (``calibrated_by`` names
it); ``emergent``, produced by the mechanisms from inputs that do not contain it.

A ``measure`` selects rows of a table of the run (``positions``, ``flows``, ``events``,
``journal`` or a mechanism table such as ``disputes``): ``filter`` maps a column to a value
(equality) or to a list of allowed values; ``reduce`` turns the rows' ``column`` into one
number (see :data:`REDUCES`). ``minus``, another measure, is subtracted from it.

:func:`load_expected` reads a file (a :class:`finsim.ScenarioError` names the file, line and
field path of every problem); :func:`run_expected` runs its example; :func:`check` measures
each figure on a run and says whether it is within tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from finsim.errors import Problem, ScenarioError, did_you_mean, format_path
from finsim.scenario.models import StrictModel
from finsim.scenario.pydantic_errors import problems_from_validation
from finsim.scenario.yamlio import PathKey, read_yaml

if TYPE_CHECKING:
    from finsim.results import Results

#: The folder, beside the examples, of their expected-figures files: ``expected/<stem>.yaml``.
FOLDER = "expected"


def expected_path(scenario: str | Path) -> Path:
    """Where the expected figures of the example ``scenario`` are: ``expected/<stem>.yaml``
    in the example's folder (whether or not the file exists)."""
    scenario = Path(scenario)
    return scenario.parent / FOLDER / f"{scenario.stem}.yaml"


Scalar = str | int | float | bool
Kind = Literal["input", "calibrated", "emergent"]
Reduce = Literal["mean", "sum_per_replication_mean", "count_per_replication_mean", "min", "max"]


class Measure(StrictModel):
    """How to compute a figure from a run: rows of a table, filtered, reduced to a number."""

    table: str = Field(
        description="positions, flows, events, journal, or a mechanism table (res.table(name))"
    )
    filter: dict[str, Scalar | list[Scalar]] = Field(
        default_factory=dict,
        description="column: value (equal to it) or column: [values] (any of them)",
    )
    column: str | None = Field(
        default=None, description="the column reduced (not needed to count rows)"
    )
    reduce: Reduce = Field(description="how the selected rows become one number")
    minus: Measure | None = Field(
        default=None, description="another measure, subtracted from this one"
    )

    @model_validator(mode="after")
    def _column_needed(self) -> Measure:
        if self.column is None and self.reduce != "count_per_replication_mean":
            raise ValueError(f"reduce {self.reduce!r} needs a 'column'")
        return self


class Figure(StrictModel):
    """One headline figure of an example's source."""

    name: str = Field(min_length=1, description="a short id")
    description: str = Field(min_length=1, description="what the source says, with the source")
    value: float = Field(description="the source's figure")
    tolerance: float = Field(ge=0, description="absolute, in the measured column's units")
    kind: Kind = Field(
        description="input (typed in from the source), calibrated (an input tuned so the "
        "figure comes out) or emergent (comes out of the mechanisms)"
    )
    calibrated_by: str | None = Field(
        default=None, description="the input tuned, for a calibrated figure"
    )
    variant: str | None = Field(
        default=None, description="the variant whose run it is measured on (default: the file's)"
    )
    measure: Measure

    @model_validator(mode="after")
    def _calibrated_names_its_input(self) -> Figure:
        if self.kind == "calibrated" and not self.calibrated_by:
            raise ValueError("a calibrated figure names the input tuned in 'calibrated_by'")
        if self.kind != "calibrated" and self.calibrated_by is not None:
            raise ValueError(f"'calibrated_by' is only for kind calibrated, not {self.kind!r}")
        return self


class ExpectedFile(StrictModel):
    """An example's expected figures and the run that checks them."""

    replications: int = Field(ge=1, le=100_000, description="replications of the checking run")
    seed: int = Field(ge=0, description="seed of the checking run")
    variant: str | None = Field(default=None, description="the variant run (default: base)")
    note: str | None = Field(default=None, description="what the figures are, or why none")
    figures: list[Figure] = Field(description="the headline figures")

    @model_validator(mode="after")
    def _names_unique_and_reasoned(self) -> ExpectedFile:
        names = [f.name for f in self.figures]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"figure names are given twice: {', '.join(twice)}")
        if not self.figures and not self.note:
            raise ValueError("no figures: say why in 'note'")
        return self


@dataclass(frozen=True)
class Expected:
    """An expected-figures file read: its path, its content and the line of each field."""

    path: Path
    model: ExpectedFile
    lines: dict[PathKey, int]

    @property
    def figures(self) -> list[Figure]:
        return self.model.figures

    @property
    def scenario_path(self) -> Path:
        """The example the file describes: ``../<stem>.yaml`` from ``expected/<stem>.yaml``."""
        return self.path.parent.parent / self.path.name

    def problem(self, path: PathKey, message: str, suggestion: str | None = None) -> Problem:
        line = next(
            (self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None
        )
        return Problem(format_path(path), message, str(self.path), line, suggestion)


def load_expected(path: str | Path) -> Expected:
    """Read and check an expected-figures file.

    Raises :class:`finsim.ScenarioError` listing every problem, each naming the file, the
    line and the field path (``figures[2].measure.reduce``).
    """
    path = Path(path)
    if path.parent.name != FOLDER or path.suffix != ".yaml":
        raise ScenarioError.single(
            "(file)",
            f"an expected-figures file is {FOLDER}/<stem>.yaml beside the example <stem>.yaml",
            str(path),
        )
    data, lines = read_yaml(path)
    partial = Expected(path, ExpectedFile(replications=1, seed=0, note="-", figures=[]), lines)
    if not isinstance(data, dict):
        raise ScenarioError([partial.problem((), "expected a mapping with 'figures'")])
    try:
        model = ExpectedFile.model_validate(data)
    except ValidationError as exc:
        problems = problems_from_validation(exc, ExpectedFile, data)
        raise ScenarioError(
            [partial.problem(loc, msg, hint) for loc, msg, hint in problems]
        ) from None
    return Expected(path, model, lines)


def run_expected(expected: Expected) -> Results:
    """Run the example an expected-figures file describes, as the file says."""
    from finsim.runner import run  # the engine, only when a run is asked for
    from finsim.scenario import load_scenario

    scenario = load_scenario(expected.scenario_path, variant=expected.model.variant)
    return run(scenario, replications=expected.model.replications, seed=expected.model.seed)


def _per_replication(rows: pd.DataFrame, values: pd.Series, replications: np.ndarray) -> float:
    """Mean over every replication of ``values`` summed per replication (none: 0)."""
    if "replication" not in rows:
        return float(values.sum())
    summed = values.groupby(rows["replication"]).sum()
    return float(summed.reindex(replications, fill_value=0.0).mean())


#: Each reduce: (selected rows, the column's values or None, the run's replication ids).
REDUCES: dict[str, Callable[[pd.DataFrame, pd.Series | None, np.ndarray], float]] = {
    # the mean of the column over the selected rows (NaN if none)
    "mean": lambda rows, v, reps: float(v.mean()) if v is not None else np.nan,
    # the column summed within each replication, averaged over replications (none: 0)
    "sum_per_replication_mean": lambda rows, v, reps: (
        _per_replication(rows, v, reps) if v is not None else np.nan
    ),
    # the rows counted within each replication, averaged over replications (none: 0)
    "count_per_replication_mean": lambda rows, v, reps: _per_replication(
        rows, pd.Series(1.0, index=rows.index), reps
    ),
    # the smallest and largest value of the column over the selected rows (NaN if none)
    "min": lambda rows, v, reps: float(v.min()) if v is not None else np.nan,
    "max": lambda rows, v, reps: float(v.max()) if v is not None else np.nan,
}


def _table(results: Results, name: str) -> pd.DataFrame | None:
    if name in ("positions", "flows", "events", "journal"):
        frame = getattr(results, name)
        return None if frame is None else frame
    if name in results.table_names:
        return results.table(name)
    return None


def measure(results: Results, spec: Measure, expected: Expected, at: PathKey) -> float:
    """The number ``spec`` gives on ``results``; ``at`` is its field path, for errors."""
    frame = _table(results, spec.table)
    if frame is None:
        known = ["positions", "flows", "events", *results.table_names]
        raise ScenarioError(
            [
                expected.problem(
                    (*at, "table"),
                    f"this run has no table {spec.table!r}; it has: {', '.join(known)}",
                    did_you_mean(spec.table, known),
                )
            ]
        )
    wanted = [*spec.filter, *([spec.column] if spec.column else [])]
    for column in wanted:
        if column not in frame.columns:
            where = ("column",) if column == spec.column else ("filter", column)
            raise ScenarioError(
                [
                    expected.problem(
                        (*at, *where),
                        f"table {spec.table!r} has no column {column!r}; it has: "
                        f"{', '.join(map(str, frame.columns))}",
                        did_you_mean(column, map(str, frame.columns)),
                    )
                ]
            )
    keep = np.ones(len(frame), dtype=bool)
    for column, allowed in spec.filter.items():
        options = allowed if isinstance(allowed, list) else [allowed]
        keep &= frame[column].isin(options).to_numpy()
    rows = frame[keep]
    values = rows[spec.column].astype(float) if spec.column else None
    replications = np.asarray(results.replication_ids)
    number = REDUCES[spec.reduce](rows, values, replications)
    if spec.minus is not None:
        number -= measure(results, spec.minus, expected, (*at, "minus"))
    return number


def run_variants(expected: Expected) -> dict[str, Results]:
    """Runs of the variants the file's figures name (besides the file's own), by name."""
    from finsim.runner import run
    from finsim.scenario import load_scenario

    names = {f.variant for f in expected.figures if f.variant not in (None, expected.model.variant)}
    return {
        name: run(
            load_scenario(expected.scenario_path, variant=name),
            replications=expected.model.replications,
            seed=expected.model.seed,
        )
        for name in sorted(n for n in names if n is not None)
    }


def check(
    results: Results, expected: Expected, variants: dict[str, Results] | None = None
) -> list[tuple[Figure, float, bool]]:
    """Measure each expected figure on ``results`` (or, for a figure naming another variant,
    that variant's run in ``variants``: :func:`run_variants`): (figure, measured, within
    tolerance). A measure that selects nothing to average gives NaN, never within tolerance.
    """
    out = []
    for i, figure in enumerate(expected.figures):
        run = results
        if figure.variant not in (None, expected.model.variant):
            if not variants or figure.variant not in variants:
                raise ScenarioError(
                    [
                        expected.problem(
                            ("figures", i, "variant"),
                            f"no run of variant {figure.variant!r} was given to check it",
                        )
                    ]
                )
            run = variants[figure.variant]
        measured = measure(run, figure.measure, expected, ("figures", i, "measure"))
        ok = bool(np.isfinite(measured) and abs(measured - figure.value) <= figure.tolerance)
        out.append((figure, measured, ok))
    return out
