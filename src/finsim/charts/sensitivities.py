"""Which uncertain inputs move an outcome most (from :func:`finsim.sensitivity`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from finsim.charts.style import (
    BLACK,
    ORANGE,
    SKY_BLUE,
    ChartError,
    _figure,
    _money_axis,
    _tidy,
    _titles,
)
from finsim.errors import ResultsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from finsim.sensitivity import SensitivityResults


def tornado(sensitivity_results: SensitivityResults, outcome: str | None = None) -> Figure:
    """Which uncertain inputs move ``outcome`` most (default: the first outcome).

    For each input, the bars run from the mean outcome over all sample points to the mean
    over the points in the lowest third of the input's sampled range (sky blue) and in the
    highest third (orange); inputs are sorted by that swing, largest at the top. The label
    gives the Spearman rank correlation from :meth:`SensitivityResults.drivers`.
    """
    s = sensitivity_results
    outcome = outcome or s.outcomes[0]
    if outcome not in s.outcomes:
        raise ChartError(f"no outcome '{outcome}'; these results have {', '.join(s.outcomes)}")
    samples = s.samples
    if len(samples) < 3:
        raise ResultsError("a tornado needs at least 3 sample points (sensitivity(samples=...))")
    y = samples[outcome].to_numpy(dtype=float)
    centre = float(np.nanmean(y))
    rho = s.drivers().set_index(["outcome", "input"])["spearman"]
    rows = []
    for name in s.inputs:
        x = samples[name].to_numpy(dtype=float)
        low_cut, high_cut = np.quantile(x, [1 / 3, 2 / 3])
        low = float(np.nanmean(y[x <= low_cut])) - centre
        high = float(np.nanmean(y[x >= high_cut])) - centre
        rows.append((name, low, high, float(rho.get((outcome, name), 0.0))))
    rows.sort(key=lambda r: abs(r[2] - r[1]))  # largest last: drawn at the top
    fig = _figure(9, 1.6 + 0.55 * len(rows))
    ax = fig.add_subplot()
    at = np.arange(len(rows))
    ax.barh(
        at + 0.17,
        [r[1] for r in rows],
        left=centre,
        color=SKY_BLUE,
        height=0.34,
        label="input in its lowest third",
    )
    ax.barh(
        at - 0.17,
        [r[2] for r in rows],
        left=centre,
        color=ORANGE,
        height=0.34,
        label="input in its highest third",
    )
    ax.set_yticks(at, [f"{r[0]}\n(Spearman {r[3]:+.2f})" for r in rows], fontsize=8)
    ax.axvline(centre, color=BLACK, lw=1)
    probability = outcome.startswith("p_")
    unit = "probability" if probability else "£m"
    ax.set_xlabel(f"{outcome} ({unit}); centre line: mean over all {len(samples)} sample points")
    if not probability:
        _money_axis(ax.xaxis)
    _tidy(ax)
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    _titles(
        fig,
        ax,
        f"What drives {outcome}",
        "mean outcome where each input is low or high in its sampled range",
    )
    return fig
