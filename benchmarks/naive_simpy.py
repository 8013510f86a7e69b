"""The straightforward model a user would write by hand, for comparison with finsim.

One SimPy process per contract, Python floats, replications in a loop: each month
every contract draws its activity per point of delivery (lognormal shock and
noise, as finsim's activity mechanism), is paid at tariff, and the provider pays
its variable costs. Same workload as finsim's contracts on the synthetic England
scenario (1,500 contracts x 7 PODs x 60 months).

    python benchmarks/naive_simpy.py [--replications 3]

Prints contract-POD-months per second, and finsim's on the same contracts
measured in the same run, and the ratios: per core (finsim serial, one chunk at a
time, like the naive loop) and per machine (finsim on its processes backend with
both cores, as a user would run it).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time

import simpy

from finsim.synth import england


def naive(doc: dict, replications: int) -> float:
    prices = doc["tariff"]["prices"]
    contracts = doc["contracts"]
    months = doc["scenario"]["years"] * 12
    start = time.perf_counter()
    for r in range(replications):
        rng = random.Random(r)
        env = simpy.Environment()
        balances: dict[str, float] = {}

        def contract(env, c, rng=rng, balances=balances):
            shock = math.exp(rng.gauss(0, 0.02) - 0.0002)
            for _month in range(months):
                paid = 0.0
                for pod, units in c["plan"].items():
                    realised = units / 12 * shock * math.exp(rng.gauss(0, 0.02) - 0.0002)
                    paid += realised * prices[pod] / 1e6
                balances[c["provider"]] = balances.get(c["provider"], 0.0) + paid * 0.55
                balances[c["commissioner"]] = balances.get(c["commissioner"], 0.0) - paid
                yield env.timeout(1)

        for c in contracts:
            env.process(contract(env, c))
        env.run()
    elapsed = time.perf_counter() - start
    pods = sum(len(c["plan"]) for c in contracts)
    return replications * pods * months / elapsed


def fast(doc: dict, replications: int, backend: str = "serial") -> float:
    import finsim

    slim = {
        k: doc[k] for k in ("scenario", "organisations", "tariff", "contracts", "activity", "costs")
    }
    slim["activity"] = {k: v for k, v in doc["activity"].items() if k != "case_mix"}
    scenario = finsim.Scenario.from_dict(slim)
    start = time.perf_counter()
    finsim.run(
        scenario,
        replications=replications,
        seed=1,
        backend=backend,
        workers=2,
        keep_journal=False,
        keep_monthly=False,
        progress=False,
    )
    elapsed = time.perf_counter() - start
    pods = sum(len(c["plan"]) for c in doc["contracts"])
    return replications * pods * doc["scenario"]["years"] * 12 / elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replications", type=int, default=3)
    parser.add_argument("--finsim-replications", type=int, default=256)
    args = parser.parse_args()
    doc = england()
    slow = naive(doc, args.replications)
    quick = fast(doc, args.finsim_replications)
    both = fast(doc, 2 * args.finsim_replications, backend="processes")
    print(
        f"naive SimPy (one process per contract, loop over {args.replications} replications): {slow:,.0f} contract-POD-months/s"
    )
    print(
        f"finsim serial (same contracts, activity and costs, {args.finsim_replications} replications): {quick:,.0f} contract-POD-months/s"
    )
    print(
        f"finsim on 2 processes ({2 * args.finsim_replications} replications): {both:,.0f} contract-POD-months/s"
    )
    print(f"ratio per core: {quick / slow:.1f}x")
    print(f"ratio per machine (both cores): {both / slow:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
