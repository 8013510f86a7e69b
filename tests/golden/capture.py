"""Capture every example's positions, flows and events as SHA-256 digests, to the bit.

    python tests/golden/capture.py      # rewrites tests/golden/examples.json

A refactoring that promises "behaviour unchanged" (issue 15) is checked by
tests/test_golden.py against the digests captured before it began. Floats are written
with 17 significant digits, which round-trip every float64 exactly, so a digest
changes if and only if some figure changes in some bit (or a row, column or label does).
Re-capture only when a change is meant to move figures, and say so in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pandas as pd

import finsim

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().with_name("examples.json")
#: The examples checked (all but the England-sized benchmark), replications and seed.
EXAMPLES = [
    "two_systems",
    "kent_dispute_2017",
    "ics_control_totals_2018",
    "regional_control_total_2019",
    "joint_oversight_2018",
    "saffs_2001",
    "allocations_review_2013",
]
REPLICATIONS = 6
SEED = 3


def digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the table's exact contents (17 significant digits for floats)."""
    text = frame.to_csv(index=False, float_format="%.17g", lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def digests() -> dict[str, str]:
    """``"<example>/<table>"`` -> digest, for positions, flows and events of each example."""
    out: dict[str, str] = {}
    for stem in EXAMPLES:
        scenario = finsim.load_scenario(ROOT / "examples" / f"{stem}.yaml")
        res = finsim.run(scenario, replications=REPLICATIONS, seed=SEED, progress=False)
        for name in ("positions", "flows", "events"):
            out[f"{stem}/{name}"] = digest(getattr(res, name))
    return out


def main() -> int:
    GOLDEN.write_text(json.dumps(digests(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {GOLDEN.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
