"""A million replications on a Dask cluster, with the client's memory bounded.

    python benchmarks/million.py                       # 1,000,000 replications, local cluster
    python benchmarks/million.py -n 200000             # fewer
    python benchmarks/million.py --scheduler tcp://host:8786   # an existing cluster

Runs the flagship scenario (examples/two_systems.yaml) with ``keep_positions=False``:
each chunk is folded into the streaming summary on the client as it arrives and let
go, and only a few chunks per worker are in flight. Prints the wall time, the
client's peak resident memory, the summary's own memory, and each worker's memory
at the end (needs the 'dask' extra).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def worker_memory() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--replications", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--scenario", default=str(ROOT / "examples" / "two_systems.yaml"))
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    import finsim

    scenario = finsim.load_scenario(args.scenario)
    if args.scheduler:
        client = Client(args.scheduler)
        cluster = None
    else:
        cluster = LocalCluster(
            n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        start = time.perf_counter()
        res = finsim.run(
            scenario,
            replications=args.replications,
            seed=1,
            chunk_size=args.chunk_size,
            backend="dask",
            client=client,
            keep_positions=False,
            progress=sys.stderr.isatty(),
        )
        summary = res.summary()
        elapsed = time.perf_counter() - start
        workers = client.run(worker_memory)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    england = summary[summary["level"] == "england"]
    print(f"scenario       {scenario.name}")
    print(f"replications   {res.replications:,} in chunks of {args.chunk_size:,}")
    print(f"wall time      {elapsed:,.1f} s ({res.replications / elapsed:,.0f} replications/s)")
    print(f"client peak    {client_peak:,.0f} MB resident")
    print(f"summary held   {res._accumulator.nbytes / 1e6:,.1f} MB ({res.metadata()['summary']})")
    for address, rss in sorted(workers.items()):
        print(f"worker         {address}: {rss / 1e6:,.0f} MB resident at the end")
    print()
    print(england[["fy", "surplus_mean", "surplus_p05", "surplus_p95", "p_deficit"]].to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
