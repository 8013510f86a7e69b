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

A user's mistake (a bad file, a bad option) prints one clear message and exits
with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from finsim import __version__
from finsim.charts import ChartError, PlotExtraMissing
from finsim.errors import ResultsError, ScenarioError
from finsim.report import surplus_table

__all__ = ["build_parser", "main", "surplus_table"]

EXIT_USER_ERROR = 2
#: A Dask scheduler's address: ``tcp://host:port`` (or tls, ws, wss, ucx; the scheme may be
#: left out), the host a name, an IPv4 address or an IPv6 address in brackets.
SCHEDULER_ADDRESS = re.compile(
    r"^(?:(?P<scheme>[a-z]+)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(?P<port>\d{1,5})$"
)
SCHEDULER_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
#: Seconds to wait for a Dask scheduler to answer before saying it cannot be reached.
SCHEDULER_TIMEOUT = 10
#: ``finsim chart --dpi`` bounds: below, a picture no one can read; above, one that takes
#: gigabytes to draw.
DPI_RANGE = (10, 1200)


def _option_error(option: str, message: str) -> ScenarioError:
    return ScenarioError.single(option, message, "(options)")


def _output_file(option: str, path: str | Path) -> Path:
    """``path`` checked before anything runs: a new path or a regular file (which is
    replaced), never a folder, a device such as /dev/null or a named pipe."""
    from finsim.results import check_output_path
    from finsim.scenario.yamlio import NUL_IN_PATH, shown_path

    try:
        return check_output_path(path)
    except OSError as exc:
        raise _option_error(option, f"'{shown_path(path)}' {exc.strerror}") from None
    except ValueError:
        raise _option_error(option, f"'{shown_path(path)}': {NUL_IN_PATH}") from None


def _output_folder(option: str, path: str | Path) -> Path:
    """``path`` checked before anything runs: a folder, or a new path to make one at."""
    from finsim.scenario.yamlio import NUL_IN_PATH, os_problem, shown_path

    folder = Path(path)
    try:
        clash = folder.exists() and not folder.is_dir()
    except OSError as exc:
        raise _option_error(option, f"'{shown_path(folder)}': {os_problem(exc)}") from None
    except ValueError:
        raise _option_error(option, f"'{shown_path(folder)}': {NUL_IN_PATH}") from None
    if clash:
        raise _option_error(option, f"'{shown_path(folder)}' exists and is not a folder")
    return folder


def _scheduler(args: argparse.Namespace) -> Any:
    """A client of the Dask scheduler at ``--scheduler`` (None without one), its address
    checked and the scheduler reached before the run starts."""
    address = args.scheduler
    if address is None:
        return None
    if args.backend != "dask":
        raise _option_error(
            "--scheduler",
            f"a Dask scheduler runs the chunks of --backend dask, not --backend {args.backend}: "
            "leave out --backend (or give --backend dask) to use it",
        )
    match = SCHEDULER_ADDRESS.match(address)
    if (
        match is None
        or (match["scheme"] is not None and match["scheme"] not in SCHEDULER_SCHEMES)
        or not 1 <= int(match["port"]) <= 65535
    ):
        raise _option_error(
            "--scheduler",
            f"expected the address of a Dask scheduler, such as tcp://10.0.0.5:8786 "
            f"(scheme {', '.join(SCHEDULER_SCHEMES)}; port 1 to 65535), got {address!r}",
        )
    try:
        from distributed import Client
    except ImportError:
        raise _option_error(
            "--backend", "the dask backend needs the 'dask' extra: pip install 'finsim[dask]'"
        ) from None
    try:
        return Client(address, timeout=SCHEDULER_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        raise _option_error(
            "--scheduler",
            f"cannot reach a Dask scheduler at {address} within {SCHEDULER_TIMEOUT} s "
            f"({exc}): is it running, and is the address right?",
        ) from None


def _lost_scheduler(address: str, exc: BaseException) -> ScenarioError:
    return _option_error(
        "--scheduler",
        f"lost the Dask scheduler at {address} during the run ({exc}); run again once it is "
        "back (with --out DIR, finished chunks are kept and --resume runs only the rest)",
    )


def examples_dir() -> Path | None:
    """The folder of shipped example scenarios (in a source checkout or editable install)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "examples", Path.cwd() / "examples"):
        if candidate.is_dir():
            return candidate
    return None


def _cmd_validate(args: argparse.Namespace) -> int:
    import finsim

    scenario = finsim.load_scenario(args.file)
    calendar = scenario.calendar
    orgs = scenario.model.organisations  # type: ignore[attr-defined]
    print(f"{args.file}: valid")
    print(
        f"  {scenario.name}: {calendar.labels[0]} to {calendar.labels[-1]} ({calendar.n_years} years)"
    )
    print(
        f"  {len(orgs.regions)} regions, {len(orgs.systems)} systems, "
        f"{len(orgs.commissioners)} commissioners, {len(orgs.providers)} providers"
    )
    sections = [
        s for s in type(scenario.model).model_fields if getattr(scenario.model, s) is not None
    ]
    mechanisms = [
        s
        for s in sections
        if s not in {"extends", "scenario", "organisations", "variants", "uncertain"}
    ]
    print(f"  mechanisms: {', '.join(mechanisms) or '(none)'}")
    print(f"  variants: {', '.join(scenario.variants) or '(none)'}")
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    import finsim
    from finsim.runner import FLOWS_MAX_REPLICATIONS

    args.backend = args.backend or ("dask" if args.scheduler else "serial")
    scenario = finsim.load_scenario(args.file, variant=args.variant)
    out = _output_folder("--out", args.out) if args.out else None
    if args.report:
        _output_file("--report", args.report)
    keep_tables = args.keep_tables
    if keep_tables is None and args.report and args.replications <= FLOWS_MAX_REPLICATIONS:
        # the report's bridge from plan to outturn measures its drivers from the mechanisms'
        # tables (kept by default only up to 200 replications) and the flows (up to 1,000)
        keep_tables = True
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
    return 0


def _write_report(path: str, results: Any, scenario: Any, **more: Any) -> None:
    from finsim.report import write_report

    try:
        written = write_report(path, results, scenario, **more)
    except OSError as exc:
        raise ScenarioError.single(
            "--report", f"cannot write the report: {exc.strerror} ({exc.filename})", "(options)"
        ) from None
    print(f"Wrote the report to {written}")


def _cmd_stress(args: argparse.Namespace) -> int:
    import finsim
    from finsim.runner import FLOWS_MAX_REPLICATIONS

    scenario = finsim.load_scenario(args.file)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    for name in variants or []:
        scenario.with_variant(name)  # an unknown variant is an error before anything runs
    if variants is not None and len(set(variants)) < len(variants):
        twice = sorted({v for v in variants if variants.count(v) > 1})
        raise _option_error("--variants", f"each variant once, got {', '.join(twice)} twice")
    out = _output_folder("--out", args.out) if args.out else None
    if args.report:
        _output_file("--report", args.report)
    keep_tables = args.keep_tables
    if keep_tables is None and args.report and args.replications <= FLOWS_MAX_REPLICATIONS:
        keep_tables = True  # the report's bridges from plan to outturn, as for finsim run
    result = finsim.stress(
        scenario,
        variants,
        replications=args.replications,
        seed=args.seed,
        chunk_size=args.chunk_size,
        backend=args.backend,
        workers=args.workers,
        antithetic=args.antithetic,
        keep_tables=keep_tables,
    )
    print_stress(result, scenario.name, args.replications, args.seed)
    if out is not None:
        tables = stress_tables(result)
        from finsim.results import atomic_write

        try:
            out.mkdir(parents=True, exist_ok=True)
            for name, frame in tables.items():
                atomic_write(out / f"{name}.csv", lambda tmp, f=frame: f.to_csv(tmp, index=False))
        except OSError as exc:
            raise _option_error(
                "--out", f"cannot write the tables: {exc.strerror} ({exc.filename})"
            ) from None
        print(f"Wrote {len(tables)} tables to {out}/")
    if args.report:
        names = result.variants
        first = result.results[names[0]]
        _write_report(args.report, first, scenario.with_variant(names[0]), stress=result)
    return 0


def stress_tables(result: Any) -> dict[str, pd.DataFrame]:
    """The comparison tables ``finsim stress --out`` writes, float noise below 1e-9 GBP m
    (a thousandth of a penny) cleaned to 0 and money to nine decimals."""
    tables = {
        "meeting": result.meeting(),
        "incentives": result.incentives(),
        "system_risk": result.system_risk(),
        "acceptance": result.acceptance(),
        "subsidies": result.subsidies(),
        "underlying": result.underlying(),
    }
    return {name: _clean(frame, 9) for name, frame in tables.items()}


def _clean(frame: pd.DataFrame, decimals: int) -> pd.DataFrame:
    """``frame`` with its float columns rounded to ``decimals`` places and -0.0 made 0.0, so
    that float noise (2.17e-19, -0.000) prints as the 0 it is."""
    floats = frame.select_dtypes(include="float").columns
    if not len(floats):
        return frame
    cleaned = frame.copy()
    cleaned[floats] = cleaned[floats].round(decimals) + 0.0
    return cleaned


#: Paired differences shown per comparison by ``finsim stress``.
LARGEST_CHANGES = 10


def print_stress(result: Any, scenario_name: str, replications: int, seed: int) -> None:
    """Print the main comparison tables of a stress test, each labelled with what it
    measures, variants in the order they were asked for."""
    names = result.variants
    economy = next(iter(result.results.values())).economy
    kinds = dict(zip(economy.ids, economy.org_table()["org_type"], strict=True))

    def label(org: str) -> str:
        return f"{org} (own account)" if kinds.get(org) in ("system", "region") else org

    def by_variant(frame: pd.DataFrame, values: str) -> pd.DataFrame:
        wide = frame.pivot_table(
            index=["level", "name", "fy"], columns="variant", values=values, aggfunc="first"
        )
        return wide.reindex(columns=[n for n in names if n in wide.columns])

    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.max_rows", 200
    ):
        print(
            f"{scenario_name}: {', '.join(names)} on common random numbers, "
            f"{replications:,} replications, seed {seed}"
        )
        counts = result.acceptance_counts()
        if len(counts):
            print(
                "\nAcceptance of control totals (bodies, and systems whose every member accepts):"
            )
            print(counts.to_string(index=False))
        meeting = result.meeting()
        meeting = meeting[meeting["level"].isin(["system", "region"])]
        if len(meeting):
            print(
                "\nProbability of meeting the control total, surplus before incentive funding "
                "(95% Wilson interval), systems and regions:"
            )
            shown = meeting.assign(
                p=[
                    f"{p:.2f} [{lo:.2f}, {hi:.2f}]"
                    for p, lo, hi in zip(
                        meeting["p_met"], meeting["p_met_low"], meeting["p_met_high"], strict=True
                    )
                ]
            )
            print(by_variant(shown, "p").to_string())
        incentives = result.incentives()
        if len(incentives):
            money = ["allocation", "earned_mean", "lost_mean", "redistributed_mean"]
            totals = incentives.groupby("variant", sort=False)[money].sum()
            print(
                "\nIncentive funding earned and lost, GBP m (mean over replications, summed over "
                "the bodies with an allocation; lost = allocation - earned, before "
                "redistribution):"
            )
            print(_clean(totals.reindex(names), 1).to_string())
        risk = result.system_risk()
        if len(risk):
            es = [c for c in risk.columns if c.startswith("deficit_es")][0]
            level = es.removeprefix("deficit_es")
            print(
                f"\nExpected shortfall ({level}%) of the deficit before incentive funding, GBP m "
                f"(the mean deficit of the worst {100 - float(level):g}% of replications; "
                "negative: a surplus):"
            )
            print(_clean(by_variant(risk, es), 1).to_string())
        base = names[0]
        for other in names[1:]:
            diff = result.difference(base, other)
            diff = _clean(diff, 3)
            moved = diff[(diff["mean"] != 0) | (diff["se"] != 0)]
            top = moved.reindex(moved["mean"].abs().sort_values(ascending=False).index)
            top = top.head(LARGEST_CHANGES).assign(org=lambda t: t["org"].map(label))
            head = f"\n{other} minus {base}, paired by replication, GBP m (mean and standard error)"
            if not len(top):
                print(f"{head}: no body's surplus changes.")
            else:
                some = f", the {len(top)} largest of {len(moved)}" if len(moved) > len(top) else ""
                print(
                    f"{head}: each body's surplus after incentive funding that changes, "
                    f"largest first{some}:"
                )
                print(top[["fy", "org", "mean", "se"]].to_string(index=False))
            total = _clean(result.difference(base, other, level="england"), 2)
            print("Total over every body:")
            print(total[["fy", "mean", "se"]].to_string(index=False))


def _cmd_report(args: argparse.Namespace) -> int:
    import finsim
    from finsim.report import load_run

    given = finsim.load_scenario(args.scenario) if args.scenario else None
    scenario, results = load_run(args.results, given)
    out = args.output or str(Path(args.results) / "report.html")
    _write_report(out, results, scenario)
    return 0


#: Chart kinds of ``finsim chart`` and what each needs: one run, a stress test or a
#: sensitivity analysis.
CHARTS = {
    "fan": "run",
    "waterfall": "run",
    "sankey": "run",
    "distance": "run",
    "acceptance": "stress",
    "tornado": "sensitivity",
}


def _cmd_chart(args: argparse.Namespace) -> int:
    import finsim
    from finsim import charts
    from finsim.results import atomic_write

    out = Path(args.output)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "svg", "pdf"):
        raise ScenarioError.single(
            "--output", f"'{out}': name the picture .png, .svg or .pdf", "(options)"
        )
    if not out.parent.is_dir():
        raise ScenarioError.single("--output", f"no folder '{out.parent}' to write to", "(options)")
    _output_file("--output", out)
    source = Path(args.source)
    needs = CHARTS[args.kind]
    if source.is_dir():
        if needs != "run":
            raise ScenarioError.single(
                "(file)",
                f"a {args.kind} chart runs the scenario several times: give the scenario file, "
                "not a results folder",
                str(source),
            )
        from finsim.report import load_results

        given = finsim.load_scenario(args.scenario) if args.scenario else None
        results = load_results(source, given)
    else:
        scenario = finsim.load_scenario(source, variant=args.variant)
        options = {"replications": args.replications, "seed": args.seed}
        if needs == "run":
            results = finsim.run(scenario, progress=False, **options)
        elif needs == "stress":
            variants = [v.strip() for v in (args.variants or "").split(",") if v.strip()]
            stressed = finsim.stress(scenario, variants or None, progress=False, **options)
        else:
            analysis = finsim.sensitivity(scenario, samples=args.samples, **options)
    by = args.by
    if args.kind == "fan":
        fig = charts.fan_chart(results, args.org, by=by or "year")
    elif args.kind == "waterfall":
        fig = charts.waterfall(results, args.org, args.fy, replication=args.replication)
    elif args.kind == "sankey":
        fig = charts.sankey(results, args.fy, by=by or "category", group=args.group)
    elif args.kind == "distance":
        fig = charts.distance_from_target(results, args.fy, stream=args.stream)
    elif args.kind == "acceptance":
        fig = charts.acceptance_heatmap(stressed)
    else:
        fig = charts.tornado(analysis, args.outcome)
    try:
        atomic_write(out, lambda tmp: fig.savefig(tmp, format=fmt, dpi=args.dpi))
    except OSError as exc:
        raise ScenarioError.single(
            "--output", f"cannot write the chart: {exc.strerror} ({exc.filename})", "(options)"
        ) from None
    print(f"Wrote the {args.kind} chart to {out}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from finsim.scenario.validate import scenario_model

    print(json.dumps(scenario_model().model_json_schema(), indent=2))
    return 0


def _cmd_examples(args: argparse.Namespace) -> int:
    import finsim

    folder = examples_dir()
    if folder is None:
        print("No examples folder found (run from a finsim source checkout).", file=sys.stderr)
        return EXIT_USER_ERROR
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.py")]):
        if path.suffix == ".py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            about = f"{doc.splitlines()[0] if doc else 'a script'} (run: python {path})"
        else:
            try:
                scenario = finsim.load_scenario(path)
                about = scenario.description or scenario.name
            except ScenarioError:
                about = "(a base or fragment file)"
        print(f"{path}\n    {about}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def _dpi(text: str) -> int:
    low, high = DPI_RANGE
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise argparse.ArgumentTypeError(
            f"expected dots per inch from {low} to {high:,} (120 draws a screen's chart, 300 "
            f"a printed one), got {value:,}"
        )
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="finsim", description="Simulate the money of the English NHS over financial years."
    )
    parser.add_argument("--version", action="version", version=f"finsim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a scenario file and describe it")
    p.add_argument("file")
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
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
