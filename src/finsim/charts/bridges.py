"""The bridge from plan to outturn by driver, as a table (:func:`bridge`) and as a
waterfall chart (:func:`waterfall`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.charts.select import (
    _fy,
    _selection,
    _table,
)
from finsim.charts.style import (
    BLACK,
    BLUE,
    GREEN,
    GREY,
    VERMILLION,
    ChartError,
    _figure,
    _money_axis,
    _replications,
    _tidy,
    _titles,
)
from finsim.errors import ResultsError
from finsim.mechanisms.base import BridgeView

if TYPE_CHECKING:
    from collections.abc import Iterable

    from matplotlib.figure import Figure

    from finsim.mechanisms.base import Mechanism
    from finsim.results import Results


#: The built-in mechanisms' waterfall drivers, in the order drawn (see :func:`bridge`; each
#: mechanism declares its own: ``Mechanism.drivers``).
DRIVERS = (
    "activity",
    "tariff & coding",
    "savings shortfall",
    "disputes",
    "incentive funding",
    "interventions",
    "other",
)


def _mechanisms(results: Results) -> list[type[Mechanism]]:
    """The mechanism classes of the run's System (the default System's if not known)."""
    system = getattr(results, "system", None)
    if system is None:
        from finsim.system import System

        system = System.default()
    return list(system.mechanisms.values())


def driver_amounts(mechanisms: Iterable[type[Mechanism]], view: BridgeView) -> dict[str, float]:
    """Each driver's amount, in the order drawn: what the mechanisms declare
    (``Mechanism.drivers``: the net receipt of its flow categories, each category counted in
    the first driver declaring it) plus what their :meth:`~finsim.mechanisms.base.Mechanism.waterfall`
    measures from their tables. Drivers are ordered by rank, then as first declared; a driver
    not among :data:`DRIVERS` is left out where its amount is nil."""
    classes = list(mechanisms)
    ranks: dict[str, int] = {}
    categories: dict[str, list[str]] = {}
    declared = [d for cls in classes for d in cls.drivers]
    for driver in sorted(declared, key=lambda d: d.rank):
        ranks[driver.name] = min(ranks.get(driver.name, driver.rank), driver.rank)
        categories.setdefault(driver.name, [])
    counted: set[str] = set()
    for driver in sorted(declared, key=lambda d: d.rank):
        for category in driver.categories:
            if category not in counted:
                counted.add(category)
                categories[driver.name].append(category)
    amounts = {name: view.received(*categories[name]) for name in ranks}
    for cls in classes:
        for name, amount in cls.waterfall(view).items():
            if name not in amounts:
                raise ValueError(
                    f"{cls.__name__}.waterfall measured driver {name!r}, which no mechanism "
                    "declares in its 'drivers'"
                )
            amounts[name] += amount
    # a driver of the mechanisms added since the first seven is drawn where it moved money:
    # a run without that mechanism's section keeps the bridge it always had
    return {k: v for k, v in amounts.items() if k in DRIVERS or v != 0.0}


def bridge(
    results: Results, org: str = "england", fy: str | None = None, replication: int | None = None
) -> pd.DataFrame:
    """Plan to outturn, GBP m, mean over replications (or one ``replication``): rows ``plan``,
    each driver, ``outturn``.

    The **outturn** is the surplus of the body (or the sum over a system, region or England):
    its revenue inflows less outflows booked to the year. Each **driver** is measured from the
    run's flows and mechanism tables, from the body's side (money between two members of a
    system cancels):

    * *activity*: contract value due for the activity done, less the plan's value (volume
      above or below plan, paid under the tariff's rules: marginal rate, blended payment);
    * *tariff & coding*: the part of the value due that comes from the case mix the provider
      reported above the case mix its commissioner accepts (coding drift). Where the contracts
      table does not record the accepted case mix it is taken as 1, so in the years after a
      dispute moved it, the move shows here, offset in *activity*;
    * *savings shortfall*: savings planned but not delivered (``res.table("savings")``);
    * *disputes*: sums withheld at the reconciliation, settlements paid and dispute fees;
    * *incentive funding*: incentive payments, bonuses and general distributions received;
    * *interventions*: top slices, and in-year non-recurrent cost cuts other than savings
      programmes' (extra surplus and rapid savings asked by a region; the extra savings
      bodies find to meet an accepted control total);
    * *other*: risk shares, re-allocations, teaching uplifts, capital-to-revenue swaps and
      CQUIN not earned.

    Each driver is declared by the mechanisms of the run's System (``Mechanism.drivers``,
    :meth:`~finsim.mechanisms.base.Mechanism.waterfall`): a plug-in's own drivers are drawn
    among these, where its ``rank`` puts them; a flow category no driver measures stays in
    the plan.

    The **plan** is the position had contracts been paid at their plan value with full CQUIN,
    savings been delivered in full, and none of the other drivers happened; everything else
    (allocations, other income, operating costs) is as it turned out. It is the outturn less
    the drivers, so the bars add up from plan to outturn exactly. A provider's costs that
    follow its activity are part of its operating costs, which finsim records as one flow:
    they stay in the plan.

    Needs the flows (kept by default up to 1,000 replications) and the mechanisms'
    per-replication tables (up to 200): a run that did not keep them raises
    :class:`~finsim.errors.ResultsError` saying how to keep them, never a bridge without
    the drivers they measure.
    """
    accounts, _, label = _selection(results, org)
    fy = _fy(results, fy)
    missing = []
    if not results.tables_kept:
        missing.append(
            ("per-replication mechanism tables (contracts, CQUIN, savings)", "tables", 200)
        )
    if "flows" not in results.kept_tables:
        missing.append(("flows", "flows", 1000))
    if missing:
        raise ResultsError(
            f"this run of {results.replications:,} replications kept no "
            + " and no ".join(what for what, _, _ in missing)
            + ", which the bridge from plan to outturn measures its drivers from: run with "
            + " and ".join(f"keep_{key}=True" for _, key, _ in missing)
            + " (finsim run "
            + " ".join(f"--keep-{key}" for _, key, _ in missing)
            + "; kept by default up to "
            + " and ".join(f"{n:,}" for _, _, n in missing)
            + " replications)"
        )
    ids = frozenset(np.array(results.economy.ids, dtype=object)[accounts])
    R = results.replications
    flows = results.flows  # a ResultsError saying how to keep them, if not kept
    if replication is not None:
        if replication not in set(results.replication_ids.tolist()):
            raise ChartError(
                f"no replication {replication} in this run (it has {results.replications:,}, "
                f"numbered from {int(results.replication_ids.min())})"
            )
        flows, R = flows[flows["replication"] == replication], 1
    flows = flows[(flows["fy"] == fy) & (flows["kind"] == "revenue")]
    side = flows["target"].isin(ids).astype(float) - flows["source"].isin(ids).astype(float)
    signed = flows["amount"] * side
    net = signed.groupby(flows["category"]).sum() / R
    outturn = float(net.sum())
    view = BridgeView(
        ids=ids,
        fy=fy,
        R=R,
        flows=flows,
        signed=signed,
        net=net,
        table_names=frozenset(results.table_names),
        read_table=lambda name: _table(results, name, fy, replication),
    )
    drivers = driver_amounts(_mechanisms(results), view)
    plan = outturn - sum(drivers.values())
    frame = pd.DataFrame(
        {
            "step": ["plan", *drivers, "outturn"],
            "amount": [plan, *drivers.values(), outturn],
            "kind": ["total", *["driver"] * len(drivers), "total"],
        }
    )
    frame.attrs.update(label=label, fy=fy, replication=replication)
    return frame


def _control_total(results: Results, org: str, fy: str) -> float:
    """Mean control total (before incentives) of a body, system or region; NaN if none."""
    _, level, _ = _selection(results, org)
    if level == "england":
        return float("nan")
    summary = results.summary()
    row = summary[(summary["level"] == level) & (summary["name"] == org) & (summary["fy"] == fy)]
    return float(row["control_total"].iloc[0]) if len(row) else float("nan")


def waterfall(
    results: Results,
    org_or_system: str = "england",
    fy: str | None = None,
    replication: int | None = None,
) -> Figure:
    """The bridge from plan to outturn by driver for a body, system, region or England.

    Bars are the mean over replications (or one ``replication``'s values) of each driver (see :func:`bridge` for what the plan
    and each driver are); they add up from plan to outturn exactly. Drivers under GBP 0.05m
    (which would print as 0.0) are left out; :func:`bridge` keeps them. A body's control total, where
    it has one, is drawn as a dashed line.
    """
    table = bridge(results, org_or_system, fy, replication)
    fy = str(table.attrs["fy"])
    shown = table[(table["kind"] == "total") | (table["amount"].abs() >= 0.05)]
    shown = shown.reset_index(drop=True)
    fig = _figure(9, 5)
    ax = fig.add_subplot()
    running = 0.0
    ends = [0.0]
    for i, (_, row) in enumerate(shown.iterrows()):
        amount = float(row["amount"])
        if row["kind"] == "total":
            bottom, height, colour = 0.0, amount, BLUE
            running = amount
            text = f"{amount:,.1f}"
        else:
            bottom, height = running, amount
            colour = GREEN if amount >= 0 else VERMILLION
            running += amount
            text = f"{amount:+,.1f}"
        ax.bar(i, height, bottom=bottom, color=colour, width=0.6)
        ends += [bottom, bottom + height]
        down = height < 0  # label a bar that goes down below it, one that goes up above it
        ax.annotate(
            text,
            (float(i), bottom + height if down else max(bottom, bottom + height)),
            xytext=(0, -3 if down else 3),
            textcoords="offset points",
            ha="center",
            va="top" if down else "bottom",
            fontsize=8,
        )
        if i < len(shown) - 1:
            ax.hlines(running, i + 0.3, i + 0.7, color=GREY, lw=0.8)
    ct = _control_total(results, org_or_system, fy)
    if np.isfinite(ct):
        ends.append(ct)
        ax.axhline(ct, color=BLACK, ls="--", lw=1)
        ax.annotate(
            "control total (before incentives)",
            (1.0, ct),
            xycoords=("axes fraction", "data"),
            xytext=(0, 3),
            textcoords="offset points",
            ha="right",
            fontsize=8,
            bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
        )
    ax.axhline(0, color=GREY, lw=0.8)
    ax.set_xticks(range(len(shown)), [s.replace(" ", "\n", 1) for s in shown["step"]], fontsize=9)
    low, high = min(ends), max(ends)
    pad = 0.1 * (high - low) or 1.0
    ax.set_ylim(low - pad, high + pad)
    ax.set_ylabel("surplus / (deficit), £m")
    _money_axis(ax.yaxis)
    _tidy(ax)
    _titles(
        fig,
        ax,
        f"{table.attrs['label']}, {fy}: plan to outturn, £m",
        (
            f"mean of {_replications(results.replications)}"
            if replication is None
            else f"replication {replication}"
        )
        + "; green raises the position, vermillion lowers it; plan = outturn less the drivers",
    )
    return fig
