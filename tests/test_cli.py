"""The finsim command: readable output, tables written, user errors exit 2 without a traceback."""

from __future__ import annotations

import json
import os
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


# -- issue 14: one clear error, exit 2, for each mistake the fuzzer found ----------------------
def fails_clearly(capsys, args: list[str], expected: str) -> str:
    """``finsim ARGS`` exits 2 with one message holding ``expected``, and no traceback."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err, err
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize(
    "address, expected",
    [
        ("nonsense", "expected the address of a Dask scheduler, such as tcp://"),
        ("tcp://host", "expected the address of a Dask scheduler"),
        ("tcp://host:99999", "port 1 to 65535"),
        ("http://host:8786", "scheme tcp, tls"),
        ("tcp://a b:8786", "expected the address of a Dask scheduler"),
    ],
)
def test_a_malformed_scheduler_address_is_refused_before_running(capsys, address, expected):
    fails_clearly(capsys, ["run", EXAMPLE, "--scheduler", address], expected)


def test_an_unreachable_scheduler_is_one_clear_error(capsys, monkeypatch):
    """Nothing listens on port 1: after the timeout, a message naming the address."""
    from finsim.cli import options

    monkeypatch.setattr(options, "SCHEDULER_TIMEOUT", 1)
    err = fails_clearly(
        capsys, ["run", EXAMPLE, "--scheduler", "tcp://127.0.0.1:1"], "cannot reach a Dask"
    )
    assert "tcp://127.0.0.1:1" in err and "is it running" in err


def test_a_scheduler_with_another_backend_is_refused(capsys):
    fails_clearly(
        capsys,
        ["run", EXAMPLE, "--backend", "processes", "--scheduler", "tcp://127.0.0.1:8786"],
        "not --backend processes",
    )


def test_a_scheduler_lost_during_the_run_is_one_clear_error(capsys, monkeypatch):
    """A connection that drops mid-run (an OSError from the client) is a message, not a
    traceback."""
    import finsim
    from finsim.cli import run

    class Client:
        def close(self) -> None:
            pass

    def lost(*args, **kwargs):
        raise OSError("Timed out during handshake while connecting to tcp://10.0.0.5:8786")

    monkeypatch.setattr(run, "_scheduler", lambda args: Client())
    monkeypatch.setattr(finsim, "run", lost)
    fails_clearly(
        capsys, ["run", EXAMPLE, "--scheduler", "tcp://10.0.0.5:8786"], "lost the Dask scheduler"
    )


def test_stress_out_naming_an_existing_file_is_refused_before_running(capsys, tmp_path):
    target = tmp_path / "afile"
    target.write_text("keep me")
    fails_clearly(
        capsys,
        ["stress", EXAMPLE, "--variants", "baseline", "-n", "2", "--out", str(target)],
        "exists and is not a folder",
    )
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("dpi", ["100000", "0", "9", "1201"])
def test_chart_dpi_out_of_range_is_refused(capsys, tmp_path, dpi):
    fails_clearly(
        capsys,
        ["chart", "fan", EXAMPLE, "-n", "2", "--dpi", dpi, "-o", str(tmp_path / "x.png")],
        "expected dots per inch from 10 to 1,200",
    )


def special_paths(tmp_path: Path, suffix: str) -> dict[str, Path]:
    """Paths that exist and are not regular files: a link to a device, a named pipe, a
    folder."""
    device = tmp_path / f"null{suffix}"
    device.symlink_to(os.devnull)
    pipe = tmp_path / f"pipe{suffix}"
    os.mkfifo(pipe)
    folder = tmp_path / f"folder{suffix}"
    folder.mkdir()
    return {"a character device": device, "a named pipe": pipe, "a folder": folder}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_report_and_chart_never_replace_what_is_not_a_regular_file(capsys, tmp_path):
    """--report and chart -o refuse a device, a named pipe or a folder before running, and
    leave it as it was; finsim.report.write_report refuses it too."""
    import finsim
    from finsim.report import write_report

    one = finsim.run(finsim.load_scenario(EXAMPLE), replications=1)
    pages, pictures = special_paths(tmp_path, ".html"), special_paths(tmp_path, ".png")
    for kind, page in pages.items():
        before = os.lstat(page)
        fails_clearly(capsys, ["run", EXAMPLE, "--report", str(page)], f"exists and is {kind}")
        fails_clearly(
            capsys,
            ["stress", EXAMPLE, "--variants", "baseline", "-n", "2", "--report", str(page)],
            f"exists and is {kind}",
        )
        with pytest.raises(FileExistsError, match=f"exists and is {kind}"):
            write_report(page, one)
        after = os.lstat(page)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
        picture = pictures[kind]
        before = os.lstat(picture)
        fails_clearly(
            capsys,
            ["chart", "fan", EXAMPLE, "-n", "2", "-o", str(picture)],
            f"exists and is {kind}",
        )
        after = os.lstat(picture)
        assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert Path(os.devnull).exists() and not Path(os.devnull).is_file()


def test_a_regular_file_or_a_new_path_is_written(tmp_path):
    """The check refuses only what is not a file: an old report is replaced, a new path made."""
    old = tmp_path / "old.html"
    old.write_text("old")
    assert main(["run", EXAMPLE, "--report", str(old)]) == 0
    assert old.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert main(["run", EXAMPLE, "--report", str(tmp_path / "new" / "r.html")]) == 0


def test_keep_tables_writes_every_table_above_200_replications(tmp_path):
    """Above 200 replications a run keeps no mechanism tables unless --keep-tables asks."""
    lean, kept = tmp_path / "lean", tmp_path / "kept"
    assert main(["run", EXAMPLE, "-n", "201", "--out", str(lean)]) == 0
    assert main(["run", EXAMPLE, "-n", "201", "--out", str(kept), "--keep-tables"]) == 0
    assert not (lean / "contracts.csv").exists()
    contracts = pd.read_csv(kept / "contracts.csv")
    assert set(contracts["replication"]) == set(range(201))
    assert json.loads((kept / "manifest.json").read_text())["keep_tables"] is True


def test_the_report_keeps_what_its_waterfall_needs_or_says_why_it_is_left_out(tmp_path):
    """run --report keeps the mechanism tables (here at 300 replications), so the page has
    its bridges; the report of a run saved without them leaves the bridges out with a note
    saying how to keep them, never a bridge without its drivers."""
    import finsim

    page = tmp_path / "run.html"
    assert main(["run", EXAMPLE, "-n", "300", "--report", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "Bridge from plan to outturn for north_shire" in text
    assert "bridges from plan to outturn are not drawn" not in text
    saved = tmp_path / "lean"
    finsim.run(finsim.load_scenario(EXAMPLE), replications=5, keep_tables=False, out=saved)
    assert main(["report", str(saved), "-o", str(tmp_path / "lean.html")]) == 0
    text = (tmp_path / "lean.html").read_text(encoding="utf-8")
    assert "bridges from plan to outturn are not drawn" in text
    assert "finsim run --keep-tables" in text
    assert "Bridge from plan to outturn for" not in text


def test_stress_refuses_a_variant_named_twice(capsys):
    """Comparing a variant with itself by naming it twice is a mistake, said before running."""
    fails_clearly(
        capsys, ["stress", EXAMPLE, "--variants", "baseline,high_demand,baseline"], "twice"
    )
