"""The finsim command: readable output, tables written, user errors exit 2 without a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from finsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = str(ROOT / "examples" / "two_systems.yaml")


def test_validate_describes_a_good_file(capsys):
    """validate prints the scenario's span and shape and exits 0."""
    assert main(["validate", EXAMPLE]) == 0
    out = capsys.readouterr().out
    assert "valid" in out and "2017/18 to 2019/20" in out and "4 providers" in out


def test_run_prints_a_surplus_table_in_gbp_m(capsys):
    """run prints each body's surplus per year to one decimal place."""
    assert main(["run", EXAMPLE, "--replications", "20", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "GBP m" in out and "north_acute (provider)" in out and "2019/20" in out
    assert "north_shire [system total]" in out


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_run_out_writes_every_table(tmp_path, fmt):
    """--out writes positions, flows, events, summary and metadata."""
    out = tmp_path / "res"
    assert main(["run", EXAMPLE, "-n", "3", "--out", str(out), "--format", fmt]) == 0
    for name in ("positions", "flows", "events", "summary"):
        assert (out / f"{name}.{fmt}").exists()
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["replications"] == 3 and meta["units"] == "GBP million"
    read = pd.read_csv if fmt == "csv" else pd.read_parquet
    positions = read(out / f"positions.{fmt}")
    assert set(positions["replication"]) == {0, 1, 2}
    assert not list(out.glob(".*.tmp")), "no temporary files left behind"


def test_run_with_a_variant(capsys):
    """--variant applies the named overlay."""
    assert main(["run", EXAMPLE, "--variant", "high_demand"]) == 0
    assert "variant: high_demand" in capsys.readouterr().out


def test_schema_is_json_schema(capsys):
    """schema prints a JSON Schema naming every section."""
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert {"scenario", "organisations", "contracts", "allocations"} <= set(schema["properties"])


def test_examples_lists_the_shipped_files(capsys):
    """examples lists two_systems.yaml with its description."""
    assert main(["examples"]) == 0
    assert "two_systems.yaml" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "missing.yaml"], "file not found"),
        (["run", EXAMPLE, "--variant", "nope"], "unknown variant 'nope'"),
        (["run", EXAMPLE, "--replications", "0"], "expected a whole number >= 1"),
        (["run", EXAMPLE, "--seed", "x"], "expected a whole number"),
        (["validate"], "the following arguments are required"),
    ],
)
def test_user_errors_exit_2_with_one_message_and_no_traceback(args, expected):
    """Through the console script, a user's mistake prints a message naming it and exits 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "finsim.cli", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_scenario_file_exits_2_naming_file_line_and_path(tmp_path):
    """A file with an unknown provider id names the file, line, field path and a suggestion."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        f"extends: {EXAMPLE}\ncontracts:\n  - {{id: x, commissioner: ne_ccg, provider: north_acut, plan: {{elective: 5}}}}\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "finsim.cli", "validate", str(bad)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert f"{bad}:3: contracts[9].provider: unknown provider 'north_acut'" in proc.stderr
    assert "did you mean 'north_acute'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unwritable_out_folder_is_a_clear_error(tmp_path, capsys):
    """--out pointing at a file is refused with a message, exit 2."""
    target = tmp_path / "afile"
    target.write_text("x")
    assert main(["run", EXAMPLE, "--out", str(target)]) == 2
    assert "--out" in capsys.readouterr().err


def test_schema_into_a_closed_pipe_is_not_a_traceback():
    """`finsim schema | head -1`: the reader leaving early is not an error."""
    proc = subprocess.run(
        f"{sys.executable} -m finsim.cli schema | head -1",
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout.strip() == "{"
    assert "Traceback" not in proc.stderr


def test_run_report_then_report_and_chart_from_the_results_folder(tmp_path, capsys):
    """run --report writes a page; report and chart read the saved run without rerunning it."""
    out, page = tmp_path / "res", tmp_path / "run.html"
    assert main(["run", EXAMPLE, "-n", "4", "--out", str(out), "--report", str(page)]) == 0
    assert page.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert main(["report", str(out), "-o", str(tmp_path / "again.html")]) == 0
    assert (tmp_path / "again.html").stat().st_size > 10_000
    assert main(["report", str(out)]) == 0  # default: inside the results folder
    assert (out / "report.html").exists()
    picture = tmp_path / "fan.png"
    assert main(["chart", "fan", str(out), "--org", "north_shire", "-o", str(picture)]) == 0
    assert picture.read_bytes().startswith(b"\x89PNG")
    assert "Wrote the fan chart" in capsys.readouterr().out


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("waterfall", ["--org", "north_acute", "--fy", "2018/19"]),
        ("sankey", ["--by", "recurrence"]),
        ("distance", []),
    ],
)
def test_chart_runs_a_scenario_and_writes_the_picture(tmp_path, kind, extra):
    """chart KIND FILE runs the scenario and writes .svg (or .png, .pdf) by the name's suffix."""
    picture = tmp_path / f"{kind}.svg"
    assert main(["chart", kind, EXAMPLE, "-n", "3", "-o", str(picture), *extra]) == 0
    assert "<svg" in picture.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["report", "no_such_results"], "no_such_results: no such results folder"),
        (["chart", "fan", "no_such_results", "-o", "x.png"], "file not found"),
        (["chart", "fan", EXAMPLE, "-n", "2", "--org", "nope", "-o", "x.png"], "no organisation"),
        (["chart", "fan", EXAMPLE, "-o", "x.gif"], "name the picture .png, .svg or .pdf"),
        (["chart", "tornado", "examples", "-o", "x.png"], "give the scenario file"),
    ],
)
def test_report_and_chart_mistakes_exit_2_with_a_message(args, expected, tmp_path):
    """A missing results folder, unknown body or picture type: a message and exit 2, no traceback."""
    proc = subprocess.run(
        [sys.executable, "-m", "finsim.cli", *args], capture_output=True, text=True, cwd=ROOT
    )
    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    if args[0] == "report":
        assert proc.stderr.count("\n") == 1, "one line"


REGIONAL = str(ROOT / "examples" / "regional_control_total_2019.yaml")


def test_stress_report_and_the_charts_that_run_several_times(tmp_path):
    """stress --report compares variants; chart acceptance and tornado run the file themselves."""
    page = tmp_path / "stress.html"
    args = ["stress", REGIONAL, "--variants", "baseline,top_slice", "-n", "3"]
    assert main([*args, "--report", str(page)]) == 0
    assert "Scheme variants compared" in page.read_text(encoding="utf-8")
    heatmap, tornado = tmp_path / "acceptance.png", tmp_path / "tornado.pdf"
    assert main(["chart", "acceptance", REGIONAL, "-n", "3", "-o", str(heatmap)]) == 0
    assert heatmap.read_bytes().startswith(b"\x89PNG")
    assert (
        main(
            ["chart", "tornado", REGIONAL, "--variant", "rapid_savings", "-n", "3"]
            + ["--samples", "4", "--outcome", "system_deficit_mean", "-o", str(tornado)]
        )
        == 0
    )
    assert tornado.read_bytes().startswith(b"%PDF")
