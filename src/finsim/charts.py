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

Colours are Okabe and Ito's palette ("Color Universal Design", 2008), told apart with any
common colour-vision deficiency; fans use tints of one blue, so they read by lightness
alone. Money is in GBP million; years are financial years ("2018/19").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finsim.economy import ORG_TYPES
from finsim.errors import ResultsError, did_you_mean

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from finsim.results import Results
    from finsim.sensitivity import SensitivityResults
    from finsim.stress import StressResults

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
#: The waterfall's drivers, in the order drawn (see :func:`bridge`).
DRIVERS = (
    "activity",
    "tariff & coding",
    "savings shortfall",
    "disputes",
    "incentive funding",
    "interventions",
    "other",
)


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


def _fy(results: Results, fy: str | None) -> str:
    if fy is None:
        return results.years[-1]
    if fy not in results.years:
        raise ChartError(f"no financial year '{fy}' in this run; it has {', '.join(results.years)}")
    return fy


def _selection(results: Results, name: str) -> tuple[np.ndarray, str, str]:
    """Accounts whose money adds up to ``name``, its summary level and a label.

    ``name`` is an organisation id, a system or region id (its members and its own
    account, as :meth:`Results.summary` sums them) or ``"england"`` (every body).
    """
    economy = results.economy
    types = np.array(ORG_TYPES, dtype=object)[economy.org_type]
    inside = types != "external"
    if name.lower() == "england":
        return np.flatnonzero(inside), "england", "England"
    if name not in economy.ids or not inside[economy.index(name)]:
        known = [i for i, t in zip(economy.ids, types, strict=True) if t != "external"]
        guess = did_you_mean(name, [*known, "england"])
        raise ChartError(
            f"no organisation, system or region '{name}' in this run"
            + (f" (did you mean '{guess}'?)" if guess else "")
        )
    a = economy.index(name)
    kind = str(types[a])
    if kind in ("system", "region"):
        parent = economy.system if kind == "system" else economy.region
        accounts = np.flatnonzero((parent == a) | (np.arange(economy.n_accounts) == a))
        return accounts, kind, f"{name} ({kind} total)"
    return np.array([a]), "org", name


def _table(
    results: Results, name: str, fy: str, replication: int | None = None
) -> pd.DataFrame | None:
    if name not in results.table_names:
        return None
    table = results.table(name)
    table = table[table["fy"] == fy]
    if replication is not None and "replication" in table:
        table = table[table["replication"] == replication]
    return table


def _quantile_levels() -> list[float]:
    return sorted({0.5, *(0.5 - b / 2 for b in BANDS), *(0.5 + b / 2 for b in BANDS)})


def _has_control_total(results: Results, org: str) -> bool:
    _, level, _ = _selection(results, org)
    if level == "england":
        return False
    summary = results.summary(quantiles=())
    rows = summary[(summary["level"] == level) & (summary["name"] == org)]
    return bool(rows["control_total"].notna().any())


def _yearly(
    results: Results, org: str, before_incentives: bool
) -> tuple[dict[float, np.ndarray], np.ndarray, bool]:
    """Each year's quantiles of a body's surplus (before incentive funding, or after), its
    control total (NaN where none; only with ``before_incentives``) and whether the run paid
    any incentive funding to it."""
    _, level, _ = _selection(results, org)
    quantiles = _quantile_levels()
    summary = results.summary(quantiles=quantiles, before_incentives=before_incentives)
    key = "England" if level == "england" else org
    rows = summary[(summary["level"] == level) & (summary["name"] == key)]
    rows = rows.set_index("fy").loc[results.years]
    prefix = "before_incentives" if before_incentives else "surplus"
    q = {p: rows[f"{prefix}_p{round(p * 100):02d}"].to_numpy() for p in quantiles}
    control = rows["control_total"].to_numpy(dtype=float)
    if not before_incentives:
        control = np.full_like(control, np.nan)
    paid = bool((rows["incentive_mean"].abs() > 1e-9).any())
    return q, control, paid


def _measure(before_incentives: bool, incentives_paid: bool) -> str:
    """What a fan of surplus measures, in words, for its title."""
    if before_incentives:
        return "surplus / (deficit) before incentive funding"
    return "surplus / (deficit)" + (" after incentive funding" if incentives_paid else "")


def _band_colours() -> dict[float, tuple[float, float, float]]:
    return {band: _tint(BLUE, s) for band, s in zip(BANDS, (0.25, 0.5, 0.8), strict=True)}


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


# -- fan chart -------------------------------------------------------------------------------
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


# -- waterfall -------------------------------------------------------------------------------
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
    ids = set(np.array(results.economy.ids, dtype=object)[accounts])
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

    def received(*categories: str) -> float:
        return float(sum(net.get(c, 0.0) for c in categories))

    nonrecurrent = (flows["category"] == "operating_cost") & (
        flows["recurrence"] == "non_recurrent"
    )
    cost_cuts = float(signed[nonrecurrent].sum()) / R  # positive: costs cut
    activity = tariff = withheld = cquin = 0.0
    contracts = _table(results, "contracts", fy, replication)
    for category, name in (("contract_payment", "contracts"), ("cquin", "cquin")):
        if name not in results.table_names and (flows["category"] == category).any():
            raise ResultsError(
                f"this run has {category} flows in {fy} but no '{name}' table, which the "
                "bridge from plan to outturn needs: run with keep_tables=True "
                "(finsim run --keep-tables)"
            )
    if contracts is not None and len(contracts):
        side_c = contracts["org"].isin(ids).astype(float) - contracts["commissioner"].isin(
            ids
        ).astype(float)
        due, planned = contracts["due"], contracts["plan_value"]
        # the case mix the commissioner accepts is priced into the plan; without that
        # column (older tables) it is taken as 1, as it is until a dispute moves it
        accepted = contracts.get("accepted_case_mix", 1.0)
        coding = np.where(due == planned, 0.0, due * (1.0 - accepted / contracts["case_mix"]))
        tariff = float((side_c * coding).sum()) / R
        activity = float((side_c * (due - planned)).sum()) / R - tariff
        withheld = float((side_c * contracts["withheld"]).sum()) / R
        table = _table(results, "cquin", fy, replication)
        if table is not None and len(table):
            commissioner = contracts.drop_duplicates("contract").set_index("contract")[
                "commissioner"
            ]
            side_q = table["org"].isin(ids).astype(float) - table["contract"].map(
                commissioner
            ).isin(ids).astype(float)
            cquin = float((side_q * (table["earned"] - table["at_stake"])).sum()) / R
    shortfall = one_off = 0.0
    savings = _table(results, "savings", fy, replication)
    if savings is not None and len(savings):
        mine = savings[savings["org"].isin(ids)]
        shortfall = float(mine["shortfall"].sum()) / R
        one_off = float((mine["delivered"] - mine["recurrent"]).sum()) / R
    drivers = {
        "activity": activity,
        "tariff & coding": tariff,
        "savings shortfall": 0.0 - shortfall,
        "disputes": -withheld + received("dispute_settlement", "dispute_costs"),
        "incentive funding": received(
            "incentive_payment", "incentive_bonus", "general_distribution"
        ),
        "interventions": received("top_slice", "savings") + cost_cuts - one_off,
        "other": received("risk_share", "reallocation", "teaching_uplift", "capital_to_revenue")
        + cquin,
    }
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


# -- sankey ----------------------------------------------------------------------------------
_GROUP_LABELS = {
    "external": "external",
    "centre": "centre",
    "region": "regions",
    "system": "systems",
    "commissioner": "commissioners",
    "provider": "providers",
}
_NODE_ORDER = ("treasury", "centre", "region", "system", "commissioner", "provider", "external")


def _nodes(results: Results, group: str) -> tuple[dict[str, str], dict[str, int]]:
    """Each account's node label under ``group``, and each label's place in the order."""
    table = results.economy.org_table()
    rank = {t: i for i, t in enumerate(_NODE_ORDER)}
    node: dict[str, str] = {}
    order: dict[str, int] = {}
    for org, kind, system in zip(table["org"], table["org_type"], table["system"], strict=True):
        if org in ("treasury", "external"):
            label, place = ("HM Treasury", 0) if org == "treasury" else ("external", 6)
        elif group == "org_type":
            label, place = _GROUP_LABELS[kind], rank[kind]
        elif group == "system" and kind in ("commissioner", "provider") and system is not None:
            label, place = str(system), rank["system"]
        else:
            label, place = str(org), rank[kind]
        node[org] = label
        order.setdefault(label, place)
    return node, order


def sankey(
    results: Results,
    fy: str | None = None,
    by: str = "category",
    *,
    group: str = "auto",
    kind: str = "revenue",
    max_nodes: int = 14,
    min_share: float = 0.005,
) -> Figure:
    """Money flows between bodies in a year: payers on the left, payees on the right.

    Ribbons are the mean over replications of each (payer, payee, ``by``) flow, coloured by
    ``by`` ("category", "recurrence" or "kind"); a net negative flow (a refund, a saving
    booked as a negative cost) is drawn from payee to payer. ``group`` gathers bodies into
    nodes: "org" (each body), "system" (commissioners and providers by system),
    "org_type" (commissioners, providers...), or "auto" ("org" while there are at most
    ``max_nodes`` on a side). For legibility, payers and payees beyond the largest
    ``max_nodes`` become "others", categories beyond the seven largest and ribbons under
    ``min_share`` of the total become grey "other" ribbons; no money is dropped.
    """
    if by not in ("category", "recurrence", "kind"):
        raise ChartError(f"sankey by 'category', 'recurrence' or 'kind', got {by!r}")
    if group not in ("auto", "org", "system", "org_type"):
        raise ChartError(f"sankey group 'auto', 'org', 'system' or 'org_type', got {group!r}")
    fy = _fy(results, fy)
    flows = results.flows
    wanted = flows["fy"] == fy
    if kind != "all":
        wanted &= flows["kind"] == kind
    flows = flows[wanted]
    if not len(flows):
        raise ResultsError(f"no {kind} money moved in {fy}")
    if group == "auto":
        bodies = max(flows["source"].nunique(), flows["target"].nunique())
        group = "org" if bodies <= max_nodes else "org_type"
    node, order = _nodes(results, group)
    mean = (
        flows.groupby(["source", "target", by], observed=True)["amount"].sum()
        / results.replications
    )
    links = mean.reset_index()
    backwards = links["amount"] < 0
    links.loc[backwards, ["source", "target"]] = links.loc[
        backwards, ["target", "source"]
    ].to_numpy()
    links["amount"] = links["amount"].abs()
    links["payer"] = links["source"].map(node)
    links["payee"] = links["target"].map(node)
    for side in ("payer", "payee"):  # the largest nodes, the rest as "others"
        sizes = links.groupby(side)["amount"].sum().sort_values(ascending=False)
        keep = set(sizes.index[:max_nodes])
        links[side] = links[side].where(links[side].isin(keep), "others")
    order["others"] = len(_NODE_ORDER)
    total = float(links["amount"].sum())
    colour_keys = links.groupby(by)["amount"].sum().sort_values(ascending=False).index.tolist()
    spare = list(SPARE_COLOURS)
    colours: dict[str, str] = {}
    for key in colour_keys:
        if key in CATEGORY_COLOURS:
            colours[key] = CATEGORY_COLOURS[key]
        elif spare:
            colours[key] = spare.pop(0)
    small = (links["amount"] < min_share * total) | ~links[by].isin(colours)
    links.loc[small, by] = "other"
    colours["other"] = GREY
    links = links.groupby(["payer", "payee", by])["amount"].sum().reset_index()
    links = links[links["amount"] > 0]

    def place(side: str) -> dict[str, tuple[float, float]]:
        sizes = links.groupby(side)["amount"].sum()
        names = sorted(sizes.index, key=lambda n: (order.get(n, 99), -sizes[n]))
        gap = 0.02 * total
        out, y = {}, total + gap * (len(names) - 1)
        for n in names:
            out[n] = (y - sizes[n], y)  # (bottom, top), filled from the top down
            y -= sizes[n] + gap
        return out

    left, right = place("payer"), place("payee")
    fig = _figure(10, 7)
    ax = fig.add_subplot()
    from matplotlib.patches import Patch, PathPatch, Rectangle
    from matplotlib.path import Path as MplPath

    width, x0, x1 = 0.04, 0.0, 1.0
    rank_right = {n: i for i, n in enumerate(right)}
    rank_left = {n: i for i, n in enumerate(left)}
    next_left = {n: top for n, (_, top) in left.items()}
    next_right = {n: top for n, (_, top) in right.items()}
    ordered = links.assign(
        _l=links["payer"].map(rank_left), _r=links["payee"].map(rank_right)
    ).sort_values(["_l", "_r"])
    for _, link in ordered.iterrows():
        h = float(link["amount"])
        a_top = next_left[link["payer"]]
        next_left[link["payer"]] -= h
        b_top = next_right[link["payee"]]
        next_right[link["payee"]] -= h
        xa, xb, xm = x0 + width, x1 - width, (x0 + x1) / 2
        verts = [
            (xa, a_top),
            (xm, a_top),
            (xm, b_top),
            (xb, b_top),
            (xb, b_top - h),
            (xm, b_top - h),
            (xm, a_top - h),
            (xa, a_top - h),
            (xa, a_top),
        ]
        codes = [MplPath.MOVETO, *[MplPath.CURVE4] * 3, MplPath.LINETO, *[MplPath.CURVE4] * 3]
        codes.append(MplPath.CLOSEPOLY)
        ax.add_patch(
            PathPatch(MplPath(verts, codes), facecolor=colours[link[by]], alpha=0.65, lw=0)
        )
    for nodes, x, align, sign in ((left, x0, "right", -1), (right, x1 - width, "left", 1)):
        for name, (bottom, top) in nodes.items():
            ax.add_patch(Rectangle((x, bottom), width, top - bottom, color="#333333"))
            ax.text(
                x + (width + 0.01 if sign > 0 else -0.01),
                (bottom + top) / 2,
                f"{name}  {top - bottom:,.0f}",
                ha=align,
                va="center",
                fontsize=8,
            )
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylim(-0.02 * total, total * 1.02 + 0.02 * total * max(len(left), len(right)))
    ax.axis("off")
    handles = [
        Patch(color=c, alpha=0.65, label=str(k).replace("_", " "))
        for k, c in colours.items()
        if (links[by] == k).any()
    ]
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    height = max(top for _, top in [*left.values(), *right.values()])
    for x, word in ((x0, "pays"), (x1 - width, "receives")):
        ax.text(x + width / 2, height, word, ha="center", va="bottom", fontsize=9, color="#444444")
    _titles(
        fig,
        ax,
        f"Who paid whom, {fy}: £{total:,.0f}m of {kind} money",
        f"mean of {_replications(results.replications)}, £m, by {by.replace('_', ' ')}; "
        f"{results.scenario_name}",
    )
    return fig


# -- tornado ---------------------------------------------------------------------------------
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


# -- distance from target --------------------------------------------------------------------
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


# -- acceptance heatmap ----------------------------------------------------------------------
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
