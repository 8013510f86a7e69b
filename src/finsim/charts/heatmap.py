"""Each body's decision on its control total under each scheme variant of a stress test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from finsim.charts.style import (
    GREEN,
    VERMILLION,
    _figure,
)
from finsim.errors import ResultsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from finsim.stress import StressResults


def acceptance_heatmap(stress_results: StressResults) -> Figure:
    """Each body's decision on its control total under each scheme variant (and year).

    Green cells accept, vermillion reject, grey has no control total; each cell also says
    "yes" or "no", so the chart reads without colour. Bodies are grouped by system; column
    heads count the acceptors.
    """
    table = stress_results.acceptance()
    if not len(table):
        raise ResultsError(
            "no body decided on a control total in these results: acceptance needs a "
            "'control_totals' section"
        )
    years = sorted(set(table["fy"]))
    table = table.assign(
        column=table["variant"] + ("\n" + table["fy"] if len(years) > 1 else ""),
        value=table["accepted"].astype("float"),
        row=table["org"],
    )
    columns = list(dict.fromkeys(table["column"]))
    rows = (
        table.drop_duplicates("row")
        .sort_values(["system", "org_type", "row"], na_position="first", kind="stable")["row"]
        .tolist()
    )
    grid = table.pivot_table(index="row", columns="column", values="value", aggfunc="first")
    grid = grid.reindex(index=rows, columns=columns)
    values = grid.to_numpy(dtype=float)
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    coded = np.where(np.isnan(values), 0, np.where(values > 0.5, 2, 1))
    fig = _figure(2.6 + 1.3 * len(columns), 1.6 + 0.25 * len(rows))
    ax = fig.add_subplot()
    ax.imshow(
        coded, cmap=ListedColormap(["#DDDDDD", VERMILLION, GREEN]), vmin=0, vmax=2, aspect="auto"
    )
    if len(rows) * len(columns) <= 1200:
        for (i, j), code in np.ndenumerate(coded):
            if code:
                ax.text(
                    j,
                    i,
                    "yes" if code == 2 else "no",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white",
                )
    counts = [
        f"{c}\n{int(np.nansum(values[:, j]))} of {int(np.isfinite(values[:, j]).sum())} accept"
        for j, c in enumerate(columns)
    ]
    ax.set_xticks(range(len(columns)), counts, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)), rows, fontsize=7 if len(rows) > 40 else 8)
    ax.tick_params(length=0)
    ax.set_xticks(np.arange(len(columns) + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(len(rows) + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="white", lw=1.5 if len(rows) <= 60 else 0.3)
    ax.tick_params(which="minor", length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.legend(
        handles=[
            Patch(color=GREEN, label="accepts"),
            Patch(color=VERMILLION, label="rejects"),
            Patch(color="#DDDDDD", label="no control total"),
        ],
        loc="upper center",
        bbox_to_anchor=(0.5, -0.01),
        ncol=3,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle(
        "Acceptance of control totals by scheme variant",
        x=0.01,
        ha="left",
        fontsize=12,
        fontweight="bold",
    )
    return fig
