"""``finsim run``: simulate a scenario, print its surpluses, save its tables and report."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import pandas as pd

from finsim.cli.options import (
    _excel_file,
    _keep_tables,
    _lost_scheduler,
    _output_file,
    _output_folder,
    _scheduler,
)
from finsim.errors import ScenarioError
from finsim.report import surplus_table


def _cmd_run(args: argparse.Namespace) -> int:
    import finsim

    args.backend = args.backend or ("dask" if args.scheduler else "serial")
    scenario = finsim.load_scenario(args.file, variant=args.variant)
    out = _output_folder("--out", args.out) if args.out else None
    if args.report:
        _output_file("--report", args.report)
    if args.excel:
        _excel_file("--excel", args.excel)
    keep_tables = _keep_tables(args)
    client = _scheduler(args)
    try:
        results = finsim.run(
            scenario,
            replications=args.replications,
            seed=args.seed,
            chunk_size=args.chunk_size,
            backend=args.backend,
            workers=args.workers,
            client=client,
            antithetic=args.antithetic,
            keep_positions=args.keep_positions,
            keep_flows=args.keep_flows,
            keep_tables=keep_tables,
            out=out,
            resume=args.resume,
            force=args.force,
        )
    except KeyboardInterrupt:
        if out is None:
            print(
                "finsim: interrupted; nothing was saved (use --out DIR to keep finished chunks)",
                file=sys.stderr,
            )
        else:
            kept = [
                f" --{name.replace('_', '-')}"
                for name, value in (
                    ("keep_tables", keep_tables),
                    ("keep_flows", args.keep_flows),
                    ("keep_positions", args.keep_positions),
                )
                if value
            ]
            print(
                f"finsim: interrupted; finished chunks are saved in {out}/. To finish the run:\n"
                f"  finsim run {args.file} --replications {args.replications} --seed {args.seed}"
                + (f" --variant {args.variant}" if args.variant else "")
                + (f" --chunk-size {args.chunk_size}" if args.chunk_size else "")
                + "".join(kept)
                + f" --out {out} --resume",
                file=sys.stderr,
            )
        return 130
    except (OSError, TimeoutError) as exc:
        if client is None:
            raise
        raise _lost_scheduler(args.scheduler, exc) from None
    finally:
        if client is not None:
            client.close()
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.max_colwidth", 40
    ):
        n = results.replications
        what = (
            "one replication" if n == 1 else f"mean [5th, 95th percentile] over {n:,} replications"
        )
        print(f"{scenario.name} (variant: {scenario.variant}, seed {args.seed})")
        print(f"Surplus / (deficit), GBP m, {what}:")
        print(surplus_table(results).to_string())
    if out is not None:
        try:
            written = results.to_parquet(out) if args.format == "parquet" else results.to_csv(out)
        except OSError as exc:
            raise ScenarioError.single(
                "--out", f"cannot write results: {exc.strerror} ({exc.filename})", "(options)"
            ) from None
        print(f"Wrote {len(written)} tables to {out}/")
    if args.report:
        _write_report(args.report, results, scenario)
    if args.excel:
        _write_excel(args.excel, results)
    return 0


#: The tables ``finsim run --excel`` writes after the sheets of surplus by organisation and
#: year: those of the whole run. Per-replication tables (positions, flows...) run to millions
#: of cells, which openpyxl writes at some 20,000 a second: --out writes them.
EXCEL_TABLES = ("summary", "subsidies", "event_counts")


def _write_excel(path: str, results: Any) -> None:
    from finsim.export import to_excel

    try:
        written = to_excel(results, path, tables=EXCEL_TABLES)
    except OSError as exc:
        raise ScenarioError.single(
            "--excel", f"cannot write the workbook: {exc.strerror} ({exc.filename})", "(options)"
        ) from None
    print(
        f"Wrote the workbook to {written} (surplus by organisation and year, "
        f"{', '.join(EXCEL_TABLES)}; per-replication tables: --out)"
    )


def _write_report(path: str, results: Any, scenario: Any, **more: Any) -> None:
    from finsim.report import write_report

    try:
        written = write_report(path, results, scenario, **more)
    except OSError as exc:
        raise ScenarioError.single(
            "--report", f"cannot write the report: {exc.strerror} ({exc.filename})", "(options)"
        ) from None
    print(f"Wrote the report to {written}")
