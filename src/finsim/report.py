"""One self-contained HTML report of a run: what was run, the key tables and the charts.

:func:`report_html` returns the page as text and :func:`write_report` writes it
atomically. The file opens offline anywhere and can be mailed as it is: its styles are
inline, its charts are PNG images embedded as base64 data, and it fetches nothing (no
scripts, no fonts, no links to the web). Every name that comes from a scenario file (the
scenario's name and description, organisations' names) is HTML-escaped, so a name cannot
inject markup.

:func:`load_results` rebuilds a run saved with ``finsim run FILE --out DIR`` from its
chunks, without recomputing any, so a report can be written long after the run.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finsim.errors import ResultsError
from finsim.results import Results, atomic_write, check_output_path

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from finsim.scenario.loader import Scenario
    from finsim.sensitivity import SensitivityResults
    from finsim.stress import StressResults

#: At most this many systems (else regions, else England alone) get their own charts.
MAX_CHARTED = 6
#: Tables longer than this are folded away (``<details>``) so the page stays readable.
FOLD_ROWS = 60

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       color: #1a1a1a; max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; margin-top: 2em; border-bottom: 2px solid #0072B2; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
p.lead { color: #444; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f4f8; }
td:first-child, th:first-child { text-align: left; }
table.about td, table.about th, table.text td, table.text th { text-align: left; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #444; }
.note { color: #8a4b00; font-size: 0.9em; }
footer { margin-top: 3em; font-size: 0.8em; color: #666; border-top: 1px solid #ddd; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _money(value: float) -> str:
    return f"{round(value, 1) + 0.0:,.1f}"


# -- tables --------------------------------------------------------------------------------
def surplus_table(results: Results) -> pd.DataFrame:
    """Surplus / (deficit) by organisation and year, GBP m to one decimal place.

    With one replication, the values; with more, the mean and the 90% interval.
    """
    summary = results.summary()
    rows = summary[summary["level"].isin(["org", "system", "region", "england"])]
    rows = rows[~((rows["level"] == "org") & rows["org_type"].isin(["region", "system"]))]
    label = np.where(
        rows["level"] == "org",
        rows["name"] + " (" + rows["org_type"] + ")",
        rows["name"] + " [" + rows["level"] + " total]",
    )
    cell: list[str]
    if results.replications == 1:
        cell = [_money(v) for v in rows["surplus_mean"]]
    else:
        cell = [
            f"{_money(m)} [{_money(lo)}, {_money(hi)}]"
            for m, lo, hi in zip(
                rows["surplus_mean"], rows["surplus_p05"], rows["surplus_p95"], strict=True
            )
        ]
    table = pd.DataFrame({"organisation": label, "fy": rows["fy"].to_numpy(), "value": cell})
    order = list(dict.fromkeys(label))
    pivot = table.pivot(index="organisation", columns="fy", values="value")
    return pivot.loc[order]


def control_total_table(results: Results) -> pd.DataFrame:
    """Each body's, system's and region's control total (GBP m, before incentives) and the
    probability of meeting it, per year; empty when the scenario sets none."""
    summary = results.summary()
    rows = summary[summary["control_total"].notna()]
    if not len(rows):
        return pd.DataFrame()
    label = rows["name"] + np.where(rows["level"] == "org", "", " [" + rows["level"] + " total]")
    cell = [
        f"{_money(ct)}: {p:.0%}"
        for ct, p in zip(rows["control_total"], rows["p_met_control_total"], strict=True)
    ]
    table = pd.DataFrame({"organisation": label, "fy": rows["fy"].to_numpy(), "value": cell})
    order = list(dict.fromkeys(label))
    return table.pivot(index="organisation", columns="fy", values="value").loc[order]


def subsidy_table(results: Results) -> pd.DataFrame:
    """Mean net money each body received (+) or gave (-) through top slices, risk shares,
    re-allocations and extra surpluses, GBP m per year; bodies that moved nothing left out."""
    table = results.subsidies()
    wide = table.pivot(index="org", columns="fy", values="net_received")
    wide = wide.loc[list(dict.fromkeys(table["org"]))]
    wide = wide[(wide.abs() > 0.05).any(axis=1)]
    return wide.map(_money)


def _table_html(
    frame: pd.DataFrame, caption: str = "", index: bool = True, text: bool = False
) -> str:
    body = frame.to_html(
        escape=True, index=index, border=0, na_rep="", classes="text" if text else None
    )
    if caption:
        body = body.replace(">", f"><caption>{_e(caption)}</caption>", 1)
    if len(frame) > FOLD_ROWS:
        return f"<details><summary>{len(frame):,} rows: show</summary>{body}</details>"
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


# -- charts --------------------------------------------------------------------------------
def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


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


def _charted(results: Results) -> list[str]:
    """Which bodies get charts: the systems, else the regions, else England."""
    table = results.economy.org_table()
    for kind in ("system", "region"):
        ids = table.loc[table["org_type"] == kind, "org"].tolist()
        if 1 <= len(ids) <= MAX_CHARTED:
            return ids
    return ["england"]


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


def _charts_html(
    results: Results, stress: StressResults | None, sensitivity: SensitivityResults | None
) -> str:
    try:
        from finsim import charts
    except ImportError:  # pragma: no cover - charts itself imports matplotlib lazily
        return ""
    parts = ["<h2>Charts</h2>"]
    try:
        charts._figure(1, 1)
    except charts.PlotExtraMissing:
        return f'<h2>Charts</h2><p class="note">{_e(charts.PLOT_EXTRA)}</p>'
    last = results.years[-1]
    names = _charted(results)
    if names != ["england"]:
        names = ["england", *names]
    if stress is not None:
        parts += _stress_charts_html(stress, names, last)
    else:
        parts.append("<h3>Surplus / (deficit) across replications</h3>")
        for name in names:
            parts.append(
                _figure_html(partial(charts.fan_chart, results, name), _fan_caption(results, name))
            )
        if results.monthly is not None:
            parts.append(
                _figure_html(
                    lambda: charts.fan_chart(results, names[-1], by="month"),
                    f"Fan chart of {names[-1]}'s year-to-date position by month, as reported",
                )
            )
        parts.append(f"<h3>From plan to outturn, {_e(last)}</h3>")
        parts.append(_BRIDGE_ABOUT)
        parts += _waterfalls_html(results, names, last)
        parts.append(f"<h3>Who paid whom, {_e(last)}</h3>")
        parts.append(_figure_html(lambda: charts.sankey(results, last), f"Money flows in {last}"))
    if "allocations" in results.table_names:
        parts.append("<h3>Distance from target</h3>")
        parts.append(
            _figure_html(
                lambda: charts.distance_from_target(results, last),
                f"Commissioners' distance from target before and after pace of change, {last}"
                + (f", variant {results.variant}" if stress is not None else ""),
            )
        )
    if sensitivity is not None:
        parts.append("<h3>What drives the outcomes</h3>")
        for outcome in sensitivity.outcomes:
            parts.append(
                _figure_html(
                    partial(charts.tornado, sensitivity, outcome),
                    f"Tornado chart of {outcome}",
                )
            )
    return "\n".join(parts)


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


# -- the page ------------------------------------------------------------------------------
def _about(results: Results, scenario: Scenario | None, stress: StressResults | None = None) -> str:
    from finsim import __version__

    types = results.economy.org_table()["org_type"].value_counts()
    counts = ", ".join(
        f"{int(types.get(kind, 0)):,} {plural}"
        for kind, plural in (
            ("region", "regions"),
            ("system", "systems"),
            ("commissioner", "commissioners"),
            ("provider", "providers"),
        )
    )
    years = results.years
    rows = [
        ("Scenario", results.scenario_name),
        ("Source file", results.source or "(not from a file)"),
        ("Variant", results.variant),
        ("Financial years", f"{years[0]} to {years[-1]} ({len(years)} years)"),
        ("Organisations", counts),
        ("Replications", f"{results.replications:,}"),
        ("Seed", str(results.seed)),
        ("Money", "GBP million (£m)"),
        ("finsim version", __version__),
    ]
    if scenario is not None and scenario.variants:
        rows.insert(3, ("Variants declared", ", ".join(scenario.variants)))
    if stress is not None:
        rows[2] = ("Variants compared", ", ".join(stress.variants))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in rows)
    return f'<table class="about">{body}</table>'


def _organisations(results: Results) -> str:
    table = results.economy.org_table()
    table = table[table["org_type"] != "external"][["org", "name", "org_type", "system", "region"]]
    table = table.rename(columns={"org": "id", "org_type": "type"})
    return _table_html(table.fillna(""), index=False, text=True)


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
            "meeting its control total, with its 95% Wilson interval.</p>"
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


def _sensitivity_html(sensitivity: SensitivityResults) -> str:
    drivers = sensitivity.drivers().round(3)
    return "\n".join(
        [
            "<h2>Sensitivity</h2>",
            f"<p>{len(sensitivity.samples):,} sample points of {len(sensitivity.inputs)} "
            "uncertain inputs; Spearman rank correlation of each input with each outcome.</p>",
            _table_html(drivers, "", False),
        ]
    )


def report_html(
    results: Results,
    scenario: Scenario | None = None,
    stress: StressResults | None = None,
    sensitivity: SensitivityResults | None = None,
) -> str:
    """The report of a run as one self-contained HTML page.

    Holds what was run (scenario, years, organisations, variant, seed, replications,
    finsim version), each body's surplus by year with its 90% interval, the chance of
    meeting control totals, who subsidises whom, and the charts of :mod:`finsim.charts`
    (left out, with a note, when matplotlib is not installed). ``scenario`` adds its
    description and variants; ``stress`` (from :func:`finsim.stress`, with ``results`` one
    of its variants) a comparison of scheme variants: each variant's tables and charts,
    acceptance, the probability of meeting control totals, incentive funding earned and
    lost, expected shortfall, and each variant's paired differences from the first with
    their standard errors; ``sensitivity`` (from :func:`finsim.sensitivity`) what drives the
    outcomes.
    """
    from finsim import __version__

    name = results.scenario_name
    n = results.replications
    what = "one replication" if n == 1 else f"mean [5th, 95th percentile] of {n:,} replications"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(name)}: finsim report</title>",
        f"<style>{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(name)}</h1>",
    ]
    if scenario is not None and scenario.description:
        parts.append(f'<p class="lead">{_e(scenario.description)}</p>')
    parts += ["<h2>About this run</h2>", _about(results, scenario, stress)]
    parts += ["<h3>Organisations</h3>", _organisations(results)]
    runs = {results.variant: results} if stress is None else stress.results

    def of(variant: str) -> str:
        return "" if stress is None else f"Variant {variant}"

    parts += ["<h2>Surplus / (deficit) by organisation and year</h2>", f"<p>£m, {_e(what)}.</p>"]
    for variant, res in runs.items():
        parts.append(_table_html(surplus_table(res), of(variant)))
    parts += _sections(
        "Control totals",
        {variant: control_total_table(res) for variant, res in runs.items()},
        of,
        "Control total (£m, measured on the surplus before incentive funding): probability "
        "of meeting it.",
        none="The scenario sets no control totals.",
    )
    parts += _sections(
        "Who subsidises whom",
        {variant: subsidy_table(res) for variant, res in runs.items()},
        of,
        "Mean net money received (+) or given (−), £m, through top slices, risk shares, "
        "re-allocations and extra surpluses asked.",
        none="No money moved between bodies through top slices, risk shares, re-allocations "
        "or extra surpluses.",
    )
    if stress is not None:
        parts.append(_stress_html(stress))
    if sensitivity is not None:
        parts.append(_sensitivity_html(sensitivity))
    parts.append(_charts_html(results, stress, sensitivity))
    parts += [
        f"<footer><p>Written by finsim {_e(__version__)}. Money in GBP million. Years are "
        "financial years, April to March.</p></footer>",
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(
    path: str | Path,
    results: Results,
    scenario: Scenario | None = None,
    stress: StressResults | None = None,
    sensitivity: SensitivityResults | None = None,
) -> Path:
    """Write :func:`report_html` to ``path`` atomically (a reader never sees half a file).

    A missing parent folder is created (``finsim run ... --report demo/report.html``). Only
    a new path or a regular file is written: a folder, a device or a named pipe at ``path``
    is refused (:func:`finsim.results.check_output_path`) before the page is built.
    """
    target = check_output_path(path)
    page = report_html(results, scenario, stress, sensitivity)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return target


# -- results saved by a run ----------------------------------------------------------------
def load_results(directory: str | Path, scenario: Scenario | None = None) -> Results:
    """The Results of a run saved with ``finsim run FILE --out DIR``, rebuilt from its chunks.

    The scenario is read again from the file the manifest names (or pass ``scenario``) and
    must be unchanged since the run; no chunk is recomputed, and an unfinished run is
    refused with the command that finishes it.
    """
    return load_run(directory, scenario)[1]


#: The most replications a saved run can hold: chunk folders are named by their first and
#: last replication in nine digits (``finsim.store.CHUNK_NAME``).
MAX_SAVED_REPLICATIONS = 10**9


def _checked_manifest(path: Path, manifest: Any) -> tuple[str, int, int, int]:
    """The source, replications, seed and chunk size a saved run's manifest records, each
    checked: a manifest edited by hand (or tampered with) gets an error naming the field,
    never a run of 10^11 replications or a list of that many chunks."""
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: not a finsim manifest (expected a JSON object)")

    def bad(key: str, expected: str) -> ResultsError:
        shown = repr(manifest[key]) if key in manifest else "nothing"
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return ResultsError(
            f"{path}: cannot read the manifest: field '{key}': expected {expected}, got {shown}"
        )

    def whole(key: str, low: int, high: int | None = None) -> int:
        value = manifest.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if value >= low and (high is None or value <= high):
                return value
        span = f"from {low} to {high:,}" if high is not None else f">= {low}"
        raise bad(key, f"a whole number {span}")

    if not isinstance(manifest.get("source"), str):
        raise bad("source", "the path of the scenario file (text)")
    replications = whole("replications", 1, MAX_SAVED_REPLICATIONS)
    seed = whole("seed", 0)
    chunk = whole("chunk_size", 1, MAX_SAVED_REPLICATIONS)
    if manifest.get("variant") is not None and not isinstance(manifest["variant"], str):
        raise bad("variant", "a variant's name (text)")
    for key in ("antithetic", "keep_monthly", "keep_tables", "keep_flows", "keep_positions"):
        if key in manifest and not isinstance(manifest[key], bool):
            raise bad(key, "true or false")
    return manifest["source"], replications, seed, chunk


def _fits(name: str, replications: int, chunk: int) -> bool:
    """Whether a chunk folder's name is one of the chunks of ``replications`` cut by ``chunk``."""
    first, last = (int(part) for part in name.split("-"))
    return (
        first % chunk == 0 and first < replications and last == min(first + chunk, replications) - 1
    )


def load_run(directory: str | Path, scenario: Scenario | None = None) -> tuple[Scenario, Results]:
    """The scenario (with the run's variant) and the Results of a saved run: see
    :func:`load_results`."""
    from finsim.runner import run
    from finsim.scenario import load_scenario
    from finsim.store import MANIFEST, ChunkStore, read_manifest

    folder = Path(directory)
    try:
        is_folder = folder.is_dir()
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{folder}: cannot read the results folder ({exc})") from None
    if not is_folder:
        raise ResultsError(f"{folder}: no such results folder")
    path = folder / MANIFEST
    if not path.exists():
        raise ResultsError(
            f"{folder}: not a finsim results folder (no {MANIFEST}); "
            f"write one with: finsim run FILE --out {folder}"
        )
    manifest = read_manifest(path)
    source, replications, seed, chunk = _checked_manifest(path, manifest)
    if scenario is None:
        if not Path(source).is_file():
            raise ResultsError(
                f"{path}: the scenario file it was run from, '{source}', is not found from "
                "here: run from the folder the run started in, or name the file with --scenario"
            )
        scenario = load_scenario(source)
    scenario = scenario.with_variant(str(manifest.get("variant") or scenario.variant))
    # counted, not listed: the chunks the manifest asks for are only listed (by ``run``
    # below) once every one of them is there as a folder
    n_chunks = -(-replications // chunk)
    done = ChunkStore(folder, manifest).done()
    finished = sum(_fits(name, replications, chunk) for name in done)
    if finished < n_chunks:
        raise ResultsError(
            f"{folder}: the run is unfinished ({finished:,} of {n_chunks:,} chunks); "
            f"finish it with: finsim run {source} --replications {replications} --seed {seed}"
            + (f" --variant {scenario.variant}" if manifest.get("variant") != "baseline" else "")
            + f" --chunk-size {chunk} --out {folder} --resume"
        )
    keep = {
        key: manifest[key]
        for key in ("keep_monthly", "keep_tables", "keep_flows", "keep_positions")
        if key in manifest
    }
    results = run(
        scenario,
        replications=replications,
        seed=seed,
        chunk_size=chunk,
        antithetic=bool(manifest.get("antithetic", False)),
        out=folder,
        resume=True,
        progress=False,
        **keep,
    )
    if "keep_tables" in manifest:  # what the run was asked to keep, not inferred from chunks
        results.tables_kept = bool(manifest["keep_tables"])
    return scenario, results
