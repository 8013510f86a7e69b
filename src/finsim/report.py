"""One self-contained HTML report of a run: what was run, the key tables and the charts.

:func:`report_html` returns the page as text and :func:`write_report` writes it
atomically. The file opens offline anywhere and can be mailed as it is: its styles are
inline, its charts are PNG images embedded as base64 data, and it fetches nothing (no
scripts, no fonts, no links to the web). It prints on A4 (``@page { size: A4 }``): each
section (``h2``) starts a page, figures and table rows are not split, a long table's header
repeats on each page, and nothing is folded away or shown only on the screen (a long table
scrolls on screen and prints whole). Every name that comes from a scenario file (the
scenario's name and description, organisations' names) is HTML-escaped, so a name cannot
inject markup.

:func:`load_results` rebuilds a run saved with ``finsim run FILE --out DIR`` from its
chunks, without recomputing any, so a report can be written long after the run (it lives
in :mod:`finsim.saved`). The page's building blocks are in :mod:`finsim.report_blocks`,
the comparison of scheme variants in :mod:`finsim.report_stress`.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.report_blocks import (
    _BRIDGE_ABOUT,
    FOLD_ROWS,
    _e,
    _fan_caption,
    _figure_html,
    _money,
    _png,
    _sections,
    _table_html,
    _waterfalls_html,
)
from finsim.report_stress import _paired_html, _stress_charts_html, _stress_html
from finsim.results import Results, atomic_write, check_output_path
from finsim.saved import MAX_SAVED_REPLICATIONS, load_results, load_run

if TYPE_CHECKING:
    from finsim.scenario.loader import Scenario
    from finsim.sensitivity import SensitivityResults
    from finsim.stress import StressResults

__all__ = [
    "FOLD_ROWS",
    "MAX_CHARTED",
    "MAX_SAVED_REPLICATIONS",
    "_BRIDGE_ABOUT",
    "_e",
    "_fan_caption",
    "_figure_html",
    "_money",
    "_paired_html",
    "_png",
    "_sections",
    "_stress_charts_html",
    "_stress_html",
    "_table_html",
    "_waterfalls_html",
    "control_total_table",
    "load_results",
    "load_run",
    "report_html",
    "subsidy_table",
    "surplus_table",
    "write_report",
]


#: At most this many systems (else regions, else England alone) get their own charts.
MAX_CHARTED = 6

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
div.long { max-height: 36em; overflow: auto; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; font-size: 9pt; color: #000; }
  h2 { break-before: page; page-break-before: always; border-bottom-color: #000; }
  h2.opening { break-before: auto; page-break-before: auto; }
  h3, caption, figcaption { break-after: avoid; page-break-after: avoid; }
  figure, tr { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; }
  th { background: #eee; }
  table { font-size: 8pt; }
  figure img { max-width: 100%; max-height: 230mm; border: none; }
  div.long { max-height: none; overflow: visible; }
  footer { color: #000; }
}
"""


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


def _charted(results: Results) -> list[str]:
    """Which bodies get charts: the systems, else the regions, else England."""
    table = results.economy.org_table()
    for kind in ("system", "region"):
        ids = table.loc[table["org_type"] == kind, "org"].tolist()
        if 1 <= len(ids) <= MAX_CHARTED:
            return ids
    return ["england"]


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
    parts += ['<h2 class="opening">About this run</h2>', _about(results, scenario, stress)]
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
