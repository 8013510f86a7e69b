"""Draw the gallery's pictures of each chart kind into docs/images/.

Run from the repository root after a change to finsim.charts:

    python docs/images/make_images.py

The flagship example (examples/two_systems.yaml) gives the fan charts, the sankey and a
waterfall; the charts it has nothing for come from the example that shows them: the
east Kent dispute (a waterfall with disputes), the 2013 allocations review (distance from
target), the 2018/19 ICS control totals (acceptance) and the 2019/20 regional control
total (tornado). Each picture is a PNG of at most about 100 KB.
"""

from __future__ import annotations

import sys
from pathlib import Path

import finsim
from finsim import charts

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"
DPI = 80
LIMIT = 110_000  # bytes


def save(fig: object, name: str) -> None:
    path = HERE / f"{name}.png"
    fig.savefig(path, dpi=DPI, metadata={"Software": None})  # type: ignore[attr-defined]
    size = path.stat().st_size
    print(f"{path.relative_to(HERE.parents[1])}: {size / 1000:.0f} KB")
    if size > LIMIT:
        sys.exit(f"{path} is {size:,} bytes, more than {LIMIT:,}: lower DPI")


def main() -> None:
    flagship = finsim.load_scenario(EXAMPLES / "two_systems.yaml")
    res = finsim.run(flagship, replications=200, seed=7)
    save(charts.fan_chart(res, "north_shire"), "fan_chart")
    save(charts.fan_chart(res, "south_shire", by="month"), "fan_chart_monthly")
    save(charts.waterfall(res, "north_acute", "2018/19"), "waterfall")
    save(charts.sankey(res, "2018/19"), "sankey")

    kent = finsim.load_scenario(EXAMPLES / "kent_dispute_2017.yaml")
    save(
        charts.waterfall(finsim.run(kent, replications=200, seed=7), "ekhuft", "2017/18"),
        "waterfall_dispute",
    )

    review = finsim.load_scenario(EXAMPLES / "allocations_review_2013.yaml")
    review_res = finsim.run(review, replications=1, seed=7)
    save(charts.distance_from_target(review_res, "2014/15"), "distance_from_target")

    ics = finsim.load_scenario(EXAMPLES / "ics_control_totals_2018.yaml")
    stressed = finsim.stress(ics, ["own_only", "interim", "fully_system"], replications=50)
    save(charts.acceptance_heatmap(stressed), "acceptance_heatmap")

    regional = finsim.load_scenario(
        EXAMPLES / "regional_control_total_2019.yaml", variant="rapid_savings"
    )
    analysis = finsim.sensitivity(regional, samples=24, replications=100, seed=1)
    save(charts.tornado(analysis, "system_deficit_mean"), "tornado")


if __name__ == "__main__":
    main()
