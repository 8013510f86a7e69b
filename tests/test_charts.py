"""Charts: every chart draws on every shipped example it applies to; the bridge adds up."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pandas as pd
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


#: One CCG buying from one trust for one year. The plan is known from the file alone: the
#: trust is paid its contracts' plan value (10,000 electives at GBP 3,500 and 50,000 first
#: outpatient appointments at GBP 160: GBP 43m, and a GBP 40m block) and its other income
#: (GBP 5m), and pays its fixed costs (GBP 80m) less the savings it plans (GBP 4m); the CCG
#: is allocated GBP 200m and pays the contracts' plan value and its other spending (GBP 110m).
#: Activity (shock sd 5%) and savings delivery (mean 70%) vary by replication; the plan not.
ONE_TRUST = """
scenario: {name: "One trust, one CCG", start: 2018/19, years: 1}
organisations:
  centre: {id: nhse}
  regions: [{id: r1}]
  systems: [{id: s1, region: r1}]
  commissioners: [{id: ccg, system: s1, population: 300000}]
  providers: [{id: trust, system: s1, kind: acute}]
allocations:
  opening: {ccg: 200.0}
  uplift: {2018/19: 0.0}
tariff:
  prices: {elective: 3500, outpatient_first: 160}
contracts:
  - {id: acute, commissioner: ccg, provider: trust,
     plan: {elective: 10000, outpatient_first: 50000}}
  - {id: block, commissioner: ccg, provider: trust, type: block, value: 40.0}
activity: {shock_sd: 0.05, monthly_sd: 0.02}
costs:
  providers: {trust: {fixed: 80.0, variable: 0.0, other_income: 5.0}}
  commissioners: {ccg: {other_spend: 110.0}}
savings:
  programmes:
    - {id: cip, who: [trust], amount: {trust: 4.0}, delivery: {mean: 0.7, sd: 0.15},
       recurrent_share: 0.5}
"""
TRUST_PLAN = (10_000 * 3500 + 50_000 * 160) / 1e6 + 40.0 + 5.0 - (80.0 - 4.0)  # 12.0
CCG_PLAN = 200.0 - ((10_000 * 3500 + 50_000 * 160) / 1e6 + 40.0) - 110.0  # 7.0


def bars(res: finsim.Results, org: str) -> pd.Series:
    return charts.bridge(res, org).set_index("step")["amount"]


@pytest.fixture(scope="module")
def one_trust() -> finsim.Scenario:
    return finsim.loads_scenario(ONE_TRUST)


def test_the_plan_is_the_figure_the_scenario_file_gives(one_trust):
    """The bridge's plan is the plan computed by hand from the file, for the trust, the CCG
    and their system; the savings shortfall is the mean of the savings table's, and the
    outturn the mean surplus of the positions."""
    res = finsim.run(one_trust, replications=100, seed=2)
    for org, plan in (("trust", TRUST_PLAN), ("ccg", CCG_PLAN), ("s1", TRUST_PLAN + CCG_PLAN)):
        amounts = bars(res, org)
        assert amounts["plan"] == pytest.approx(plan, abs=1e-9)
    trust = bars(res, "trust")
    shortfall = res.table("savings")["shortfall"].mean()
    assert shortfall > 0.5  # delivery of 70% on average: the plan is not the outturn
    assert trust["savings shortfall"] == pytest.approx(-shortfall, abs=1e-9)
    surplus = res.positions.query("org == 'trust'")["surplus"].mean()
    assert trust["outturn"] == pytest.approx(surplus, abs=1e-9)


def test_the_waterfall_is_right_at_a_thousand_replications(one_trust):
    """Above 200 replications a run keeps no mechanism tables by default: the bridge refuses,
    saying how to keep them, rather than drawing a plan without the drivers. Kept, the bars
    at 1,000 replications are those of a run that kept everything, and the plan is still the
    file's."""
    lean = finsim.run(one_trust, replications=1000, seed=2)
    assert not lean.tables_kept
    for draw in (charts.bridge, charts.waterfall):
        with pytest.raises(ResultsError, match=r"keep_tables=True \(finsim run --keep-tables"):
            draw(lean, "trust")
    kept = finsim.run(one_trust, replications=1000, seed=2, keep_tables=True)
    everything = finsim.run(
        one_trust,
        replications=1000,
        seed=2,
        chunk_size=1000,
        keep_tables=True,
        keep_flows=True,
        keep_monthly=True,
        keep_positions=True,
    )
    for org in ("trust", "ccg", "s1", "england"):
        pd.testing.assert_frame_equal(
            charts.bridge(kept, org), charts.bridge(everything, org), check_exact=True
        )
    assert bars(kept, "trust")["plan"] == pytest.approx(TRUST_PLAN, abs=1e-9)
    assert bars(kept, "ccg")["plan"] == pytest.approx(CCG_PLAN, abs=1e-9)
    drawn(charts.waterfall(kept, "trust"))


def test_a_run_with_run_wide_tables_only_is_not_taken_for_one_that_kept_its_tables():
    """The ICS example's acceptance decisions are a run-wide table kept at any size: a run
    without the per-replication tables still refuses the bridge (it once drew one without
    its activity bar)."""
    sc = finsim.load_scenario(ROOT / "examples" / "ics_control_totals_2018.yaml")
    res = finsim.run(sc, replications=5, seed=1, keep_tables=False)
    assert res.table_names == ["acceptance"] and not res.tables_kept
    with pytest.raises(ResultsError, match="keep_tables=True"):
        charts.bridge(res, "greater_manchester_acute")


@pytest.mark.parametrize("stem", ["kent_dispute_2017", "joint_oversight_2018", "saffs_2001"])
def test_the_bridge_outturn_is_the_mean_surplus_for_every_body_and_year(runs, stem):
    """The bridge's outturn is the mean surplus of the positions, for every group and year."""
    res = runs[stem]
    positions = res.positions
    table = res.economy.org_table()
    groups = table.loc[table["org_type"].isin(["system", "region", "centre"]), "org"].tolist()
    bodies = table.loc[table["org_type"].isin(["commissioner", "provider"]), "org"].tolist()
    for org in ["england", *groups, *bodies[:6]]:
        accounts, _, _ = charts._selection(res, org)
        ids = np.array(res.economy.ids, dtype=object)[accounts]
        for fy in res.years:
            amounts = charts.bridge(res, org, fy).set_index("step")["amount"]
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


ICS = ROOT / "examples" / "ics_control_totals_2018.yaml"


@pytest.fixture(scope="module")
def ics_stress() -> finsim.StressResults:
    return finsim.stress(
        finsim.load_scenario(ICS), ["own_only", "interim", "fully_system"], replications=40, seed=1
    )


def system_before_incentives(res: finsim.Results, system: str) -> np.ndarray:
    """A system's surplus before incentive funding in each replication, from the positions:
    the sum over its members and its own account."""
    pos = res.positions
    inside = (pos["system"] == system) | (pos["org"] == system)
    return pos[inside].groupby("replication")["surplus_before_incentives"].sum().to_numpy()


def test_a_fan_against_a_control_total_fans_the_surplus_before_incentives(ics_stress):
    """Control totals are met before incentive funding, so the fan drawn against one is of the
    surplus before it (the quantiles of the positions'), and says so; after incentives, the
    fan is of the reported surplus and no control total is drawn."""
    res = ics_stress.results["interim"]
    q, control, paid = charts._yearly(res, "frimley", before_incentives=True)
    values = system_before_incentives(res, "frimley")
    assert len(q) == 7  # the median and each band's ends
    for p, drawn_at in q.items():
        assert drawn_at[0] == pytest.approx(np.quantile(values, p), abs=1e-6)
    assert np.isfinite(control).all() and paid
    fig = charts.fan_chart(res, "frimley")
    assert "before incentive funding" in fig.get_suptitle()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "control total (before incentives)" in labels
    after = charts.fan_chart(res, "frimley", before_incentives=False)
    assert "after incentive funding" in after.get_suptitle()
    labels = [t.get_text() for t in after.axes[0].get_legend().get_texts()]
    assert not any("control total" in label for label in labels)
    reported = res.summary(quantiles=(0.5,)).query("level == 'system' and name == 'frimley'")
    q_after, _, _ = charts._yearly(res, "frimley", before_incentives=False)
    assert q_after[0.5][0] == reported["surplus_p50"].iloc[0]
    assert q_after[0.5][0] > q[0.5][0] + 1  # the incentive funding it earns: not the same fan


def test_variant_fans_draw_every_variant_in_the_order_asked(ics_stress):
    """One panel per variant, in the order of the stress test, on one scale."""
    fig = drawn(charts.variant_fans(ics_stress, "frimley"), render=True)
    assert [ax.get_title() for ax in fig.axes] == ["own_only", "interim", "fully_system"]
    assert len({ax.get_ylim() for ax in fig.axes}) == 1
    assert "before incentive funding" in fig.get_suptitle()
