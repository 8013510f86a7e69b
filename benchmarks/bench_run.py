"""Benchmark finsim on the synthetic England scenario: wall time, speed, peak memory.

    python benchmarks/bench_run.py                 # R = 1, 100, 1,000 (serial and processes)
    python benchmarks/bench_run.py --full          # adds R = 10,000
    python benchmarks/bench_run.py --scaling       # contracts x1, x2, x4 at R = 100

Each case runs in a fresh process so peak memory (max RSS of the process and its
children) is the case's own. Prints a table; figures go in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CASE = r"""
import json, resource, sys, time
import finsim
from finsim.synth import england
R, backend, contracts = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
doc = england(contracts=contracts)
scenario = finsim.Scenario.from_dict(doc)
start = time.perf_counter()
res = finsim.run(scenario, replications=R, seed=1, backend=backend, workers=2, progress=False, keep_monthly=False, keep_journal=False)
summary = res.summary()
elapsed = time.perf_counter() - start
pods = sum(len(c["plan"]) for c in doc["contracts"])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"R": R, "backend": backend, "contracts": len(doc["contracts"]), "seconds": elapsed,
                  "months": doc["scenario"]["years"] * 12, "contract_pods": pods, "peak_mb": peak / 1024}))
"""


def case(R: int, backend: str, contracts: int = 1500) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CASE, str(R), backend, str(contracts)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["reps_per_s"] = result["R"] / result["seconds"]
    result["pod_months_per_s"] = (
        result["R"] * result["contract_pods"] * result["months"] / result["seconds"]
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--scaling", action="store_true")
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )
    print(
        f"{'R':>7} {'backend':>10} {'contracts':>9} {'seconds':>9} {'reps/s':>8} {'POD-months/s':>14} {'peak MB':>8}"
    )
    cases = []
    if args.scaling:
        cases = [(100, "serial", n) for n in (1500, 3000, 6000)]
    else:
        sizes = [1, 100, 1000] + ([10_000] if args.full else [])
        cases = [
            (R, b, 1500) for R in sizes for b in (["serial"] if R == 1 else ["serial", "processes"])
        ]
    for R, backend, contracts in cases:
        r = case(R, backend, contracts)
        print(
            f"{r['R']:>7} {r['backend']:>10} {r['contracts']:>9} {r['seconds']:>9.2f} {r['reps_per_s']:>8.1f} {r['pod_months_per_s']:>14,.0f} {r['peak_mb']:>8.0f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
