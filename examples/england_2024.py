"""England from NHS England's 2024/25 GP-practice weighted populations.

Builds the national organisations (7 regions, 42 ICBs, 106 sub-ICB locations)
from the real file, splits an illustrative national core-services stream of
GBP 90,000m between the regions by target share (weighted population over the
national weighted population), and prints the place-based need indices of one
ICB's local authority districts, as NHS England's ICB place-based allocation
tool computes them.

    python examples/england_2024.py [EDITION_OR_CSV] [--icb CODE_OR_NAME] [--stream GBP_M]

By default it uses the 2024/25 edition packaged with finsim
(``finsim.data.weighted_populations("2024/25")``); give ``2025/26`` for the
other packaged edition, or the path of a newer file downloaded from NHS England
(read with ``finsim.data.read_weighted_populations``). Source: NHS England,
GP-practice weighted populations 2024/25, published with the AIF allocation tool
(github.com/nhsx/AIF_Allocation_Tool, data/2024_2025.csv). Contains public
sector information licensed under the Open Government Licence v3.0.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

import finsim
from finsim.data import (
    EDITIONS,
    aggregate,
    need_index,
    read_weighted_populations,
    round_half_up,
    scenario_organisations,
    weighted_populations,
)
from finsim.errors import ScenarioError

#: An illustrative national core-services stream, GBP million (not a published figure).
STREAM = 90_000.0


def national_scenario(practices: pd.DataFrame, stream: float) -> finsim.Scenario:
    """A one-year national scenario: ICBs hold a core stream, passed on to places by need."""
    organisations = scenario_organisations(practices)
    organisations["centre"] = {"id": "nhs_england", "name": "NHS England"}
    places = {"need": "core", "decimals": 3} if practices["sub_icb"].notna().all() else None
    stream_config: dict = {"holder": "systems", "amount": stream, "need": "core"}
    if places:
        stream_config["places"] = places
    return finsim.Scenario.from_dict(
        {
            "scenario": {"name": "England 2024/25", "start": "2024/25", "years": 1},
            "organisations": organisations,
            "allocations": {"streams": {"core_services": stream_config}},
        },
        source="england_2024.py",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "source",
        nargs="?",
        default="2024/25",
        help=f"a packaged edition ({', '.join(EDITIONS)}) or the path of a weighted-population CSV",
    )
    parser.add_argument("--icb", default="NHS West Yorkshire ICB", help="ICB for the place indices")
    parser.add_argument("--stream", type=float, default=STREAM, help="national stream, GBP m")
    args = parser.parse_args(argv)

    packaged = args.source in EDITIONS
    if not packaged and not Path(args.source).is_file():
        print(
            f"england_2024.py: {args.source!r} is neither a packaged edition "
            f"({', '.join(EDITIONS)}) nor a file: give an edition or the path of "
            "NHS England's GP-practice weighted populations CSV",
            file=sys.stderr,
        )
        return 2
    try:
        practices = (
            weighted_populations(args.source)
            if packaged
            else read_weighted_populations(args.source)
        )
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 2

    orgs = scenario_organisations(practices)
    name = f"NHS England {args.source} (packaged)" if packaged else Path(args.source).name
    print(f"Source: {name} ({len(practices):,} GP practices)")
    print(
        f"Regions: {len(orgs['regions'])}   ICBs: {len(orgs['systems'])}   "
        f"commissioners: {len(orgs['commissioners'])} "
        f"({'sub-ICB locations' if practices['sub_icb'].notna().all() else 'one per ICB'})"
    )
    population, weighted = practices["population"].sum(), practices["core"].sum()
    print(
        f"National registered population {population:,.0f}; core weighted population "
        f"{weighted:,.0f} (difference {weighted / population - 1:+.1e} relative)\n"
    )

    regions = aggregate(practices, "region")
    share = regions["core"] / regions["core"].sum()
    targets = pd.DataFrame(
        {
            "region": regions["region_name"],
            "population (m)": round_half_up(regions["population"] / 1e6, 2),
            "weighted (m)": round_half_up(regions["core"] / 1e6, 2),
            "need per head": round_half_up(regions["core"] / regions["population"], 3),
            "target share %": round_half_up(100 * share, 2),
            "target GBP m": round_half_up(args.stream * share, 1),
        }
    )
    print(f"Target shares of an illustrative GBP {args.stream:,.0f}m core-services stream")
    print(targets.to_string())
    print(f"Total of targets: GBP {(args.stream * share).sum():,.1f}m\n")

    # The same through finsim's allocations mechanism: ICBs hold the stream and pass it
    # on to their sub-ICB places by need index.
    results = finsim.run(national_scenario(practices, args.stream), replications=1)
    icbs = results.table("allocations").set_index("org")
    by_region = icbs.groupby(pd.Series(practices.groupby("icb")["region"].first()))["target"].sum()
    gap = (by_region - args.stream * share).abs().max()
    print(
        f"finsim.run: {len(icbs)} ICB targets, summed by region, match the shares above "
        f"to GBP {gap:.1e}m"
    )
    if practices["sub_icb"].notna().all():
        places = results.table("places").set_index("org")
        code = practices.loc[practices["icb_name"] == args.icb, "icb"]
        code = code.iloc[0] if len(code) else args.icb
        mine = places[places.index.isin(practices.loc[practices["icb"] == code, "sub_icb"])]
        print(f"Sub-ICB places of {code}: need index (core) and allocation, GBP m")
        print(mine[["need_index", "allocation"]].round({"allocation": 1}).to_string(), "\n")

    try:
        places = need_index(practices, args.icb, "lad")
    except ValueError as exc:
        print(f"england_2024.py: {exc}", file=sys.stderr)
        return 2
    icb_rows = practices.loc[(practices["icb"] == args.icb) | (practices["icb_name"] == args.icb)]
    print(
        f"Need indices by local authority district: {icb_rows['icb_name'].iloc[0]} "
        f"({icb_rows['icb'].iloc[0]}); 1.000 = the ICB's own need per head"
    )
    shown = places.rename(
        columns={
            "lad_name": "district",
            "ga": "G&A",
            "community": "comm.",
            "mental_health": "MH",
            "maternity": "mat.",
            "health_inequalities": "HI",
            "prescribing": "presc.",
            "core": "core",
            "primary_care_raw": "PMC need",
            "primary_care": "PMC",
        }
    )
    shown["population"] = round_half_up(shown["population"]).astype(int)
    print(shown.to_string())
    return 0


if __name__ == "__main__":
    sys.exit(main())
