"""Each example declares the figures it reproduces, honestly kinded, and reproduces them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import finsim
from finsim.expected import check, expected_path, load_expected, run_expected, run_variants

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
#: Too slow to run in the suite (England-sized), and illustrative: no source figures.
WITHOUT = {"england_synthetic"}
EXPECTED = sorted((EXAMPLES / "expected").glob("*"))


def test_every_example_has_an_expected_file():
    """Every example YAML (but England, synthetic) has a figures file, and every figures
    file has its example."""
    examples = {p.stem for p in EXAMPLES.glob("*.yaml")}
    described = {p.name for p in EXPECTED}
    assert {f"{stem}.yaml" for stem in examples - WITHOUT} == described
    for stem in examples - WITHOUT:
        assert expected_path(EXAMPLES / f"{stem}.yaml").is_file()
        assert load_expected(expected_path(EXAMPLES / f"{stem}.yaml")).scenario_path == (
            EXAMPLES / f"{stem}.yaml"
        )


@pytest.mark.parametrize("path", EXPECTED, ids=lambda p: p.stem)
def test_every_figure_has_a_kind(path):
    """Each figure is input, calibrated (naming the input tuned) or emergent; a file with no
    figures says why."""
    expected = load_expected(path)
    assert expected.figures or expected.model.note
    for figure in expected.figures:
        assert figure.kind in ("input", "calibrated", "emergent"), figure.name
        assert (figure.kind == "calibrated") == bool(figure.calibrated_by), figure.name
        assert figure.description.strip() and figure.tolerance >= 0


@pytest.mark.parametrize(
    "path",
    [p for p in EXPECTED if load_expected(p).figures],
    ids=lambda p: p.stem,
)
def test_example_reproduces_its_figures(path):
    """The example, run as its figures file says, gives each figure within its tolerance."""
    expected = load_expected(path)
    results = run_expected(expected)
    checked = check(results, expected, run_variants(expected))
    assert len(checked) == len(expected.figures)
    wrong = [
        f"{figure.name}: measured {measured:.4f}, source {figure.value} +/- {figure.tolerance}"
        for figure, measured, ok in checked
        if not ok
    ]
    assert not wrong, f"{path.name}: " + "; ".join(wrong)


# -- the loader and the measures ----------------------------------------------------------------

FIGURE = """\
replications: 2
seed: 0
figures:
  - name: paid
    description: what the source says
    value: 3.0
    tolerance: 0.01
    kind: emergent
    measure:
      table: flows
      filter: {category: [a, b], fy: "2019/20"}
      column: amount
      reduce: sum_per_replication_mean
"""


def write(tmp_path: Path, text: str, stem: str = "toy") -> Path:
    path = expected_path(tmp_path / f"{stem}.yaml")
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    return path


def fake_results(flows: pd.DataFrame, replications: int = 2) -> SimpleNamespace:
    return SimpleNamespace(
        flows=flows,
        positions=None,
        events=None,
        journal=None,
        table_names=[],
        replication_ids=np.arange(replications),
    )


FLOWS = pd.DataFrame(
    {
        "replication": [0, 0, 0, 1],
        "fy": ["2019/20", "2019/20", "2019/20", "2018/19"],
        "category": ["a", "b", "c", "a"],
        "amount": [1.0, 2.0, 100.0, 50.0],
    }
)


def test_a_missing_kind_is_refused_naming_the_file_line_and_field(tmp_path):
    path = write(tmp_path, FIGURE.replace("    kind: emergent\n", ""))
    with pytest.raises(finsim.ScenarioError) as info:
        load_expected(path)
    (problem,) = info.value.problems
    assert problem.file == str(path) and problem.path == "figures[0].kind"
    assert problem.line == 4 and "required" in problem.message  # the figure's line


def test_bad_fields_are_each_named(tmp_path):
    """Every problem at once: an unknown reduce, an unknown key (with a suggestion), a
    calibrated figure that does not say by what, a negative tolerance."""
    text = (
        FIGURE.replace("sum_per_replication_mean", "median")
        .replace("kind: emergent", "kind: calibrated")
        .replace("tolerance: 0.01", "tolerance: -1")
        .replace("column: amount", "colum: amount")
    )
    with pytest.raises(finsim.ScenarioError) as info:
        load_expected(write(tmp_path, text))
    paths = {p.path: p for p in info.value.problems}
    assert "figures[0].measure.reduce" in paths and "figures[0].tolerance" in paths
    assert paths["figures[0].measure.colum"].suggestion == "column"
    text = FIGURE.replace("kind: emergent", "kind: calibrated")
    with pytest.raises(finsim.ScenarioError, match="calibrated_by"):
        load_expected(write(tmp_path, text))
    with pytest.raises(finsim.ScenarioError, match="say why in 'note'"):
        load_expected(write(tmp_path, "replications: 1\nseed: 0\nfigures: []\n"))
    with pytest.raises(finsim.ScenarioError, match="expected/<stem>.yaml beside"):
        load_expected(tmp_path / "toy.yaml")


def test_filters_and_sum_per_replication_count_replications_with_no_rows(tmp_path):
    """Lists allow any of their values; a replication with nothing selected counts as 0."""
    expected = load_expected(write(tmp_path, FIGURE))
    assert expected.scenario_path == tmp_path / "toy.yaml"
    ((figure, measured, ok),) = check(fake_results(FLOWS), expected)
    assert measured == pytest.approx((1.0 + 2.0 + 0.0) / 2) and not ok
    ((_, measured, ok),) = check(fake_results(FLOWS, replications=1), expected)
    assert measured == pytest.approx(3.0) and ok


@pytest.mark.parametrize(
    ("reduce", "value"),
    [("mean", 1.5), ("min", 1.0), ("max", 2.0), ("count_per_replication_mean", 1.0)],
)
def test_each_reduce(tmp_path, reduce, value):
    expected = load_expected(write(tmp_path, FIGURE.replace("sum_per_replication_mean", reduce)))
    ((_, measured, _),) = check(fake_results(FLOWS), expected)
    assert measured == pytest.approx(value)


def test_minus_and_an_empty_selection(tmp_path):
    """``minus`` subtracts a second measure; a mean of nothing is NaN, never within tolerance."""
    text = FIGURE + (
        "      minus: {table: flows, filter: {fy: '2018/19'}, column: amount, reduce: mean}\n"
    )
    ((_, measured, _),) = check(fake_results(FLOWS), load_expected(write(tmp_path, text)))
    assert measured == pytest.approx(1.5 - 50.0)
    text = FIGURE.replace("sum_per_replication_mean", "mean").replace('"2019/20"', '"2030/31"')
    ((_, measured, ok),) = check(fake_results(FLOWS), load_expected(write(tmp_path, text)))
    assert np.isnan(measured) and not ok


def test_an_unknown_table_or_column_names_the_field(tmp_path):
    with pytest.raises(finsim.ScenarioError) as info:
        check(fake_results(FLOWS), load_expected(write(tmp_path, FIGURE.replace("amount", "amt"))))
    (problem,) = info.value.problems
    assert problem.path == "figures[0].measure.column" and problem.suggestion == "amount"
    text = FIGURE.replace("table: flows", "table: flow")
    with pytest.raises(finsim.ScenarioError) as info:
        check(fake_results(FLOWS), load_expected(write(tmp_path, text)))
    (problem,) = info.value.problems
    assert problem.path == "figures[0].measure.table" and problem.suggestion == "flows"
    assert problem.line is not None
