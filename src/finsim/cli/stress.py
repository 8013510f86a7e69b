"""``finsim stress``: run a scenario under several scheme variants with common random
numbers and print how they compare.
"""

from __future__ import annotations

import argparse
from typing import Any

import pandas as pd

from finsim.cli.options import (
    _excel_file,
    _keep_tables,
    _option_error,
    _output_file,
    _output_folder,
)
from finsim.cli.run import _write_report
from finsim.comparison import clean as _clean
from finsim.comparison import stress_tables


def _cmd_stress(args: argparse.Namespace) -> int:
    import finsim

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
    if args.excel:
        _excel_file("--excel", args.excel)
    keep_tables = _keep_tables(args)
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
    if args.excel:
        try:
            written = result.to_excel(args.excel)
        except OSError as exc:
            raise _option_error(
                "--excel", f"cannot write the workbook: {exc.strerror} ({exc.filename})"
            ) from None
        print(f"Wrote the workbook to {written}")
    return 0


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
