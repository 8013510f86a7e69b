"""How the explorer lays out a run's results and finsim's errors on the page.

The figures come from :mod:`finsim.app.outcomes`, the fan chart from
:func:`finsim.charts.fan_chart`, the table of surplus by body from
:func:`finsim.report.surplus_table` and the workbook from :func:`finsim.export.to_excel`.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
import streamlit as st
import yaml

from finsim.app import outcomes
from finsim.app.running import Run
from finsim.charts import ChartError, PlotExtraMissing, fan_chart
from finsim.errors import ResultsError, ScenarioError

#: Characters Markdown (and Streamlit's :emoji: and $maths$) would read as markup.
_MARKUP = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def plain(text: str) -> str:
    """``text`` escaped to show as written in Streamlit's Markdown."""
    return _MARKUP.sub(r"\\\1", text)


def problems(error: ScenarioError, head: str, where: Any = None) -> None:
    """finsim's own list of problems, each as finsim words it (file, line, field path), in
    the container ``where`` (default: where the page is being written)."""
    n = len(error.problems)
    lines = [f"**{head}**: {n} problem{'s' if n != 1 else ''}", ""]
    lines += [f"- {plain(str(problem))}" for problem in error.problems]
    (st if where is None else where).error("\n".join(lines))


def results(run: Run, last: dict[str, Any]) -> None:
    """The results of ``run``: what was run, the headline figures, the fan chart, control
    totals, who subsidises whom, surplus by body, the workbook and the parameters as a
    variant. ``last`` keeps what is worked out once per run (the workbook)."""
    res = run.results
    changes: dict[str, Any] = last["changes"]
    variant = last["variant"]
    moved = " with the parameters moved" if changes else ""
    st.caption(
        f"{res.replications:,} replications from seed {res.seed}, variant {variant}{moved}: "
        f"run in {run.seconds:,.1f} s."
    )
    heads = outcomes.headlines(res)
    st.markdown(f"**In {res.years[-1]}**")
    for column, head in zip(st.columns(len(heads)), heads, strict=True):
        column.metric(head.label, head.value, help=head.help)
    _fan(res)
    totals, subsidies, surplus = st.tabs(
        ["Control totals", "Who subsidises whom", "Surplus by body"]
    )
    with totals:
        _control_totals(res)
    with subsidies:
        _subsidies(res)
    with surplus:
        from finsim.report import surplus_table

        st.caption("GBP m: the mean over replications and, in brackets, the 90% interval.")
        st.dataframe(surplus_table(res))
    _download(res, last)
    if changes:
        name = next(iter(last["as_variant"]))
        with st.expander("These parameters as a variant of the scenario file"):
            st.caption(
                "Add this to the scenario file (under its variants:) and run it with "
                f"finsim run FILE --variant {name}."
            )
            st.code(yaml.safe_dump({"variants": last["as_variant"]}, sort_keys=False), "yaml")


def _fan(res: Any) -> None:
    choices = outcomes.fan_choices(res)
    first = outcomes.default_fan(res)
    org = st.selectbox(
        "Fan chart of",
        list(choices),
        index=list(choices).index(first) if first in choices else 0,
        format_func=lambda key: choices[key],
        key="fan_org",
        help="Surplus / (deficit) across replications: the bands hold 30%, 60% and 90% of "
        "replications around the median. Against a control total, the surplus before "
        "incentive funding, the measure the total is met on.",
    )
    try:
        st.pyplot(fan_chart(res, org))
    except (ChartError, PlotExtraMissing, ResultsError) as exc:
        st.error(f"finsim could not draw the chart: {plain(str(exc))}")


def _control_totals(res: Any) -> None:
    table = outcomes.control_totals(res)
    if table.empty:
        st.write("This scenario sets no control totals.")
        return
    st.caption(
        "Each control total (GBP m, before incentive funding), the mean surplus on the same "
        "measure, the probability of meeting the total and, for a body, the share of "
        "replications in which it accepted its total."
        + (
            ""
            if res.positions_kept
            else " (A run of more than 2,000 replications keeps a summary of each body's "
            "positions, without the decisions: run fewer to see them.)"
        )
    )
    shown = pd.DataFrame(
        {
            "year": table["fy"],
            "level": table["level"].replace("org", "body"),
            "name": table["name"],
            "control total, £m": table["control_total"],
            "mean surplus before incentives, £m": table["surplus_before_incentives_mean"],
            "probability of meeting": 100 * table["p_met_control_total"],
            "accepting": 100 * table["accepting"],
        }
    )
    money = st.column_config.NumberColumn(format="%.1f")
    percent = st.column_config.NumberColumn(format="%.0f%%")
    st.dataframe(
        shown,
        hide_index=True,
        column_config={
            "control total, £m": money,
            "mean surplus before incentives, £m": money,
            "probability of meeting": percent,
            "accepting": percent,
        },
    )


def _subsidies(res: Any) -> None:
    table = outcomes.subsidies(res)
    if table.empty:
        st.write(
            "No money moved between bodies through top slices, re-allocations, risk shares, "
            "savings or extra surpluses in this run."
        )
        return
    st.caption(
        "Mean money each body received (+) or gave (-), GBP m a year, largest givers first; "
        "with its deprivation quintile (1: most deprived) and need per head."
    )
    money = st.column_config.NumberColumn(format="%.2f")
    columns = ["top_slice", "reallocation", "risk_share", "savings", "extra_surplus"]
    st.dataframe(
        table.drop(columns=["org"]),
        hide_index=True,
        column_config={name: money for name in [*columns, "net_received"]},
    )


def _download(res: Any, last: dict[str, Any]) -> None:
    if "workbook" not in last:
        try:
            with st.spinner("Writing the results workbook..."):
                last["workbook"] = outcomes.workbook(res)
        except (ResultsError, ImportError) as exc:
            last["workbook"] = None
            last["workbook_error"] = str(exc)
    if last["workbook"] is None:
        st.error(f"finsim could not write the workbook: {plain(last['workbook_error'])}")
        return
    st.download_button(
        "Download the results workbook (.xlsx)",
        data=last["workbook"],
        file_name="finsim-results.xlsx",
        mime=XLSX,
        key="download",
        help="The summary over replications in the layout of a plan template, the control "
        "totals' decisions, who subsidises whom and event counts (finsim.export.to_excel). "
        "Every replication's positions and flows: finsim run FILE --out DIR.",
    )
