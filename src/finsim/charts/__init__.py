"""Charts of a run, readable at a glance: each function returns a matplotlib ``Figure``.

* :func:`fan_chart`: a body's surplus across replications, by year or month, in bands
  holding 30%, 60% and 90% of replications around the median (Bank of England style),
  before incentive funding where it is drawn against a control total;
* :func:`variant_fans`: a body's fan under each scheme variant of a stress test, side by
  side (from :func:`finsim.stress`);
* :func:`waterfall`: the bridge from plan to outturn by driver (see :func:`bridge`);
* :func:`sankey`: who paid whom in a year, by flow category;
* :func:`tornado`: which uncertain inputs move an outcome (from :func:`finsim.sensitivity`);
* :func:`distance_from_target`: commissioners' distance from target before and after
  pace of change;
* :func:`acceptance_heatmap`: each body's decision on its control total under each scheme
  variant (from :func:`finsim.stress`).

Figures are built with matplotlib's object-oriented API (``matplotlib.figure.Figure``),
never pyplot's global state, so they draw headless and from several threads at once;
save one with ``fig.savefig("fan.png")``. matplotlib is imported only when a chart is
drawn: it is the optional ``plot`` extra.

One module per chart: ``fan`` (fan_chart), ``variants`` (variant_fans), ``bridges``
(bridge, waterfall), ``flows`` (sankey), ``sensitivities`` (tornado), ``distance``
(distance_from_target), ``heatmap`` (acceptance_heatmap). ``style`` holds what they
share (colours, titles, figure sizing, the matplotlib guard), ``select`` what they read
from results.

Colours are Okabe and Ito's palette ("Color Universal Design", 2008), told apart with any
common colour-vision deficiency; fans use tints of one blue, so they read by lightness
alone. Money is in GBP million; years are financial years ("2018/19").
"""

from __future__ import annotations

from finsim.charts.bridges import DRIVERS, bridge, waterfall
from finsim.charts.distance import distance_from_target
from finsim.charts.fan import fan_chart
from finsim.charts.flows import sankey
from finsim.charts.heatmap import acceptance_heatmap
from finsim.charts.select import _has_control_total, _selection, _yearly
from finsim.charts.sensitivities import tornado
from finsim.charts.style import (
    BANDS,
    BLACK,
    BLUE,
    CATEGORY_COLOURS,
    GREEN,
    GREY,
    ORANGE,
    PLOT_EXTRA,
    PURPLE,
    SKY_BLUE,
    SPARE_COLOURS,
    VERMILLION,
    YELLOW,
    ChartError,
    PlotExtraMissing,
    _figure,
)
from finsim.charts.variants import variant_fans

__all__ = [
    "BANDS",
    "BLACK",
    "BLUE",
    "CATEGORY_COLOURS",
    "DRIVERS",
    "GREEN",
    "GREY",
    "ORANGE",
    "PLOT_EXTRA",
    "PURPLE",
    "SKY_BLUE",
    "SPARE_COLOURS",
    "VERMILLION",
    "YELLOW",
    "ChartError",
    "PlotExtraMissing",
    "_figure",
    "_has_control_total",
    "_selection",
    "_yearly",
    "acceptance_heatmap",
    "bridge",
    "distance_from_target",
    "fan_chart",
    "sankey",
    "tornado",
    "variant_fans",
    "waterfall",
]
