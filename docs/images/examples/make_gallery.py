"""Draw the chart of each example for the examples gallery (docs/examples.md).

    python docs/images/examples/make_gallery.py             # every example
    python docs/images/examples/make_gallery.py kent_dispute_2017 saffs_2001

Writes ``docs/images/examples/<example stem>.png``: one chart per file of ``examples/``,
drawn with ``finsim.charts`` at 80 dpi, each under 80 KB. Run it from anywhere (it works
from the repository root) after changing an example or a chart; the whole gallery takes a
minute or so. Needs the ``plot`` extra (matplotlib); ``england_2024`` uses NHS England's
2024/25 weighted populations packaged with finsim.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("MPLBACKEND", "Agg")

import finsim  # noqa: E402
from finsim import charts  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
EXAMPLES = ROOT / "examples"
DPI = 80
MAX_BYTES = 80_000


def _load(stem: str, variant: str | None = None) -> finsim.Scenario:
    return finsim.load_scenario(EXAMPLES / f"{stem}.yaml", variant=variant)


def two_systems() -> Any:
    """South Shire's surplus by year: a fan of 1,000 replications."""
    res = finsim.run(_load("two_systems"), replications=1000, seed=7)
    return charts.fan_chart(res, "south_shire", by="year")


def saffs_2001() -> Any:
    """What each regional office gained or gave up in the March 2002 re-allocation.

    finsim.charts has no chart of one round of transfers (a Sankey of the whole year drowns
    £155m in £35bn), so this one is drawn here from ``res.flows``, in the charts'
    style and colours.
    """
    from matplotlib.figure import Figure

    res = finsim.run(_load("saffs_2001"))
    flows = res.flows[res.flows["fy"] == "2001/02"]
    regions = res.positions.drop_duplicates("org").set_index("org")["region"]
    names = {r.id: r.name or r.id for r in _load("saffs_2001").model.organisations.regions}

    def received(mask: Any) -> Any:
        part = flows[mask]
        into = part.groupby(part["target"].map(regions))["amount"].sum()
        out = part.groupby(part["source"].map(regions))["amount"].sum()
        return into.sub(out, fill_value=0.0).reindex(list(names), fill_value=0.0)

    reallocation = flows["category"] == "reallocation"
    revenue = flows["kind"] == "revenue"
    parts = [
        (
            "£55m to all regions (non-recurrent)",
            received(reallocation & revenue & (flows["recurrence"] == "non_recurrent")),
            charts.SKY_BLUE,
        ),
        (
            "£52m to the south (recurrent)",
            received(reallocation & revenue & (flows["recurrence"] == "recurrent")),
            charts.BLUE,
        ),
        (
            "£48m to the south (non-recurrent, for capital)",
            received(flows["category"] == "capital_to_revenue"),
            charts.ORANGE,
        ),
        (
            "£48m of capital, south to north",
            received(reallocation & (flows["kind"] == "capital")),
            charts.VERMILLION,
        ),
    ]
    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.add_subplot()
    labels = [names[r] for r in names]
    y = range(len(labels))
    left_pos = [0.0] * len(labels)
    left_neg = [0.0] * len(labels)
    for label, values, colour in parts:
        v = values.to_numpy()
        base = [lp if x >= 0 else ln for x, lp, ln in zip(v, left_pos, left_neg, strict=True)]
        ax.barh(list(y), v, left=base, color=colour, label=label, height=0.6)
        left_pos = [lp + max(x, 0.0) for x, lp in zip(v, left_pos, strict=True)]
        left_neg = [ln + min(x, 0.0) for x, ln in zip(v, left_neg, strict=True)]
    ax.set_yticks(list(y), labels)
    ax.invert_yaxis()
    ax.axvline(0.0, color=charts.BLACK, linewidth=0.8)
    ax.set_xlabel("received (+) or given up (-) in March 2002, £m")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.legend(loc="outside lower center", ncols=2, frameon=False, fontsize="small")
    fig.suptitle(
        "The SAFF re-allocation of March 2002, by regional office",
        x=0.01,
        ha="left",
        fontweight="bold",
    )
    return fig


def allocations_review_2013() -> Any:
    """Distance from target before and after 2015/16's pace of change."""
    res = finsim.run(_load("allocations_review_2013"))
    return charts.distance_from_target(res, "2015/16", stream="ccg_core")


def england_2024() -> Any:
    """England's 106 sub-ICB locations: distance from target, from equal money per head."""
    from finsim.data import scenario_organisations, weighted_populations

    practices = weighted_populations("2024/25")
    organisations = scenario_organisations(practices)
    bodies = organisations["commissioners"]
    per_head = 90_000.0 / sum(c["population"] for c in bodies)
    opening = {c["id"]: round(per_head * c["population"], 1) for c in bodies}
    scenario = finsim.Scenario.from_dict(
        {
            "scenario": {"name": "England core services", "start": "2024/25", "years": 2},
            "organisations": {**organisations, "centre": {"id": "nhs_england"}},
            "allocations": {
                "streams": {
                    "core_services": {
                        "holder": "commissioners",
                        "amount": {"2024/25": 90_000.0, "2025/26": 93_000.0},
                        "need": "core",
                        "opening": opening,
                        "pace": {"convergence": 0.5, "floor": 0.01, "cap": 0.06},
                    }
                }
            },
        },
        source="england_2024.py",
    )
    res = finsim.run(scenario)
    return charts.distance_from_target(res, "2025/26")


def kent_dispute_2017() -> Any:
    """The trust's 2017/18 bridge from plan to outturn: activity, coding, the dispute."""
    res = finsim.run(_load("kent_dispute_2017"), replications=200, seed=1)
    return charts.waterfall(res, "ekhuft", "2017/18")


def ics_control_totals_2018() -> Any:
    """Who accepts each of the three options."""
    st = finsim.stress(
        _load("ics_control_totals_2018"),
        ["own_only", "interim", "fully_system"],
        replications=50,
        seed=1,
    )
    return charts.acceptance_heatmap(st)


def regional_control_total_2019() -> Any:
    """The Midlands' 2019/20 bridge: the interventions that close the regional gap."""
    res = finsim.run(_load("regional_control_total_2019"), replications=1, seed=1)
    return charts.waterfall(res, "midlands", "2019/20")


def joint_oversight_2018() -> Any:
    """The South West region's year-to-date position, month by month."""
    res = finsim.run(_load("joint_oversight_2018"), replications=500, seed=4)
    return charts.fan_chart(res, "south_west", by="month")


def stress_ics_schemes() -> Any:
    """What drives the Midlands' deficits under rapid savings: a tornado."""
    sens = finsim.sensitivity(
        _load("regional_control_total_2019", "rapid_savings"), samples=32, replications=200, seed=1
    )
    return charts.tornado(sens, "system_deficit_mean")


def england_synthetic() -> Any:
    """England's surplus over five years, across 100 replications."""
    res = finsim.run(_load("england_synthetic"), replications=100, seed=1)
    return charts.fan_chart(res, "england", by="year")


def frf_2019() -> Any:
    """England's 2019/20 position month by month under the 2019/20 rules (PSF cut, FRF)."""
    res = finsim.run(_load("frf_2019", "rules_2019_20"), replications=50, seed=7)
    return charts.fan_chart(res, "england", by="month")


def covid_2020() -> Any:
    """England's position month by month: blocks and top-ups in H1, envelopes in H2."""
    res = finsim.run(_load("covid_2020"), replications=20, seed=0)
    return charts.fan_chart(res, "england", by="month")


def api_erf_2023() -> Any:
    """England's position over 2022/23 and 2023/24 with the elective recovery fund."""
    res = finsim.run(_load("api_erf_2023"), replications=20, seed=0)
    return charts.fan_chart(res, "england", by="month")


def deficit_support_2025() -> Any:
    """One system's position as its deficit support is withdrawn, 2024/25 to 2026/27."""
    res = finsim.run(_load("deficit_support_2025"), replications=50, seed=0)
    return charts.fan_chart(res, "system_08", by="year")


GALLERY: dict[str, Callable[[], Any]] = {
    f.__name__: f
    for f in (
        two_systems,
        saffs_2001,
        allocations_review_2013,
        england_2024,
        kent_dispute_2017,
        ics_control_totals_2018,
        regional_control_total_2019,
        joint_oversight_2018,
        stress_ics_schemes,
        england_synthetic,
        frf_2019,
        covid_2020,
        api_erf_2023,
        deficit_support_2025,
    )
}


def draw(stem: str) -> Path:
    """Draw one example's chart and save it beside this script."""
    figure = GALLERY[stem]()
    path = HERE / f"{stem}.png"
    figure.savefig(path, dpi=DPI, metadata={"Software": None})
    size = path.stat().st_size
    if size > MAX_BYTES:  # a palette of 256 colours keeps a dense chart within the limit
        from PIL import Image

        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=256).save(path, optimize=True)
        size = path.stat().st_size
    if size > MAX_BYTES:
        print(f"warning: {path.name} is {size / 1000:.0f} KB (over {MAX_BYTES // 1000} KB)")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stems", nargs="*", help=f"examples to draw (default all: {', '.join(GALLERY)})"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.stems if s not in GALLERY]
    if unknown:
        parser.error(f"unknown examples {unknown}; choose from {', '.join(GALLERY)}")
    missing = sorted(
        p.stem for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".py") and p.stem not in GALLERY
    )
    if missing:
        print(f"note: no chart for {', '.join(missing)}: add one to GALLERY")
    for stem in args.stems or GALLERY:
        path = draw(stem)
        print(f"{path.relative_to(ROOT)}: {path.stat().st_size / 1000:.0f} KB")
    return 0


if __name__ == "__main__":
    if importlib.util.find_spec("matplotlib") is None:
        sys.exit("make_gallery.py needs matplotlib: pip install 'finsim[plot]'")
    sys.exit(main())
