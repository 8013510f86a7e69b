"""The ``finsim`` command line.

    finsim validate FILE
    finsim run FILE [--variant V] [--replications N] [--seed S] [--out DIR] [--resume]
    finsim stress FILE --variants A,B [--replications N] [--seed S] [--out DIR]
    finsim schema
    finsim examples

A user's mistake (a bad file, a bad option) prints one clear message and exits
with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from finsim import __version__
from finsim.errors import ScenarioError
from finsim.results import Results

EXIT_USER_ERROR = 2


def examples_dir() -> Path | None:
    """The folder of shipped example scenarios (in a source checkout or editable install)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[2] / "examples", Path.cwd() / "examples"):
        if candidate.is_dir():
            return candidate
    return None


def surplus_table(results: Results) -> pd.DataFrame:
    """Surplus / (deficit) by organisation and year, GBP m to one decimal place.

    With one replication, the values; with more, the mean and the 90% interval.
    """
    summary = results.summary()
    rows = summary[summary["level"].isin(["org", "system", "region", "england"])]
    rows = rows[~((rows["level"] == "org") & rows["org_type"].isin(["region", "system"]))]
    label = np.where(
        rows["level"] == "org",
        rows["name"] + " (" + rows["org_type"] + ")",
        rows["name"] + " [" + rows["level"] + " total]",
    )
    cell: list[str]
    if results.replications == 1:
        cell = [f"{round(v, 1) + 0.0:,.1f}" for v in rows["surplus_mean"]]
    else:
        cell = [
            f"{round(m, 1) + 0.0:,.1f} [{round(lo, 1) + 0.0:,.1f}, {round(hi, 1) + 0.0:,.1f}]"
            for m, lo, hi in zip(
                rows["surplus_mean"], rows["surplus_p05"], rows["surplus_p95"], strict=True
            )
        ]
    table = pd.DataFrame({"organisation": label, "fy": rows["fy"].to_numpy(), "value": cell})
    order = list(dict.fromkeys(label))
    pivot = table.pivot(index="organisation", columns="fy", values="value")
    return pivot.loc[order]


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
    return 0


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
    for path in sorted(folder.glob("*.yaml")):
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
    p.set_defaults(func=_cmd_stress)

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
    except ScenarioError as exc:
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
