"""A body's fan under each scheme variant of a stress test, side by side."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from finsim.charts.select import (
    _has_control_total,
    _measure,
    _selection,
    _yearly,
)
from finsim.charts.style import (
    _figure,
    _replications,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from finsim.stress import StressResults

from finsim.charts.fan import _draw_year_fan


def variant_fans(stress_results: StressResults, org: str = "england") -> Figure:
    """A body's fan by year under each scheme variant of a stress test, side by side on one
    scale (one panel per variant, in the order the variants were asked for).

    Where the body has a control total under any variant, every panel fans the surplus
    **before incentive funding**, the measure the control total is met on, and marks the
    total; otherwise the surplus as reported. The title says which.
    """
    runs = stress_results.results
    before = any(_has_control_total(res, org) for res in runs.values())
    fans = {name: _yearly(res, org, before) for name, res in runs.items()}
    paid = any(f[2] for f in fans.values())
    first = next(iter(runs.values()))
    _, _, label = _selection(first, org)
    n = len(fans)
    fig = _figure(min(3.2 + 2.6 * n, 16), 5)
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    handles: list[Any] = []
    for ax, (name, (q, control, _)) in zip(axes, fans.items(), strict=True):
        handles = _draw_year_fan(ax, first.years, q, control)
        ax.set_title(name, fontsize=10)
    axes[0].set_ylabel(f"{_measure(before, paid)}, £m")
    axes[-1].legend(handles=handles, loc="best", fontsize=8, frameon=False)
    fig.supxlabel(
        f"financial year; {_replications(first.replications)} of each variant on common random "
        f"numbers; {first.scenario_name}",
        fontsize=9,
        color="#444444",
    )
    fig.suptitle(
        f"{label}: {_measure(before, paid)} by scheme variant, £m",
        x=0.01,
        ha="left",
        fontsize=12,
        fontweight="bold",
    )
    return fig
