"""Stress-test the 2018/19 ICS sustainability-funding options, and a sensitivity run.

Compares the three variants of examples/ics_control_totals_2018.yaml (own_only: 0% of
the finance share on the system total; interim: 25%; fully_system: 100%) over 5,000
replications on common random numbers, then samples the uncertain inputs declared in
examples/regional_control_total_2019.yaml (rapid-savings variant) with a Latin
hypercube to see which drive the deficits.

    python examples/stress_ics_schemes.py [--replications 5000] [--seed 1] [--samples 32]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import finsim

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--samples", type=int, default=32)
    parser.add_argument("--backend", default="processes", choices=["serial", "processes", "dask"])
    args = parser.parse_args(argv)
    pd.set_option("display.width", 160)
    pd.set_option("display.max_columns", 12)

    ics = finsim.load_scenario(HERE / "ics_control_totals_2018.yaml")
    result = finsim.stress(
        ics,
        ["own_only", "interim", "fully_system"],
        replications=args.replications,
        seed=args.seed,
        backend=args.backend,
    )
    print(f"ICS options, {args.replications:,} replications, seed {args.seed}\n")
    print("Who accepts:")
    print(result.acceptance_counts().to_string(index=False))
    meeting = result.meeting().query("level == 'system'")
    print(
        "\nMean probability that a system meets its control total (Wilson 95% interval of each in the tables):"
    )
    order = ["own_only", "interim", "fully_system"]  # the order asked, not alphabetical
    print(
        meeting.groupby("variant", sort=False)["p_met"].mean().reindex(order).round(3).to_string()
    )
    incentives = result.incentives()
    print("\nSustainability funding earned before redistribution, GBP m (mean over replications):")
    print(
        incentives.groupby("variant", sort=False)[["allocation", "earned_mean", "lost_mean"]]
        .sum()
        .reindex(order)
        .round(1)
        .to_string()
    )
    risk = result.system_risk().query("level == 'system'")
    print(
        "\nExpected shortfall (97.5%) of system deficits before incentive funding, GBP m, "
        "summed over the ten systems:"
    )
    print(
        risk.groupby("variant", sort=False)["deficit_es97.5"]
        .sum()
        .reindex(order)
        .round(1)
        .to_string()
    )
    diff = result.difference("own_only", "fully_system")
    providers = diff[diff["org"].str.endswith(("_acute", "_community"))]
    print("\nfully_system minus own_only, providers' surplus (paired by replication), GBP m:")
    print(
        f"  total {providers['mean'].sum():.2f} (standard error of each body's mean at most {providers['se'].max():.3f})"
    )

    regional = finsim.load_scenario(
        HERE / "regional_control_total_2019.yaml", variant="rapid_savings"
    )
    sens = finsim.sensitivity(regional, samples=args.samples, replications=200, seed=args.seed)
    print(
        f"\nRegional 2019/20 with rapid savings: {args.samples} Latin-hypercube points x 200 replications"
    )
    print(sens.drivers().query("outcome == 'system_deficit_mean'").round(3).to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
