"""``finsim report`` and ``finsim chart``: an HTML report of saved results and one chart
as a picture.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from finsim.cli.options import (
    _output_file,
)
from finsim.cli.run import _write_report
from finsim.errors import ScenarioError


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
    from finsim.charts.style import save_figure

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
        save_figure(fig, out, fmt, args.dpi)
    except OSError as exc:
        raise ScenarioError.single(
            "--output", f"cannot write the chart: {exc.strerror} ({exc.filename})", "(options)"
        ) from None
    print(f"Wrote the {args.kind} chart to {out}")
    return 0
