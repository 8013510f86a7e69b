"""Commissioners' distance from target allocation before and after pace of change."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from finsim.charts.select import (
    _fy,
    _table,
)
from finsim.charts.style import (
    BLACK,
    BLUE,
    GREY,
    VERMILLION,
    ChartError,
    _figure,
    _replications,
    _tidy,
    _titles,
)
from finsim.errors import ResultsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from finsim.results import Results


def distance_from_target(
    results: Results, fy: str | None = None, stream: str | None = None
) -> Figure:
    """Commissioners' distance from target before and after pace of change, in a year.

    From ``res.table("allocations")``: distance is (allocation - target) / target, before
    (the recurrent baseline grown at the average rate) and after pace of change, summed
    over the commissioner's streams (or one ``stream``), mean over replications. Up to 40
    commissioners are drawn as dumbbells, more as a scatter of after against before.
    """
    fy = _fy(results, fy)
    table = _table(results, "allocations", fy)
    if table is None:
        raise ResultsError(
            "this run has no allocations table: the scenario needs an 'allocations' section, "
            "and the run must keep mechanism tables (keep_tables=True, finsim run "
            "--keep-tables; by default up to 200 replications)"
        )
    commissioners = set(results.economy.org_table().query("org_type == 'commissioner'")["org"])
    table = table[table["org"].isin(commissioners) & (table["target"] > 0)]
    if stream is not None:
        if stream not in set(table["stream"]):
            raise ChartError(
                f"no commissioner stream '{stream}' in {fy}; streams: "
                + ", ".join(sorted(set(table["stream"])))
            )
        table = table[table["stream"] == stream]
    if not len(table):
        raise ResultsError(f"no commissioner has an allocation target in {fy}")
    table = table.assign(
        before=table["target"] * (1 + table["distance_before"]),
        after=table["target"] * (1 + table["distance_after"]),
    )
    sums = table.groupby("org")[["target", "before", "after"]].sum()
    before = 100 * (sums["before"] / sums["target"] - 1)
    after = 100 * (sums["after"] / sums["target"] - 1)
    order = before.sort_values().index
    before, after = before[order], after[order]
    n = len(order)
    which = f"stream {stream}" if stream else "all streams"
    if n <= 40:
        fig = _figure(9, 1.8 + 0.28 * n)
        ax = fig.add_subplot()
        at = np.arange(n)
        ax.hlines(at, before, after, color=GREY, lw=1.5)
        ax.set_ylim(-0.7, n - 0.3)
        ax.scatter(after, at, color=BLUE, s=40, zorder=3, label="after pace of change")
        ax.scatter(
            before,
            at,
            facecolor="none",
            edgecolor=VERMILLION,
            s=110,
            lw=1.5,
            zorder=4,
            label="before pace of change",
        )
        ax.set_yticks(at, list(order), fontsize=8)
        ax.axvline(0, color=BLACK, lw=0.8)
        ax.set_xlabel("distance from target, % (above target +, below -)")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
    else:
        fig = _figure(7, 6)
        ax = fig.add_subplot()
        ax.scatter(before, after, color=BLUE, s=14, alpha=0.8)
        low = float(min(before.min(), after.min()))
        high = float(max(before.max(), after.max()))
        ax.plot([low, high], [low, high], color=GREY, ls="--", lw=1, label="no move toward target")
        ax.axhline(0, color=BLACK, lw=0.8)
        ax.axvline(0, color=BLACK, lw=0.8)
        ax.set_xlabel("distance from target before pace of change, %")
        ax.set_ylabel("distance from target after pace of change, %")
        ax.legend(loc="upper left", fontsize=8, frameon=False)
    _tidy(ax)
    _titles(
        fig,
        ax,
        f"Commissioners' distance from target, {fy}",
        f"{n} commissioners, {which}; mean of {_replications(results.replications)}",
    )
    return fig
