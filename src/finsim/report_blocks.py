"""Building blocks of the HTML report: escaped text, money, tables (folded when long),
sections, and charts embedded as PNG images (a note instead when a chart cannot be drawn).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

import pandas as pd

from finsim.errors import ResultsError
from finsim.results import Results

if TYPE_CHECKING:
    from matplotlib.figure import Figure


#: Tables longer than this scroll on the screen, so the page stays readable; they print whole.
FOLD_ROWS = 60


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _money(value: float) -> str:
    return f"{round(value, 1) + 0.0:,.1f}"


def _table_html(
    frame: pd.DataFrame, caption: str = "", index: bool = True, text: bool = False
) -> str:
    body = frame.to_html(
        escape=True, index=index, border=0, na_rep="", classes="text" if text else None
    )
    if caption:
        body = body.replace(">", f"><caption>{_e(caption)}</caption>", 1)
    if len(frame) > FOLD_ROWS:
        return f'<div class="long">{body}</div>'
    return body


def _sections(
    title: str,
    frames: dict[str, pd.DataFrame],
    caption: Callable[[str], str],
    about: str,
    none: str,
) -> list[str]:
    """A report section: its heading, then what the tables show and a table per variant
    (captioned by ``caption``), or, when every table is empty, a paragraph saying there is
    none."""
    if not any(len(frame) for frame in frames.values()):
        return [f"<h2>{title}</h2>", f"<p>{none}</p>"]
    parts = [f"<h2>{title}</h2>", f"<p>{about}</p>"]
    return parts + [_table_html(f, caption(v)) for v, f in frames.items() if len(f)]


def _png(fig: Figure) -> str:
    from finsim.charts.style import png_base64

    return png_base64(fig, dpi=90)


def _figure_html(draw: Callable[[], Figure], caption: str) -> str:
    """A chart as an embedded image; a note instead when the run lacks what it needs."""
    from finsim.charts import ChartError

    try:
        fig = draw()
    except (ResultsError, ChartError) as exc:
        return f'<p class="note">{_e(caption)}: not drawn ({_e(exc)})</p>'
    return (
        f'<figure><img alt="{_e(caption)}" src="data:image/png;base64,{_png(fig)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _waterfalls_html(results: Results, names: list[str], fy: str, of: str = "") -> list[str]:
    """The bridges from plan to outturn of ``names``; one note instead when the run did not
    keep what a bridge is measured from (never a bridge without its drivers)."""
    from finsim import charts

    try:
        charts.bridge(results, names[0], fy)
    except ResultsError as exc:
        return [f'<p class="note">The bridges from plan to outturn are not drawn: {_e(exc)}.</p>']
    return [
        _figure_html(
            partial(charts.waterfall, results, name, fy),
            f"Bridge from plan to outturn for {name}, {fy}{of}",
        )
        for name in names
    ]


_BRIDGE_ABOUT = (
    "<p>Mean over replications. The plan is the position had contracts been paid at their "
    "plan value with full CQUIN, savings been delivered in full and none of the other "
    "drivers happened; each driver is measured from the run's flows and mechanism tables, "
    "so the bars add up from plan to outturn exactly (<code>finsim.charts.bridge</code>).</p>"
)


def _fan_caption(results: Results, name: str) -> str:
    from finsim.charts import _has_control_total

    if _has_control_total(results, name):
        return (
            f"Fan chart of {name}'s surplus before incentive funding by year, against its "
            "control total (met before incentive funding)"
        )
    return f"Fan chart of {name}'s surplus by year, as reported (after any incentive funding)"
