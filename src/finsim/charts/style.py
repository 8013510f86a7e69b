"""What every chart shares: the colour palette, fan bands, titles, money axes, figure
sizing and the guard that names the ``plot`` extra when matplotlib is missing.

Colours are Okabe and Ito's palette ("Color Universal Design", 2008), told apart with any
common colour-vision deficiency; fans use tints of one blue, so they read by lightness
alone. Figures are saved by the caller with ``fig.savefig(path)``.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


PLOT_EXTRA = "charts need the 'plot' extra: pip install 'finsim[plot]'"

#: Okabe and Ito's colour-blind-safe palette.
ORANGE, SKY_BLUE, GREEN, YELLOW = "#E69F00", "#56B4E9", "#009E73", "#F0E442"
BLUE, VERMILLION, PURPLE, BLACK = "#0072B2", "#D55E00", "#CC79A7", "#000000"
GREY = "#8C8C8C"
#: Sankey ribbon colours of the main flow categories, the same in every chart; other
#: categories take the spare colours by size (yellow last: faint on white), then grey.
CATEGORY_COLOURS = {
    "funding": PURPLE,
    "allocation": GREEN,
    "contract_payment": BLUE,
    "operating_cost": VERMILLION,
    "other_income": SKY_BLUE,
    "recurrent": BLUE,
    "non_recurrent": ORANGE,
    "revenue": BLUE,
    "capital": ORANGE,
}
SPARE_COLOURS = (ORANGE, YELLOW)
#: Central share of replications each fan band holds, outermost first.
BANDS = (0.9, 0.6, 0.3)


class PlotExtraMissing(ImportError):
    """matplotlib, the ``plot`` extra, is not installed."""


class ChartError(ValueError):
    """A chart was asked for something the results do not hold (an unknown body or year)."""


# -- helpers ---------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Figure:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotExtraMissing(PLOT_EXTRA) from None
    return Figure(figsize=(width, height), layout="constrained")


def _tint(colour: str, strength: float) -> tuple[float, float, float]:
    """``colour`` mixed with white: strength 1 is the colour, 0 is white."""
    rgb = np.array([int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    r, g, b = 1 - strength * (1 - rgb)
    return (float(r), float(g), float(b))


def _money_axis(axis: Any) -> None:
    """Thousands separated, with as many decimals as the ticks need (2.5, not 2)."""
    from matplotlib.ticker import Formatter

    class Money(Formatter):
        def __call__(self, x: float, pos: int | None = None) -> str:
            ticks_of = getattr(self.axis, "get_majorticklocs", None)
            ticks = list(ticks_of()) if ticks_of is not None else [x]
            decimals = next(
                (d for d in (0, 1, 2) if all(abs(t - round(t, d)) < 1e-6 for t in ticks)), 2
            )
            return f"{x + 0.0:,.{decimals}f}".replace("-", "\N{MINUS SIGN}")

    axis.set_major_formatter(Money())


def _titles(fig: Figure, ax: Axes, title: str, subtitle: str) -> None:
    fig.suptitle(title, x=0.01, ha="left", fontsize=12, fontweight="bold")
    ax.set_title(subtitle, loc="left", fontsize=9, color="#444444")


def _replications(n: int) -> str:
    return "1 replication" if n == 1 else f"{n:,} replications"


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _band_colours() -> dict[float, tuple[float, float, float]]:
    return {band: _tint(BLUE, s) for band, s in zip(BANDS, (0.25, 0.5, 0.8), strict=True)}


def save_figure(fig: Figure, path: Path, fmt: str, dpi: int) -> None:
    """Write ``fig`` to ``path`` as ``fmt`` (png, svg or pdf), whole or not at all (see
    :func:`finsim.results.atomic_write`)."""
    from finsim.results_io import atomic_write

    atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, dpi=dpi))


def png_base64(fig: Figure, dpi: int = 90) -> str:
    """``fig`` as a PNG, base64-encoded for a page's ``data:`` URL (no software stamp)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")
