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

    scenario = finsim.load_scenario(args.file, variant=args.variant)
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not out.is_dir():
        raise ScenarioError.single("--out", f"'{out}' exists and is not a folder", "(options)")
    try:
        results = finsim.run(
            scenario,
            replications=args.replications,
            seed=args.seed,
            chunk_size=args.chunk_size,
            backend=args.backend,
            workers=args.workers,
            client=args.scheduler,
            antithetic=args.antithetic,
            keep_positions=args.keep_positions,
            keep_flows=args.keep_flows,
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
            print(
                f"finsim: interrupted; finished chunks are saved in {out}/. To finish the run:\n"
                f"  finsim run {args.file} --replications {args.replications} --seed {args.seed}"
                + (f" --variant {args.variant}" if args.variant else "")
                + (f" --chunk-size {args.chunk_size}" if args.chunk_size else "")
                + f" --out {out} --resume",
                file=sys.stderr,
            )
        return 130
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

    scenario = finsim.load_scenario(args.file)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()] if args.variants else None
    for name in variants or []:
        scenario.with_variant(name)  # an unknown variant is an error before anything runs
    result = finsim.stress(
        scenario,
        variants,
        replications=args.replications,
        seed=args.seed,
        chunk_size=args.chunk_size,
        backend=args.backend,
        workers=args.workers,
        antithetic=args.antithetic,
    )
    names = result.variants
    with pd.option_context(
        "display.width", 200, "display.max_columns", 20, "display.max_rows", 200
    ):
        print(
            f"{scenario.name}: {', '.join(names)} on common random numbers, {args.replications:,} replications, seed {args.seed}"
        )
        counts = result.acceptance_counts()
        if len(counts):
            print("\nAcceptance of control totals:")
            print(counts.to_string(index=False))
        meeting = result.meeting()
        meeting = meeting[meeting["level"].isin(["system", "region"])]
        if len(meeting):
            print(
                "\nProbability of meeting the control total (95% Wilson interval), systems and regions:"
            )
            shown = meeting.assign(
                p=meeting.apply(
                    lambda r: f"{r.p_met:.2f} [{r.p_met_low:.2f}, {r.p_met_high:.2f}]", axis=1
                )
            )
            print(
                shown.pivot_table(
                    index=["level", "name", "fy"], columns="variant", values="p", aggfunc="first"
                ).to_string()
            )
        risk = result.system_risk()
        es = [c for c in risk.columns if c.startswith("deficit_es")][0]
        print(f"\nExpected shortfall of the deficit ({es.removeprefix('deficit_es')}%), GBP m:")
        print(
            risk.pivot_table(index=["level", "name", "fy"], columns="variant", values=es)
            .round(1)
            .to_string()
        )
        if len(names) >= 2:
            diff = result.difference(names[0], names[1])
            total = diff.groupby("fy")[["mean"]].sum()
            print(
                f"\n{names[1]} minus {names[0]}, paired by replication (GBP m surplus), largest changes:"
            )
            top = diff.reindex(diff["mean"].abs().sort_values(ascending=False).index).head(10)
            print(top[["fy", "org", "mean", "se"]].round(3).to_string(index=False))
            print(total.round(2).to_string())
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        tables = {
            "meeting": result.meeting(),
            "incentives": result.incentives(),
            "system_risk": result.system_risk(),
            "acceptance": result.acceptance(),
            "subsidies": result.subsidies(),
            "underlying": result.underlying(),
        }
        from finsim.results import atomic_write

        for name, frame in tables.items():
            atomic_write(out / f"{name}.csv", lambda tmp, f=frame: f.to_csv(tmp, index=False))
        print(f"Wrote {len(tables)} tables to {out}/")
    if args.report:
        first = result.results[names[0]]
        _write_report(args.report, first, scenario.with_variant(names[0]), stress=result)
    return 0


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
    p.add_argument("--backend", choices=["serial", "processes", "dask"], default="serial")
    p.add_argument("--workers", type=_positive_int, default=None)
    p.add_argument("--scheduler", help="address of a Dask scheduler (with --backend dask)")
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
    p.add_argument("--report", metavar="FILE", help="also write an HTML report of the run")
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
    p.add_argument("--out", help="folder to write the comparison tables to")
    p.add_argument(
        "--report", metavar="FILE", help="also write an HTML report comparing the variants"
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
    p.add_argument("--dpi", type=_positive_int, default=120)
    p.set_defaults(func=_cmd_chart)

    p = sub.add_parser("schema", help="print the JSON Schema of the scenario format")
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("examples", help="list the example scenarios")
    p.set_defaults(func=_cmd_examples)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``finsim`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
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
