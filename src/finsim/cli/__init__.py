"""The ``finsim`` command line.

    finsim validate FILE
    finsim run FILE [--variant V] [--replications N] [--seed S] [--out DIR] [--resume]
                    [--report report.html]
    finsim stress FILE --variants A,B [--replications N] [--seed S] [--out DIR]
                    [--report report.html]
    finsim report RESULTS_DIR [-o report.html] [--scenario FILE]
    finsim chart KIND FILE_OR_RESULTS_DIR -o chart.png [--org X] [--fy 2018/19] ...
    finsim schema
    finsim examples
    finsim policy show YEAR | finsim policy diff YEAR YEAR   [--domain D] [--policy FILE]

A user's mistake (a bad file, a bad option) prints one clear message and exits
with status 2; never a traceback.

One module per group of subcommands: ``run``, ``stress``, ``chart`` (``report`` and
``chart``), ``info`` (``validate``, ``schema``, ``examples``), ``policy`` (``policy show``
and ``policy diff``); ``parser`` builds the
argparse parser and ``options`` checks options.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from finsim.charts import ChartError, PlotExtraMissing
from finsim.cli.chart import CHARTS
from finsim.cli.info import examples_dir
from finsim.cli.options import EXIT_USER_ERROR
from finsim.cli.parser import build_parser
from finsim.cli.stress import print_stress, stress_tables
from finsim.errors import ResultsError, ScenarioError
from finsim.report import surplus_table

__all__ = [
    "CHARTS",
    "EXIT_USER_ERROR",
    "build_parser",
    "examples_dir",
    "main",
    "print_stress",
    "stress_tables",
    "surplus_table",
]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``finsim`` console script; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage and the mistake (or --help)
        return exc.code if isinstance(exc.code, int) else EXIT_USER_ERROR
    try:
        return int(args.func(args))
    except (ScenarioError, ResultsError, ChartError, PlotExtraMissing) as exc:
        print(f"finsim: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("finsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `finsim schema | head`: the reader left; not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
