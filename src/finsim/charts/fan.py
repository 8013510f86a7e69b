"""The fan chart: a body's surplus across replications, by year or month, in bands holding
30%, 60% and 90% of replications around the median (Bank of England style).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finsim.charts.select import (
    _has_control_total,
    _measure,
    _quantile_levels,
    _selection,
    _yearly,
)
from finsim.charts.style import (
    BANDS,
    BLACK,
    GREY,
    VERMILLION,
    ChartError,
    _band_colours,
    _figure,
    _money_axis,
    _replications,
    _tidy,
    _titles,
)
from finsim.errors import ResultsError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from finsim.results import Results


def _draw_year_fan(
    ax: Axes, years: list[str], q: dict[float, np.ndarray], control: np.ndarray
) -> list[Any]:
    """Draw a fan by year on ``ax`` (bars for a single year); return the legend's handles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    colours = _band_colours()
    x = np.arange(len(years), dtype=float)
    single = len(years) == 1
    for band in BANDS:
        low, high = q[0.5 - band / 2], q[0.5 + band / 2]
        if single:
            ax.bar(x, high - low, bottom=low, width=0.5, color=colours[band])
        else:
            ax.fill_between(x, low, high, color=colours[band], lw=0)
    if single:
        ax.hlines(q[0.5], x - 0.25, x + 0.25, color=BLACK, lw=2)
        ax.set_xlim(-1.0, 1.0)
    else:
        ax.plot(x, q[0.5], color=BLACK, lw=1.8, marker="o")
    ax.set_xticks(x, years)
    ax.axhline(0, color=GREY, lw=0.8, ls="--")
    handles: list[Any] = [
        Patch(color=colours[b], label=f"{round(b * 100)}% of replications") for b in BANDS
    ]
    handles.append(Line2D([], [], color=BLACK, lw=1.8, label="median"))
    if np.isfinite(control).any():
        ax.scatter(x, control, marker="_", s=600, color=VERMILLION, lw=2.5, zorder=3)
        handles.append(
            Line2D([], [], color=VERMILLION, lw=2.5, label="control total (before incentives)")
        )
    _money_axis(ax.yaxis)
    _tidy(ax)
    return handles


def fan_chart(
    results: Results,
    org: str = "england",
    by: str = "year",
    *,
    before_incentives: bool | None = None,
) -> Figure:
    """Surplus / (deficit) of a body, system, region or England across replications.

    ``by="year"``: the year's outturn (from :meth:`Results.summary`, so it works for runs of
    any size). ``by="month"``: the year-to-date position at each month end
    (:attr:`Results.monthly`, kept by default up to 1,000 replications). Bands hold the
    central 30%, 60% and 90% of replications, darkest in the middle, around the median.

    A control total is met by the surplus **before incentive funding**, so by year the fan
    and the total measure the same thing: ``before_incentives`` (default: True where the
    body has a control total, else False) fans the surplus before incentive funding, and
    the control total is drawn only then; ``before_incentives=False`` fans the surplus as
    reported, after incentive funding, with no control total. The title says which. By
    month, the fan is the year-to-date position as reported (no control total is drawn).
    """
    if by not in ("year", "month"):
        raise ChartError(f"fan_chart by 'year' or 'month', got {by!r}")
    accounts, level, label = _selection(results, org)
    fig = _figure(9, 5)
    ax = fig.add_subplot()
    if by == "year":
        before = (
            _has_control_total(results, org) if before_incentives is None else before_incentives
        )
        q, control, paid = _yearly(results, org, before)
        handles = _draw_year_fan(ax, results.years, q, control)
        ax.set_xlabel("financial year")
        what = _measure(before, paid)
        ax.set_ylabel(f"{what}, £m")
        when = "outturn by year"
    else:
        if before_incentives:
            raise ChartError(
                "a fan by month shows the year-to-date position as reported, after incentive "
                "funding: draw it with before_incentives=False (or None)"
            )
        monthly = results.monthly
        if monthly is None:
            raise ResultsError(
                "this run did not keep month-end positions: run with keep_monthly=True "
                "(kept by default up to 1,000 replications)"
            )
        ids = np.array(results.economy.ids, dtype=object)[accounts]
        chosen = monthly[monthly["org"].isin(ids)]
        grid = chosen.groupby(["replication", "fy", "month"], sort=False)["surplus_ytd"].sum()
        wide = grid.unstack(["fy", "month"])
        order = pd.MultiIndex.from_product([results.years, range(1, 13)])
        values = wide.reindex(columns=order).to_numpy(dtype=float)  # (R, 12 F)
        quantiles = _quantile_levels()
        qm = {p: np.quantile(values, p, axis=0) for p in quantiles}
        x = np.arange(values.shape[1], dtype=float) + 1.0
        colours = _band_colours()
        for k in range(len(results.years)):
            part = slice(12 * k, 12 * k + 12)
            for band in BANDS:
                low, high = qm[0.5 - band / 2], qm[0.5 + band / 2]
                ax.fill_between(x[part], low[part], high[part], color=colours[band], lw=0)
            ax.plot(x[part], qm[0.5][part], color=BLACK, lw=1.8)
        ax.set_xticks(12 * np.arange(len(results.years)) + 6.5, results.years)
        ax.tick_params(axis="x", length=0)
        for k in range(1, len(results.years)):
            ax.axvline(12 * k + 0.5, color="#BBBBBB", lw=0.8)
        ax.set_xlim(0.5, values.shape[1] + 0.5)
        ax.axhline(0, color=GREY, lw=0.8, ls="--")
        ax.set_xlabel("month end (April to March of each financial year)")
        ax.set_ylabel("surplus / (deficit) year to date, £m")
        _money_axis(ax.yaxis)
        _tidy(ax)
        from matplotlib.lines import Line2D
        from matplotlib.patches import Patch

        handles = [
            Patch(color=colours[b], label=f"{round(b * 100)}% of replications") for b in BANDS
        ]
        handles.append(Line2D([], [], color=BLACK, lw=1.8, label="median"))
        what = "surplus / (deficit)"
        when = "year-to-date position at each month end, as reported"
    ax.legend(handles=handles, loc="best", fontsize=8, frameon=False)
    _titles(
        fig,
        ax,
        f"{label}: {what}, £m",
        f"{when}; {_replications(results.replications)}; {results.scenario_name}, "
        f"variant {results.variant}",
    )
    return fig
