"""What it costs finsim to read, or refuse, hostile scenario files: wall time and memory.

    python benchmarks/bench_refuse.py                       # this checkout
    python benchmarks/bench_refuse.py --source OTHER/src    # another tree (e.g. before a fix)

Each file is written to a temporary folder, then read by ``finsim.load_scenario`` (what
``finsim validate`` does) in a fresh process: the seconds it takes, the process's peak memory
(its high-water mark of resident memory) and how much of that came after finsim was
imported. Prints a table; the figures
go in docs/reliability.md ("Limits").
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

CASE = r"""
import json, resource, sys, time
import finsim

def peak():  # MB: the process's own high-water mark (max RSS carries the parent's across exec)
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

before = peak()
start = time.perf_counter()
try:
    finsim.load_scenario(sys.argv[1])
    outcome = "read"
except finsim.ScenarioError as exc:
    outcome = f"refused: {exc.problems[0].message[:60]}"
except MemoryError:
    outcome = "MemoryError"
elapsed = time.perf_counter() - start
after = peak()
print(json.dumps({"seconds": elapsed, "peak_mb": after, "added_mb": after - before,
                  "outcome": outcome}))
"""


def _two_systems() -> dict:
    return yaml.safe_load((EXAMPLES / "two_systems.yaml").read_text(encoding="utf-8"))


def contracts(kind: str) -> str:
    """20,000 copies of the flagship's first contract: one id repeated (refused, one problem a
    contract), or ten extra points of delivery each (past the value limit)."""
    doc = _two_systems()
    first = doc["contracts"][0]
    out = []
    for i in range(20_000):
        contract = copy.deepcopy(first)
        if kind == "over the value limit":
            contract["id"] = f"{first['id']}-{i:05d}"
            contract["plan"].update({f"pod_{k}": k for k in range(10)})
        out.append(contract)
    doc["contracts"] = out
    return yaml.safe_dump(doc, sort_keys=False, width=4096)


def aliased_text() -> str:
    """A 1 MB name anchored once and aliased as 2,000 regions' names (2 GB once expanded)."""
    text = (EXAMPLES / "two_systems.yaml").read_text(encoding="utf-8")
    text = text.replace("  name: Two systems, one region", "  name: &big " + "x" * 1_000_000)
    regions = "".join(f"    - {{id: r{i}, name: *big}}\n" for i in range(2000))
    return text.replace(
        "    - {id: midlands, name: Midlands}\n",
        "    - {id: midlands, name: Midlands}\n" + regions,
        1,
    )


def laughs() -> str:
    """A billion laughs: 4 KB expanding to 10^9 values."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def rules() -> str:
    """60,000 copies of one incentive rule."""
    text = (EXAMPLES / "ics_control_totals_2018.yaml").read_text(encoding="utf-8")
    one = "  unearned:\n  - general_distribution\n"
    return text.replace(one, "  unearned:\n" + "  - general_distribution\n" * 60_000)


def england() -> str:
    return (EXAMPLES / "england_synthetic.yaml").read_text(encoding="utf-8")


CASES = {
    "England-sized example (valid)": england,
    "20,000 contracts, one id repeated": lambda: contracts("one id"),
    "20,000 contracts past the value limit": lambda: contracts("over the value limit"),
    "1 MB of text aliased 2,000 times": aliased_text,
    "a billion laughs": laughs,
    "one rule listed 60,000 times": rules,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", help="the src folder of the finsim to measure")
    args = parser.parse_args()
    env = dict(os.environ)
    if args.source:
        env["PYTHONPATH"] = str(Path(args.source).resolve())
    print(f"{'case':<40} {'MB':>6} {'seconds':>8} {'peak MB':>8} {'+MB':>6}  outcome")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in CASES.items():
            path = Path(folder) / "case.yaml"
            path.write_text(make(), encoding="utf-8")
            done = subprocess.run(
                [sys.executable, "-c", CASE, str(path)],
                capture_output=True,
                text=True,
                env=env,
                check=False,
            )
            if done.returncode != 0:
                print(f"{name:<40} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout)
            size = path.stat().st_size / 1e6
            print(
                f"{name:<40} {size:6.2f} {r['seconds']:8.2f} {r['peak_mb']:8.0f} "
                f"{r['added_mb']:6.0f}  {r['outcome']}"
            )


if __name__ == "__main__":
    main()
