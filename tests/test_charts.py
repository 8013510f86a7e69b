"""Charts: every chart draws on every shipped example it applies to; the bridge adds up."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib import _pylab_helpers  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import finsim  # noqa: E402
from finsim import charts  # noqa: E402
from finsim.errors import ResultsError  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.yaml") if p.stem != "england_synthetic")
R = 20


def drawn(fig: Figure, render: bool = False) -> Figure:
    """The chart is a Figure (and, with ``render``, renders: layout and text included; each
    kind renders once below, as rendering is most of a chart's time). Figures built with
    Figure() are never registered with pyplot, so there is nothing to close."""
    assert isinstance(fig, Figure)
    if render:
        fig.savefig(io.BytesIO(), format="png", dpi=30)
    return fig


@pytest.fixture(scope="module")
def runs() -> dict[str, finsim.Results]:
    out = {}
    for path in EXAMPLES:
        scenario = finsim.load_scenario(path)
        out[path.stem] = finsim.run(scenario, replications=R, seed=3)
    return out


def groups(res: finsim.Results) -> list[str]:
    """England, and a system or region of the run if it has one."""
    table = res.economy.org_table()
    found = table.loc[table["org_type"].isin(["system", "region"]), "org"].tolist()
    return ["england", *found[:1]]


@pytest.mark.parametrize("stem", [p.stem for p in EXAMPLES])
def test_every_run_chart_draws_on_every_example(runs, stem):
    """Fan (by year and month), waterfall, sankey and distance from target draw on each example."""
    res = runs[stem]
    before = _pylab_helpers.Gcf.get_num_fig_managers()
    for name in groups(res):
        drawn(charts.fan_chart(res, name))
        drawn(charts.waterfall(res, name, res.years[-1]))
    drawn(charts.fan_chart(res, groups(res)[-1], by="month"))
    drawn(charts.sankey(res, res.years[0]))
    drawn(charts.distance_from_target(res, res.years[-1]))
    assert _pylab_helpers.Gcf.get_num_fig_managers() == before, "no pyplot global state"


@pytest.mark.parametrize("stem", ["kent_dispute_2017", "joint_oversight_2018", "saffs_2001"])
def test_bridge_adds_up_from_plan_to_outturn_for_every_body_and_year(runs, stem):
    """plan + drivers = outturn exactly, and the outturn is the mean surplus of the positions."""
    res = runs[stem]
    positions = res.positions
    table = res.economy.org_table()
    groups = table.loc[table["org_type"].isin(["system", "region", "centre"]), "org"].tolist()
    bodies = table.loc[table["org_type"].isin(["commissioner", "provider"]), "org"].tolist()
    for org in ["england", *groups, *bodies[:6]]:
        accounts, _, _ = charts._selection(res, org)
        ids = np.array(res.economy.ids, dtype=object)[accounts]
        for fy in res.years:
            table = charts.bridge(res, org, fy)
            amounts = table.set_index("step")["amount"]
            drivers = amounts[list(charts.DRIVERS)].sum()
            assert amounts["plan"] + drivers == pytest.approx(amounts["outturn"], abs=1e-9)
            mine = positions[(positions["fy"] == fy) & positions["org"].isin(ids)]
            surplus = mine.groupby("replication")["surplus"].sum().mean()
            assert amounts["outturn"] == pytest.approx(surplus, abs=1e-6)


def test_bridge_names_the_drivers_where_mechanisms_act(runs):
    """Disputes show for the east Kent provider; savings shortfalls in the joint oversight economy."""
    kent = charts.bridge(runs["kent_dispute_2017"], "ekhuft", "2017/18").set_index("step")
    assert kent.loc["disputes", "amount"] < 0 and kent.loc["tariff & coding", "amount"] > 0
    joint = charts.bridge(runs["joint_oversight_2018"], "england").set_index("step")
    assert joint.loc["savings shortfall", "amount"] < 0
    one = charts.bridge(runs["kent_dispute_2017"], "ekhuft", "2017/18", replication=0)
    assert one.attrs["replication"] == 0
    drawn(charts.waterfall(runs["kent_dispute_2017"], "ekhuft", "2017/18", replication=0))


def test_each_kind_of_run_chart_renders(runs):
    """Fan, waterfall, sankey and distance charts render, text and layout included."""
    res = runs["two_systems"]
    drawn(charts.fan_chart(res, "north_shire"), render=True)
    drawn(charts.fan_chart(runs["ics_control_totals_2018"], "england"), render=True)  # one year
    drawn(charts.fan_chart(res, "north_acute", by="month"), render=True)
    drawn(charts.waterfall(runs["kent_dispute_2017"], "ekhuft", "2017/18"), render=True)
    drawn(charts.sankey(res, "2018/19"), render=True)
    drawn(charts.distance_from_target(runs["allocations_review_2013"], "2014/15"), render=True)


def test_sankey_groups_and_colours(runs):
    """A sankey can group bodies by type or system and colour by recurrence."""
    res = runs["two_systems"]
    drawn(charts.sankey(res, "2018/19", group="org_type"), render=True)
    drawn(charts.sankey(res, "2018/19", by="recurrence", group="system"))


def test_acceptance_heatmap_on_the_examples_with_acceptance_decisions():
    """The heatmap draws for the ICS and regional control total examples' variants."""
    for stem, variants in (
        ("ics_control_totals_2018", ["own_only", "fully_system"]),
        ("regional_control_total_2019", ["baseline", "top_slice"]),
    ):
        scenario = finsim.load_scenario(ROOT / "examples" / f"{stem}.yaml")
        stressed = finsim.stress(scenario, variants, replications=3, seed=1)
        drawn(charts.acceptance_heatmap(stressed), render=stem.startswith("ics"))


def test_tornado_from_a_sensitivity_run():
    """The tornado draws each outcome of a small Latin hypercube."""
    scenario = finsim.load_scenario(
        ROOT / "examples" / "regional_control_total_2019.yaml", variant="rapid_savings"
    )
    analysis = finsim.sensitivity(scenario, samples=6, replications=5, seed=1)
    for outcome in analysis.outcomes:
        drawn(charts.tornado(analysis, outcome), render=outcome == analysis.outcomes[0])
    with pytest.raises(charts.ChartError, match="no outcome 'nope'"):
        charts.tornado(analysis, "nope")


def test_england_synthetic_fan_chart():
    """The large example (7 regions, 326 bodies) draws a fan chart of a region (R = 2)."""
    res = finsim.run(
        finsim.load_scenario(ROOT / "examples" / "england_synthetic.yaml"), replications=2, seed=1
    )
    drawn(charts.fan_chart(res, "region_1"), render=True)


def test_missing_data_and_bad_names_are_clear_errors(runs):
    """Data not kept is a ResultsError saying how to keep it; an unknown body or year a ChartError."""
    scenario = finsim.load_scenario(ROOT / "examples" / "two_systems.yaml")
    lean = finsim.run(scenario, replications=3, keep_monthly=False, keep_flows=False)
    with pytest.raises(ResultsError, match="keep_monthly=True"):
        charts.fan_chart(lean, "england", by="month")
    with pytest.raises(ResultsError, match="keep_flows=True"):
        charts.waterfall(lean, "england")
    res = runs["two_systems"]
    with pytest.raises(charts.ChartError, match="did you mean 'north_shire'"):
        charts.fan_chart(res, "north_shir")
    with pytest.raises(charts.ChartError, match="no financial year '2030/31'"):
        charts.sankey(res, "2030/31")
    with pytest.raises(charts.ChartError, match="by 'year' or 'month'"):
        charts.fan_chart(res, "england", by="week")
    with pytest.raises(ResultsError, match="control_totals"):
        charts.acceptance_heatmap(finsim.stress(scenario, ["baseline"], replications=2))


def test_without_matplotlib_the_message_names_the_extra(runs, monkeypatch):
    """No matplotlib: an ImportError that says which extra to install."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(charts.PlotExtraMissing, match=r"pip install 'finsim\[plot\]'"):
        charts.fan_chart(runs["two_systems"], "england")


def test_fan_chart_by_year_works_from_a_streaming_summary():
    """A run that kept only its summary (keep_positions=False) still draws its yearly fan."""
    scenario = finsim.load_scenario(ROOT / "examples" / "two_systems.yaml")
    res = finsim.run(scenario, replications=10, seed=1, keep_positions=False)
    drawn(charts.fan_chart(res, "north_shire"))
