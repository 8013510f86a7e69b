"""The HTML report: valid, self-contained (nothing fetched), names escaped; saved runs reload."""

from __future__ import annotations

import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

import finsim
from finsim.errors import ResultsError, ScenarioError
from finsim.report import load_results, report_html, write_report

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "two_systems.yaml"
EVIL = "<script>alert(1)</script>"
HOSTILE = f"""
scenario:
  name: '{EVIL} & "quotes"'
  description: '<img src=x onerror=alert(2)>'
  start: 2018/19
  years: 2
organisations:
  centre: {{id: centre, name: '{EVIL}'}}
  regions: [{{id: r1, name: '{EVIL}'}}]
  systems: [{{id: s1, name: '{EVIL}', region: r1}}]
  commissioners: [{{id: c1, name: '{EVIL}', system: s1, population: 100000}}]
  providers: [{{id: p1, name: '</td></tr></table>{EVIL}', system: s1}}]
allocations:
  opening: {{c1: 100.0}}
  uplift: {{2018/19: 0.02}}
contracts:
  - {{id: k1, commissioner: c1, provider: p1, type: block, value: 60.0}}
costs:
  providers: {{p1: {{fixed: 59.0}}}}
  commissioners: {{c1: {{other_spend: 39.0}}}}
"""
VOID = {"meta", "img", "br", "hr", "link", "input", "col", "source", "wbr", "area", "base"}


class Checker(HTMLParser):
    """Tags balance; every src and href is a data: URI or a fragment; no script anywhere."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "script":
            self.problems.append("a <script> element")
        for name, value in attrs:
            if name in ("src", "href") and not (value or "").startswith(("data:", "#")):
                self.problems.append(f"{tag} {name}={value!r} is not embedded")
            if name.startswith("on"):
                self.problems.append(f"an event handler attribute {name}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
        else:
            self.stack.pop()


def check(page: str) -> Checker:
    parser = Checker()
    parser.feed(page)
    parser.close()
    assert not parser.problems, parser.problems
    assert not parser.stack, f"unclosed: {parser.stack}"
    assert page.startswith("<!DOCTYPE html>")
    return parser


@pytest.fixture(scope="module")
def scenario() -> finsim.Scenario:
    return finsim.load_scenario(EXAMPLE)


@pytest.fixture(scope="module")
def page(scenario) -> str:
    return report_html(finsim.run(scenario, replications=20, seed=7), scenario)


def test_report_is_balanced_html_with_the_summary_tables_and_charts(page):
    """The page parses with balanced tags and holds what was run, the tables and the charts."""
    parser = check(page)
    for text in (
        "Two systems, one region",
        "2017/18 to 2019/20 (3 years)",
        "1 regions, 2 systems, 4 commissioners, 4 providers",
        "North Shire Hospitals NHS FT",
        "north_shire [system total]",
        "From plan to outturn",
        "finsim version",
    ):
        assert text in page
    assert parser.tags.count("img") >= 6


def test_report_fetches_nothing(page):
    """No URL at all: no http(s)://, no protocol-relative // in any src or href, no script."""
    assert "http://" not in page and "https://" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?//""", page)
    assert "<script" not in page.lower() and "<link" not in page.lower()
    assert "@import" not in page and "url(" not in page


def test_names_from_the_scenario_file_are_escaped():
    """A hostile scenario name, description and organisation names cannot inject markup."""
    hostile = finsim.loads_scenario(HOSTILE)
    page = report_html(finsim.run(hostile, replications=3, seed=1), hostile)
    check(page)
    assert EVIL not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&amp; &quot;quotes&quot;" in page


def test_report_with_a_stress_test_and_a_sensitivity_run():
    """Variants compared (acceptance heatmap) and what drives the outcomes (tornado charts)."""
    regional = finsim.load_scenario(ROOT / "examples" / "regional_control_total_2019.yaml")
    stressed = finsim.stress(regional, ["baseline", "top_slice"], replications=5, seed=1)
    analysis = finsim.sensitivity(
        regional.with_variant("rapid_savings"), samples=4, replications=3, seed=1
    )
    page = report_html(stressed.results["baseline"], regional, stressed, analysis)
    check(page)
    assert "Scheme variants compared" in page and "Acceptance of control totals" in page
    assert "Tornado chart of p_region_breach" in page and "Control totals" in page


def test_write_report_is_atomic(tmp_path, scenario):
    """write_report writes the page whole, leaving no temporary file beside it."""
    res = finsim.run(scenario, replications=2, seed=1)
    path = write_report(tmp_path / "report.html", res, scenario)
    assert path.read_text(encoding="utf-8").rstrip().endswith("</html>")
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_without_matplotlib_the_report_says_how_to_get_charts(monkeypatch, scenario):
    """No matplotlib: the tables are there and a note names the extra to install."""
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = report_html(finsim.run(scenario, replications=2, seed=1), scenario)
    check(page)
    assert "pip install &#x27;finsim[plot]&#x27;" in page and "<img" not in page


def test_a_saved_run_reloads_without_recomputing(tmp_path, scenario):
    """load_results rebuilds a --out folder's results: the same positions as the run."""
    out = tmp_path / "run"
    res = finsim.run(scenario, replications=6, seed=4, chunk_size=3, out=out)
    again = load_results(out)
    assert again.positions.equals(res.positions) and again.seed == 4
    shutil.rmtree(next((out / "chunks").iterdir()))  # an interrupted run
    with pytest.raises(ResultsError, match="unfinished .* --resume"):
        load_results(out)
    with pytest.raises(ResultsError, match="not a finsim results folder"):
        load_results(tmp_path)
    with pytest.raises(ResultsError, match="no such results folder"):
        load_results(tmp_path / "missing")


def test_a_changed_scenario_is_refused(tmp_path, scenario):
    """Reloading with a scenario that differs from the run's is an error naming what differs."""
    out = tmp_path / "run"
    finsim.run(scenario, replications=2, seed=4, out=out)
    other = finsim.load_scenario(ROOT / "examples" / "kent_dispute_2017.yaml")
    with pytest.raises(ScenarioError, match="scenario_hash"):
        load_results(out, other)


def test_a_stress_report_holds_what_a_reader_of_a_scheme_comparison_needs(monkeypatch):
    """Incentive funding earned and lost per variant, the expected shortfall before incentives,
    each variant's paired differences from the first with standard errors, and charts for
    every variant, in the order asked; fans against control totals are before incentives."""
    from finsim import report

    monkeypatch.setattr(report, "MAX_CHARTED", 1)  # England's charts only: a quicker page
    from tests.test_stress import ics_with_side_payments

    ics = ics_with_side_payments()  # some systems take the options: the variants differ
    asked = ["interim", "own_only"]  # not in alphabetical order
    stressed = finsim.stress(ics, asked, replications=20, seed=1)
    page = report_html(stressed.results["interim"], ics, stressed)
    check(page)
    for text in (
        "Incentive funding earned and lost",
        "Expected shortfall (97.5%) of each system's and region's deficit "
        "<strong>before incentive funding</strong>",
        "own_only minus interim, paired by replication",
        "Variant own_only</caption>",
        "Fan chart of england under each variant",
    ):
        assert text in page, text
    totals = stressed.incentives().groupby("variant")["earned_mean"].sum()
    for variant in asked:
        assert f"<th>{variant}</th>\n      <td>180.0</td>\n      <td>{totals[variant]:,.1f}" in page
        assert f"Bridge from plan to outturn for england, 2018/19, variant {variant}" in page
        assert f"Money flows in 2018/19, variant {variant}" in page
    assert page.index("Variant interim: from plan") < page.index("Variant own_only: from plan")
    diff = stressed.difference("interim", "own_only", "surplus", "system")
    moved = diff.loc[diff["mean"].abs().idxmax()]
    assert f"{moved['mean']:+,.2f} (se {moved['se']:,.2f})" in page


def test_a_report_of_a_run_without_its_tables_leaves_the_bridges_out_with_a_note(scenario):
    """Never a bridge without its drivers: one note saying how to keep the tables instead."""
    page = report_html(finsim.run(scenario, replications=3, seed=1, keep_tables=False), scenario)
    check(page)
    assert "The bridges from plan to outturn are not drawn" in page
    assert "keep_tables=True (finsim run --keep-tables" in page
    assert "Bridge from plan to outturn for" not in page
