"""The report's comparison of scheme variants (from :func:`finsim.stress`): the board's
comparison of England, regions and systems (:mod:`finsim.comparison`), acceptance, control
totals met, incentive funding earned and lost, expected shortfall, each variant's paired
differences from the first, and the charts of every variant.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.report_blocks import (
    _BRIDGE_ABOUT,
    _e,
    _figure_html,
    _money,
    _table_html,
    _waterfalls_html,
)

if TYPE_CHECKING:
    from finsim.stress import StressResults


def _stress_charts_html(stress: StressResults, names: list[str], last: str) -> list[str]:
    """A stress test's charts: acceptance, each body's fan under every variant side by
    side, and every variant's bridges from plan to outturn and money flows."""
    from finsim import charts

    parts = []
    if len(stress.acceptance()):
        parts.append("<h3>Acceptance of control totals</h3>")
        parts.append(
            _figure_html(
                lambda: charts.acceptance_heatmap(stress),
                "Each body's decision on its control total under each variant",
            )
        )
    parts.append("<h3>Surplus / (deficit) across replications, by variant</h3>")
    parts.append(
        "<p>One panel per variant, on one scale. Where a body has a control total, the fan is "
        "its surplus <strong>before incentive funding</strong>, the measure the total is met "
        "on; otherwise its surplus as reported.</p>"
    )
    for name in names:
        parts.append(
            _figure_html(
                partial(charts.variant_fans, stress, name),
                f"Fan chart of {name} under each variant",
            )
        )
    for variant, res in stress.results.items():
        parts.append(f"<h3>Variant {_e(variant)}: from plan to outturn, {_e(last)}</h3>")
        parts.append(_BRIDGE_ABOUT)
        parts += _waterfalls_html(res, names, last, f", variant {variant}")
        parts.append(
            _figure_html(
                partial(charts.sankey, res, last), f"Money flows in {last}, variant {variant}"
            )
        )
    return parts


def _by_variant(stress: StressResults, frame: pd.DataFrame, values: str) -> pd.DataFrame:
    """``frame`` with one column per variant, in the order the variants were asked for."""
    wide = frame.pivot_table(
        index=["level", "name", "fy"], columns="variant", values=values, aggfunc="first"
    )
    return wide.reindex(columns=[v for v in stress.variants if v in wide.columns])


def _with_se(mean: float, se: float) -> str:
    """A paired difference and its standard error, GBP m to two decimals (no -0.00)."""
    m = round(mean, 2) + 0.0
    return f"{'0.00' if m == 0 else f'{m:+,.2f}'} (se {round(se, 2) + 0.0:,.2f})"


def _stress_html(stress: StressResults) -> str:
    first = stress.variants[0]
    n = next(iter(stress.results.values())).replications
    parts = [
        "<h2>Scheme variants compared</h2>",
        f"<p>{_e(', '.join(stress.variants))}, on common random numbers: replication r of "
        f"every variant sees the same demand, coding and delivery draws ({n:,} replications "
        "of each).</p>",
    ]
    parts += _comparison_html(stress)
    counts = stress.acceptance_counts()
    if len(counts):
        parts.append("<h3>Acceptance of control totals</h3>")
        parts.append(
            _table_html(counts, "Bodies accepting, and systems whose every member accepts", False)
        )
    meeting = stress.meeting()
    meeting = meeting[meeting["level"].isin(["system", "region"])]
    if len(meeting):
        shown = meeting.assign(
            p=[
                f"{p:.2f} [{lo:.2f}, {hi:.2f}]"
                for p, lo, hi in zip(
                    meeting["p_met"], meeting["p_met_low"], meeting["p_met_high"], strict=True
                )
            ]
        )
        parts.append("<h3>Probability of meeting the control total</h3>")
        parts.append(
            "<p>Of each system's and region's surplus <strong>before incentive funding</strong> "
            f"meeting its control total, with its {stress.confidence:.0%} Wilson interval.</p>"
        )
        parts.append(_table_html(_by_variant(stress, shown, "p"), "", True))
    incentives = stress.incentives()
    if len(incentives):
        money = ["allocation", "earned_mean", "lost_mean", "redistributed_mean"]
        totals = incentives.groupby("variant", sort=False)[money].sum().reindex(stress.variants)
        totals = totals.rename(
            columns={
                "allocation": "allocated",
                "earned_mean": "earned",
                "lost_mean": "lost",
                "redistributed_mean": "redistributed",
            }
        )
        bodies = incentives.pivot_table(
            index=["org", "fy"], columns="variant", values=["earned_mean", "lost_mean"]
        )
        bodies = bodies.reindex(
            columns=pd.MultiIndex.from_product([["earned_mean", "lost_mean"], stress.variants])
        ).rename(columns={"earned_mean": "earned", "lost_mean": "lost"}, level=0)
        parts.append("<h3>Incentive funding earned and lost</h3>")
        parts.append(
            "<p>£m, mean over replications. <em>Lost</em> is the allocation a body did not "
            "earn, before the unearned money is redistributed (<em>redistributed</em>: what "
            "bodies received back from it).</p>"
        )
        parts.append(_table_html(totals.map(_money), "All bodies with an allocation", True))
        parts.append(_table_html(bodies.map(_money), "Each body", True))
    risk = stress.system_risk()
    if len(risk):
        es = [c for c in risk.columns if c.startswith("deficit_es")][0]
        level = es.removeprefix("deficit_es")
        parts.append("<h3>Expected shortfall of the deficit</h3>")
        parts.append(
            f"<p>Expected shortfall ({_e(level)}%) of each system's and region's deficit "
            "<strong>before incentive funding</strong>: the mean deficit of the worst "
            f"{100 - float(level):g}% of replications, £m (negative: a surplus even there). "
            f"With {n:,} replications it is the mean of the worst "
            f"{max(int(np.ceil(n * (1 - float(level) / 100) - 1e-9)), 1):,}.</p>"
        )
        parts.append(_table_html(_by_variant(stress, risk, es).map(_money), "", True))
    for other in stress.variants[1:]:
        parts += _paired_html(stress, first, other)
    return "\n".join(parts)


def _percent_with_se(mean: float, se: float) -> str:
    """A paired difference of probabilities and its standard error, in percentage points."""
    return f"{round(mean * 100, 1) + 0.0:+.1f} pp (se {round(se * 100, 1) + 0.0:.1f})"


def _comparison_html(stress: StressResults) -> list[str]:
    """The board's comparison: per variant, for England, each region and each system, the
    probability of meeting the control total with its interval, the expected shortfall,
    incentive funding earned and lost, and the paired differences from the baseline."""
    from finsim.comparison import definitions, tail_column

    table = stress.comparison()
    baseline, tail = str(table.attrs["baseline"]), float(table.attrs["tail"])
    versus = f"vs {baseline}"
    cells: dict[str, list[str]] = {}
    if table["p_met"].notna().any():
        cells[f"P(meet control total) [{stress.confidence:.0%} interval]"] = [
            "–" if pd.isna(p) else f"{p:.0%} [{lo:.0%}, {hi:.0%}]"
            for p, lo, hi in zip(
                table["p_met"], table["p_met_low"], table["p_met_high"], strict=True
            )
        ]
    cells["surplus before incentive funding"] = list(
        table["surplus_before_incentives_mean"].map(_money)
    )
    cells[f"mean of worst {tail:.0%}"] = list(table[tail_column(tail)].map(_money))
    if table["p_met"].notna().any():
        cells["shortfall against control total"] = [
            "" if pd.isna(v) else _money(v) for v in table["ct_shortfall_mean"]
        ]
    if (table["incentive_allocation"] != 0).any():
        cells["incentive earned"] = list(table["incentive_earned_mean"].map(_money))
        cells["incentive lost"] = list(table["incentive_lost_mean"].map(_money))
    pairs = [("surplus_before_incentives", f"Δ surplus before incentives {versus}", _with_se)]
    if table["p_met"].notna().any():
        pairs.append(("p_met", f"Δ P(meet) {versus}", _percent_with_se))
    if (table["incentive_allocation"] != 0).any():
        pairs.append(("incentive_earned", f"Δ incentive earned {versus}", _with_se))
    pairs.append(("surplus", f"Δ surplus after incentives {versus}", _with_se))
    for column, label, shown in pairs:
        cells[label] = [
            "" if pd.isna(m) else shown(m, se)
            for m, se in zip(table[f"{column}_diff"], table[f"{column}_diff_se"], strict=True)
        ]
    frame = pd.DataFrame(cells)
    frame.index = pd.MultiIndex.from_frame(
        table[["organisation", "fy", "variant"]].rename(columns={"organisation": "body"})
    )
    parts = [
        f"<h3>Comparison against {_e(baseline)}</h3>",
        "<p>£m, England, each region and each system; mean over replications unless said. "
        "Definitions:</p>",
        "<ul>"
        + "".join(
            f"<li><strong>{_e(term)}</strong>: {_e(what)}.</li>"
            for term, what in definitions(stress, baseline, tail)
        )
        + "</ul>",
    ]
    for levels, caption in (
        (["england", "region"], "England and regions"),
        (["system"], "Systems"),
    ):
        shown_rows = table["level"].isin(levels).to_numpy()
        if shown_rows.any():
            parts.append(_table_html(frame[shown_rows], caption, True))
    return parts


def _paired_html(stress: StressResults, a: str, b: str) -> list[str]:
    """Variant ``b`` minus ``a``, paired by replication, with standard errors: each system's
    and region's total before and after incentive funding, and the bodies that change."""
    rows = []
    for level in ("system", "region"):
        before = stress.difference(a, b, "surplus_before_incentives", level=level)
        after = stress.difference(a, b, "surplus", level=level)
        if len(before):
            rows.append(
                pd.DataFrame(
                    {
                        "level": level,
                        "name": before[level].to_numpy(),
                        "fy": before["fy"].to_numpy(),
                        "before incentive funding": [
                            _with_se(m, se)
                            for m, se in zip(before["mean"], before["se"], strict=True)
                        ],
                        "after incentive funding": [
                            _with_se(m, se)
                            for m, se in zip(after["mean"], after["se"], strict=True)
                        ],
                    }
                )
            )
    parts = [
        f"<h3>{_e(b)} minus {_e(a)}, paired by replication</h3>",
        "<p>£m, the mean of the paired differences and its Monte Carlo standard error "
        "(se): a difference several times its se is not noise. A system's or region's total "
        "is the sum over its members and its own account.</p>",
    ]
    if rows:
        totals = pd.concat(rows, ignore_index=True).set_index(["level", "name", "fy"])
        parts.append(_table_html(totals, "Systems and regions", True, text=True))
    bodies = stress.difference(a, b)
    moved = bodies[(bodies["mean"].abs() >= 0.005) | (bodies["se"] >= 0.005)]
    moved = moved.reindex(moved["mean"].abs().sort_values(ascending=False).index)
    if len(moved):
        kinds = dict(
            zip(
                stress.results[a].economy.ids,
                stress.results[a].economy.org_table()["org_type"],
                strict=True,
            )
        )
        shown = pd.DataFrame(
            {
                "body": [
                    f"{o} (own account)" if kinds.get(o) in ("system", "region") else o
                    for o in moved["org"]
                ],
                "fy": moved["fy"].to_numpy(),
                "surplus after incentive funding": [
                    _with_se(m, se) for m, se in zip(moved["mean"], moved["se"], strict=True)
                ],
            }
        )
        parts.append(
            _table_html(shown, "Bodies whose surplus changes, largest first", False, text=True)
        )
    else:
        parts.append("<p>No body's surplus changes by £0.01m or more.</p>")
    return parts
