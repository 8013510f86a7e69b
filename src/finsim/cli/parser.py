"""The ``finsim`` command's argparse parser: every subcommand and its options."""

from __future__ import annotations

import argparse

from finsim import __version__
from finsim.cli.app import add_app_parser
from finsim.cli.chart import CHARTS, _cmd_chart, _cmd_report
from finsim.cli.info import _cmd_examples, _cmd_schema, _cmd_validate
from finsim.cli.options import (
    DPI_RANGE,
    _dpi,
    _non_negative_int,
    _positive_int,
)
from finsim.cli.policy import add_policy_parser
from finsim.cli.run import _cmd_run
from finsim.cli.stress import _cmd_stress
from finsim.cli.workbook import add_workbook_parsers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finsim", description="Simulate the money of the English NHS over financial years."
    )
    parser.add_argument("--version", action="version", version=f"finsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a scenario file and describe it")
    p.add_argument("file")
    p.add_argument(
        "--explain",
        action="store_true",
        help="show each national setting's value and where it came from (the scenario's "
        "policy, with sources and confidence marks, or the file's own line)",
    )
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("run", help="run a scenario and print a summary table")
    p.add_argument("file")
    p.add_argument("--variant", help="apply a variant declared in the file")
    p.add_argument("--replications", "-n", type=_positive_int, default=1)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--chunk-size", type=_positive_int, default=None)
    p.add_argument(
        "--backend",
        choices=["serial", "processes", "dask"],
        default=None,
        help="where the chunks run: one after another, on local processes, or on Dask "
        "(default: serial; dask with --scheduler)",
    )
    p.add_argument("--workers", type=_positive_int, default=None)
    p.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="address of a Dask scheduler to run on, e.g. tcp://10.0.0.5:8786 (implies "
        "--backend dask)",
    )
    p.add_argument(
        "--antithetic", action="store_true", help="pair replications with mirrored shocks"
    )
    p.add_argument("--out", help="folder that receives each finished chunk, then the result tables")
    p.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    p.add_argument(
        "--force", action="store_true", help="reuse an --out folder that holds something else"
    )
    p.add_argument("--format", choices=["csv", "parquet"], default="csv")
    p.add_argument(
        "--keep-positions",
        action="store_true",
        default=None,
        help="keep every replication's positions and events (default: up to 2,000 "
        "replications; larger runs keep a streaming summary)",
    )
    p.add_argument(
        "--keep-flows",
        action="store_true",
        default=None,
        help="keep every flow between bodies (default: up to 1,000 replications)",
    )
    p.add_argument(
        "--keep-tables",
        action="store_true",
        default=None,
        help="keep the mechanisms' tables (contracts, CQUIN, savings, allocations...) of every "
        "replication, which --out writes and the waterfall needs (default: up to 200 "
        "replications, and up to 1,000 with --report)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="also write an HTML report of the run (keeps the tables its waterfall needs, up "
        "to 1,000 replications)",
    )
    p.add_argument(
        "--excel",
        metavar="FILE",
        help="also write an Excel workbook (.xlsx): surplus by organisation and year as in a "
        "plan template, then the tables, organisations named ('excel' extra)",
    )
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("stress", help="compare variants on common random numbers")
    p.add_argument("file")
    p.add_argument(
        "--variants", help="comma-separated variants (default: the base and all variants)"
    )
    p.add_argument("--replications", "-n", type=_positive_int, default=1000)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--chunk-size", type=_positive_int, default=None)
    p.add_argument("--backend", choices=["serial", "processes", "dask"], default="serial")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.add_argument("--antithetic", action="store_true")
    p.add_argument(
        "--keep-tables",
        action="store_true",
        default=None,
        help="keep each variant's mechanism tables of every replication (default: up to 200 "
        "replications, and up to 1,000 with --report)",
    )
    p.add_argument("--out", help="folder to write the comparison tables to")
    p.add_argument(
        "--report",
        metavar="FILE",
        help="also write an HTML report comparing the variants (keeps the tables its "
        "waterfalls need, up to 1,000 replications)",
    )
    p.add_argument(
        "--excel",
        metavar="FILE",
        help="also write an Excel workbook (.xlsx) of the comparison: each variant against the "
        "first, surplus by organisation and year, the comparison tables ('excel' extra)",
    )
    p.set_defaults(func=_cmd_stress)

    p = sub.add_parser(
        "report", help="write an HTML report of a run saved with finsim run FILE --out DIR"
    )
    p.add_argument("results", metavar="RESULTS_DIR")
    p.add_argument(
        "--output", "-o", metavar="FILE", help="the report (default RESULTS_DIR/report.html)"
    )
    p.add_argument(
        "--scenario", metavar="FILE", help="the scenario file, if it has moved since the run"
    )
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser(
        "chart",
        help="draw one chart of a scenario (run here) or of a results folder",
        description="Draw one chart: fan (surplus across replications), waterfall (plan to "
        "outturn), sankey (who paid whom), distance (from target), acceptance (of control "
        "totals, by variant) or tornado (what drives an outcome).",
    )
    p.add_argument("kind", choices=list(CHARTS))
    p.add_argument("source", metavar="FILE_OR_RESULTS_DIR")
    p.add_argument("--output", "-o", required=True, metavar="FILE", help=".png, .svg or .pdf")
    p.add_argument("--org", default="england", help="body, system or region id (fan, waterfall)")
    p.add_argument("--fy", help="financial year, e.g. 2018/19 (default: the last)")
    p.add_argument("--by", help="fan: year or month; sankey: category, recurrence or kind")
    p.add_argument("--group", default="auto", help="sankey: auto, org, system or org_type")
    p.add_argument("--replication", type=_non_negative_int, help="waterfall: one replication")
    p.add_argument("--stream", help="distance: one allocation stream (default: all)")
    p.add_argument("--outcome", help="tornado: the outcome (default: the first)")
    p.add_argument("--samples", type=_positive_int, default=16, help="tornado: sample points")
    p.add_argument("--variants", help="acceptance: comma-separated variants (default: all)")
    p.add_argument("--variant", help="apply a variant declared in the file")
    p.add_argument("--replications", "-n", type=_positive_int, default=100)
    p.add_argument("--seed", type=_non_negative_int, default=0)
    p.add_argument("--scenario", metavar="FILE", help="results folder: its scenario file")
    p.add_argument(
        "--dpi",
        type=_dpi,
        default=120,
        help=f"resolution of a .png, dots per inch ({DPI_RANGE[0]} to {DPI_RANGE[1]:,})",
    )
    p.set_defaults(func=_cmd_chart)

    p = sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("examples", help="list the example scenarios")
    p.set_defaults(func=_cmd_examples)

    add_policy_parser(sub)
    add_workbook_parsers(sub)
    add_app_parser(sub)
    return parser
