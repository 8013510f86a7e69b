"""Each seed example reproduces its source's figures, and the figures come out of the mechanisms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import finsim

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SOUTH = ["eastern_ha", "london_ha", "se_ha", "sw_ha"]
NORTH = ["ny_ha", "trent_ha", "nw_ha", "wm_ha"]


@pytest.fixture(scope="module")
def saffs() -> finsim.Results:
    return finsim.run(finsim.load_scenario(EXAMPLES / "saffs_2001.yaml"), replications=1)


def test_saffs_re_allocates_155m_of_central_funds_at_the_end_of_march(saffs):
    """GBP 155m leaves the centre's revenue in March 2002: 55 to all, 52 + 48 to the south."""
    journal = saffs.journal
    march = journal[(journal["fy"] == "2001/02") & (journal["posted_month"] == 12)]
    out = march[
        (march["source"] == "doh")
        & (march["kind"] == "revenue")
        & march["category"].isin(["reallocation", "capital_to_revenue"])
    ]
    assert out["amount"].sum() == pytest.approx(155.0)
    assert out[out["recurrence"] == "recurrent"]["amount"].sum() == pytest.approx(52.0)
    assert set(out[out["recurrence"] == "recurrent"]["target"]) == set(SOUTH)
    assert out[out["category"] == "capital_to_revenue"]["amount"].sum() == pytest.approx(48.0)
    all_regions = out[(out["recurrence"] == "non_recurrent") & (out["category"] == "reallocation")]
    assert all_regions["amount"].sum() == pytest.approx(55.0)
    assert all_regions["target"].nunique() == 8


def test_saffs_capital_swap_moves_48m_south_to_north_and_nets_to_zero(saffs):
    """GBP 48m of southern capital goes north; the regions' capital in total is unchanged."""
    flows = saffs.flows
    swap = flows[(flows["kind"] == "capital") & (flows["category"] == "reallocation")]
    assert set(swap["source"]) == set(SOUTH) and set(swap["target"]) == set(NORTH)
    assert swap["amount"].sum() == pytest.approx(48.0)
    pos = saffs.positions[saffs.positions["fy"] == "2001/02"].set_index("org")
    net_capital = pos["capital_income"] - pos["capital_expenditure"]
    capital = flows[
        (flows["fy"] == "2001/02")
        & (flows["category"] == "capital_allocation")
        & (flows["source"] == "doh")
    ]
    given = capital.groupby("target")["amount"].sum()
    assert net_capital[SOUTH].sum() == pytest.approx(given[SOUTH].sum() - 48.0)
    assert net_capital[NORTH].sum() == pytest.approx(given[NORTH].sum() + 48.0)
    assert swap.groupby("source")["amount"].sum().sum() == pytest.approx(
        swap.groupby("target")["amount"].sum().sum()
    )


def test_saffs_recurrent_52m_is_in_the_southern_baselines_next_year_and_48m_is_gone(saffs):
    """2002/03 baselines: south = 2001/02 allocation + its share of 52; north unchanged; no 48."""
    t = saffs.table("allocations")
    t = t[t["stream"] == "health_authorities"].set_index(["fy", "org"])
    extra = t.loc["2002/03", "baseline"] - t.loc["2001/02", "allocation"]
    assert extra[SOUTH].sum() == pytest.approx(52.0)
    assert np.allclose(extra[NORTH], 0.0)
    grown = t.loc["2002/03", "allocation"][SOUTH] / t.loc["2002/03", "baseline"][SOUTH]
    assert np.allclose(grown, 1.09)


def test_saffs_underlying_position_excludes_the_one_off_money(saffs):
    """In 2001/02 the south's non-recurrent receipts (share of 55, and 48) are outside its underlying surplus."""
    pos = saffs.positions[saffs.positions["fy"] == "2001/02"].set_index("org")
    gap = pos["surplus"] - pos["underlying_surplus"]
    journal = saffs.journal
    nr = journal[
        (journal["fy"] == "2001/02")
        & (journal["recurrence"] == "non_recurrent")
        & (journal["kind"] == "revenue")
        & (journal["source"] == "doh")
    ]
    received = nr.groupby("target")["amount"].sum()
    assert gap[SOUTH].sum() == pytest.approx(received[SOUTH].sum())
    assert received[SOUTH].sum() > 48.0  # the 48 and their share of the 55
    assert gap[SOUTH + NORTH].sum() == pytest.approx(55.0 + 48.0)


def test_saffs_teaching_uplift_reaches_only_teaching_hospitals_and_recurs(saffs):
    """The teaching uplift goes to the four teaching trusts, and again the next year."""
    flows = saffs.flows
    uplift = flows[flows["category"] == "teaching_uplift"]
    assert uplift["target"].nunique() == 4
    assert uplift.groupby("fy")["amount"].sum().to_dict() == pytest.approx(
        {"2001/02": 20.0, "2002/03": 20.0}
    )


def test_allocations_review_pace_of_change_narrows_the_spread_within_published_limits():
    """2014/15-2015/16: growth within 2.14%-4.9% and 1.70%-4.49%, totals met, spread narrowing."""
    res = finsim.run(
        finsim.load_scenario(EXAMPLES / "allocations_review_2013.yaml"), replications=1
    )
    t = res.table("allocations")
    core = t[t["stream"] == "ccg_core"]
    spread = core.groupby("fy")["distance_after"].std()
    assert spread["2013/14"] > spread["2014/15"] > spread["2015/16"]
    for fy, lo, hi, g in (("2014/15", 0.0214, 0.049, 0.029), ("2015/16", 0.0170, 0.0449, 0.025)):
        year = core[core["fy"] == fy]
        assert year["growth"].min() >= lo - 1e-12 and year["growth"].max() <= hi + 1e-12
        assert year["growth"].max() == pytest.approx(hi)  # the furthest below target hit the cap
        assert year["allocation"].sum() == pytest.approx(
            year["baseline"].sum() * (1 + g), rel=1e-12
        )
        far_over = year[year["distance_before"] > 0.10]
        assert np.allclose(far_over["growth"], lo)  # more than 10% over target: floor only
