"""The interactive explorer, ``finsim app``: its parameters become a validated overlay, its
figures come from the Results API, the page works headless (Streamlit's AppTest) and, when
a browser is installed, in a real headless Chromium driven by Playwright.

The browser test runs with ``pip install playwright`` and a Chromium (``playwright install
chromium``, or Debian's ``apt-get install chromium``); without them it is skipped, saying
which is missing. ``FINSIM_APP_SCREENSHOT=docs/images/app.png`` makes it save the page.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import finsim
from finsim.app import controls, outcomes, running, sources
from finsim.cli import main
from finsim.cli.app import SCRIPT, missing_extra, streamlit_command

ROOT = Path(__file__).resolve().parents[1]
ICS = ROOT / "examples" / "ics_control_totals_2018.yaml"
TWO = ROOT / "examples" / "two_systems.yaml"
JOINT = ROOT / "examples" / "joint_oversight_2018.yaml"
APP_MODULES = sorted((ROOT / "src" / "finsim" / "app").glob("*.py"))


@pytest.fixture(scope="module")
def ics() -> finsim.Scenario:
    return finsim.load_scenario(ICS)


@pytest.fixture(scope="module")
def ics_run(ics: finsim.Scenario) -> finsim.Results:
    return finsim.run(ics.with_variant("interim"), replications=40, seed=3)


# -- the parameters ----------------------------------------------------------------------------
def test_controls_are_offered_only_for_the_sections_a_scenario_has(ics):
    """Incentives give system share and phasing, control totals risk aversion and delivery;
    a one-year scenario has no activity growth, a scenario without incentives no system share."""
    assert [c.key for c in controls.controls(ics)] == [
        "system_share",
        "phasing",
        "risk_aversion",
        "improvement_delivery",
    ]
    assert [c.key for c in controls.controls(finsim.load_scenario(TWO))] == ["activity_growth"]
    joint = [c.key for c in controls.controls(finsim.load_scenario(JOINT))]
    assert "savings_delivery" in joint and "system_share" not in joint


def test_each_control_starts_at_the_scenario_value_and_unmoved_changes_nothing(ics):
    """A control shows the value of the scenario with its variant; left there, no overlay."""
    interim = ics.with_variant("interim")
    values = {c.key: c.value for c in controls.controls(interim)}
    assert values["system_share"] == 0.25 and values["phasing"] == (0.15, 0.2, 0.3, 0.35)
    assert controls.overlay(interim, values) == {}
    assert controls.adjusted(interim, {}) is interim


def test_a_moved_control_is_an_overlay_on_its_scenario_path_validated_by_finsim(ics):
    """System share 50% on the interim variant: incentives.system_share, on top of interim."""
    interim = ics.with_variant("interim")
    changes = controls.overlay(interim, {"system_share": 0.5, "risk_aversion": 2.0})
    assert changes == {
        "incentives": {"system_share": 0.5},
        "control_totals": {"acceptance": {"risk_aversion": 2.0}},
    }
    moved = controls.adjusted(interim, changes)
    assert moved.variant == "interim_adjusted"
    assert moved.model.incentives.system_share.at(2018) == 0.5
    assert moved.model.control_totals.acceptance.level == "system"  # interim's own setting kept


def test_a_bad_value_is_finsims_own_error_naming_the_field(ics):
    """Phasing that does not add up to 100% is refused by finsim's validation of the overlay."""
    changes = controls.overlay(ics, {"phasing": (0.5, 0.2, 0.3, 0.35)})
    with pytest.raises(finsim.ScenarioError) as caught:
        controls.adjusted(ics, changes)
    (problem,) = caught.value.problems
    assert problem.path == "variants.adjusted -> incentives.phasing"
    assert "summing to 1" in problem.message


def test_an_unknown_control_is_refused(ics):
    """Setting a control the scenario has no section for is an error, not silently dropped."""
    with pytest.raises(KeyError, match="activity_growth"):
        controls.overlay(ics, {"activity_growth": 0.05})


def test_activity_growth_moves_demand_and_leaves_plans_where_the_file_put_them():
    """Faster growth is activity above plan: plan_growth keeps the file's growth."""
    two = finsim.load_scenario(TWO)
    moved = controls.adjusted(two, controls.overlay(two, {"activity_growth": 0.06}))
    activity = moved.model.activity
    assert activity.growth.series(2018, 2) == [0.06, 0.06]
    assert activity.plan_growth.series(2018, 2) == [0.03, 0.032]


def test_delivery_of_savings_sets_every_programme():
    """One slider sets each savings programme's mean delivery, merged onto it by id."""
    joint = finsim.load_scenario(JOINT)
    moved = controls.adjusted(joint, controls.overlay(joint, {"savings_delivery": 0.5}))
    programmes = moved.model.savings.programmes
    assert programmes and all(p.delivery.mean == 0.5 for p in programmes)
    assert [p.id for p in programmes] == [p.id for p in joint.model.savings.programmes]


def test_the_parameters_as_a_variant_give_the_same_scenario_from_a_file(ics):
    """The variant shown to paste into the file (the chosen variant's overlay with the changes
    merged on) gives exactly the scenario the explorer ran."""
    interim = ics.with_variant("interim")
    changes = controls.overlay(interim, {"system_share": 0.5})
    variant = controls.as_variant(interim, changes)
    assert list(variant) == ["interim_adjusted"]
    data = ics.to_data()
    data["variants"] = {**data["variants"], **variant}
    from_file = finsim.Scenario.from_dict(data, source=ics.source).with_variant("interim_adjusted")
    assert from_file.to_data() == controls.adjusted(interim, changes).to_data()


# -- files ---------------------------------------------------------------------------------------
def test_an_uploaded_yaml_file_is_read_by_finsims_loader_and_named_in_its_errors():
    """A good upload is a Scenario named by the upload; a bad one lists finsim's problems."""
    good = sources.load_upload("mine.yaml", TWO.read_bytes())
    assert good.name == "Two systems, one region" and good.source == "mine.yaml"
    with pytest.raises(finsim.ScenarioError) as caught:
        sources.load_upload("bad.yaml", b"scenario: {name: x}\n")
    assert {p.file for p in caught.value.problems} == {"bad.yaml"}
    assert "organisations" in str(caught.value)


def test_a_workbook_upload_goes_through_load_scenario_and_names_the_upload():
    """An .xlsx upload is handed to finsim.load_scenario; its errors name the upload, not the
    temporary copy."""
    with pytest.raises(finsim.ScenarioError) as caught:
        sources.load_upload("plan.xlsx", b"PK\x03\x04 not a workbook")
    assert all(p.file == "plan.xlsx" for p in caught.value.problems), caught.value.problems


def test_an_upload_of_another_kind_or_not_utf8_is_one_clear_problem():
    """A .csv, or YAML that is not UTF-8, is one problem naming the file."""
    for name, data, words in [
        ("costs.csv", b"a,b\n", "expected a scenario file ending .yaml, .yml or .xlsx"),
        ("odd.yaml", b"\xff\xfe\x00", "cannot read the file as UTF-8"),
    ]:
        with pytest.raises(finsim.ScenarioError) as caught:
            sources.load_upload(name, data)
        (problem,) = caught.value.problems
        assert problem.file == name and words in problem.message


def test_the_examples_are_finsims_examples_with_the_control_totals_one_first():
    """The examples `finsim examples` lists, the ICS control totals first."""
    found = sources.examples()
    assert next(iter(found)) == "ics_control_totals_2018.yaml"
    assert "two_systems.yaml" in found and all(p.suffix == ".yaml" for p in found.values())


# -- running and results -------------------------------------------------------------------------
def test_progress_is_read_from_finsim_runs_progress_bar_chunk_by_chunk():
    """A run of several chunks reports done/total as each finishes, ending at total."""
    seen: list[tuple[int, int]] = []
    done = running.run(
        finsim.load_scenario(TWO), 12, 1, lambda d, t: seen.append((d, t)), chunk_size=4
    )
    assert done.results.replications == 12 and done.seconds > 0
    assert seen and seen[-1] == (3, 3) and all(t == 3 for _, t in seen)


def test_the_progress_reader_passes_other_text_on():
    """Warnings written while a run goes still reach standard error."""
    seen: list[tuple[int, int]] = []
    passed = io.StringIO()
    reader = running.ProgressReader(lambda d, t: seen.append((d, t)), passed)
    reader.write("\rfinsim:  40%|####      | 4/10 [00:01<00:02,  3.1chunk/s]")
    reader.write("a warning\n")
    assert seen == [(4, 10)] and passed.getvalue() == "a warning\n"


def test_the_figures_come_from_the_results(ics_run):
    """Headlines, control totals with each body's decision, and the workbook's tables."""
    heads = {h.label: h.value for h in outcomes.headlines(ics_run)}
    assert heads["Bodies accepting"].endswith("of 30")
    assert heads["Systems all accepting"].endswith("of 10")
    assert heads["Chance of meeting"].endswith("%")
    totals = outcomes.control_totals(ics_run)
    bodies = totals[totals["level"] == "org"]
    assert len(bodies) == 30 and bodies["accepting"].between(0, 1).all()
    assert bodies["p_met_control_total"].between(0, 1).all()
    assert (
        totals.loc[totals["org"] == "frimley_acute", "name"]
        == "Frimley Health and Care acute trust"
    ).all()
    assert outcomes.workbook_tables(ics_run) == [
        "event_counts",
        "summary",
        "subsidies",
        "acceptance",
    ]
    assert list(outcomes.fan_choices(ics_run))[:2] == ["england", "east_of_england"]
    assert outcomes.default_fan(ics_run) == "south_yorkshire"  # a system, against its total


def test_the_workbook_is_finsims_excel_export_of_the_summaries(ics_run):
    """The download is an .xlsx with the README, the plan-layout sheets and the summaries."""
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(outcomes.workbook(ics_run)), read_only=True)
    assert book.sheetnames[0] == "README"
    assert {"summary", "subsidies", "acceptance"} <= set(book.sheetnames)
    assert "positions" not in book.sheetnames  # a row per replication: finsim run --out


# -- the command --------------------------------------------------------------------------------
def test_finsim_app_without_the_extra_says_how_to_install_it(monkeypatch, capsys):
    """No Streamlit: one clear error naming `pip install 'finsim[app]'`, exit status 2."""
    monkeypatch.setitem(sys.modules, "streamlit", None)  # import streamlit raises ImportError
    assert main(["app"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'finsim[app]'" in err and "Traceback" not in err
    assert missing_extra() is not None


def test_finsim_app_refuses_a_bad_port(capsys):
    """--port outside 1-65535 is argparse's error, exit status 2."""
    assert main(["app", "--port", "70000"]) == 2
    assert "expected a port number from 1 to 65535" in capsys.readouterr().err


def test_the_server_listens_on_this_computer_only_and_sends_no_statistics():
    """By default 127.0.0.1, no usage statistics, the explorer's script."""
    from finsim.cli import build_parser

    command = streamlit_command(build_parser().parse_args(["app", "--no-browser"]))
    assert command[1:5] == ["-m", "streamlit", "run", str(SCRIPT)] and SCRIPT.exists()
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1" and options["--server.port"] == "8501"
    assert options["--browser.gatherUsageStats"] == "false"
    assert options["--server.headless"] == "true"


def test_no_module_of_the_explorer_is_over_400_lines():
    """Each module of finsim.app stays small (the package-wide rule, checked here too)."""
    long = {p.name: n for p in APP_MODULES if (n := len(p.read_text().splitlines())) > 400}
    assert APP_MODULES and not long, long


# -- the page, headless (Streamlit's AppTest) ----------------------------------------------------
def _shown(markdown: str) -> str:
    """Markdown as a reader sees it: the page escapes finsim's messages (file_name.yaml)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _page():
    from streamlit.testing.v1 import AppTest

    page = AppTest.from_file(str(SCRIPT), default_timeout=120)
    return page.run()


def test_the_page_runs_the_flagship_with_a_moved_system_share():
    """The ICS example loads; system share to 50%, run: the figures, the fan chart, the
    control totals, the download and the variant to paste, with no exception."""
    page = _page()
    assert not page.exception and not page.error
    assert page.selectbox(key="example").value == "ics_control_totals_2018.yaml"
    page.slider(key="control:system_share").set_value(50.0)
    page.number_input(key="replications").set_value(40)
    page.button(key="run").click().run()
    assert not page.exception and not page.error
    figures = {m.label: m.value for m in page.metric}
    assert figures["Bodies accepting"].endswith("of 30") and "Chance of meeting" in figures
    assert len(page.image) == 1  # the fan chart
    assert len(page.dataframe) >= 2  # control totals, surplus by body
    assert [b.label for b in page.get("download_button")] == [
        "Download the results workbook (.xlsx)"
    ]
    assert any("40 replications" in c.value and "moved" in c.value for c in page.caption)
    assert any("system_share: 0.5" in c.value for c in page.code)


def test_a_run_of_several_chunks_reports_progress_and_shows_its_results():
    """3,000 replications of the two systems run as three chunks (the progress bar's path);
    a run past 2,000 replications keeps a streaming summary, which the figures read."""
    page = _page()
    page.selectbox(key="example").set_value("two_systems.yaml").run()
    assert [s.key for s in page.slider] == ["control:activity_growth"]
    page.number_input(key="replications").set_value(3000)
    page.button(key="run").click().run()
    assert not page.exception and not page.error
    assert any("3,000 replications" in c.value for c in page.caption)
    assert "England's surplus, £m" in {m.label for m in page.metric}
    assert len(page.image) == 1


def test_a_bad_upload_shows_finsims_errors_and_no_traceback():
    """An uploaded file finsim cannot use shows finsim's problems (file, line, field)."""
    page = _page()
    page.radio(key="source").set_value("A file of my own").run()
    page.file_uploader(key="upload").set_value(
        ("broken.yaml", b"scenario: {name: x}\n", "text/yaml")
    )
    page.run()
    assert not page.exception
    (error,) = page.error
    shown = _shown(error.value)
    assert "finsim cannot use this scenario" in shown and "3 problems" in shown
    assert "broken.yaml:1: organisations: required field is missing" in shown
    assert not page.get("download_button") and not page.metric


def test_a_bad_parameter_shows_finsims_error_and_runs_nothing():
    """Phasing that does not add up to 100% is finsim's own error; nothing runs."""
    page = _page()
    page.number_input(key="control:phasing:q1").set_value(50.0)
    page.number_input(key="replications").set_value(20)
    page.button(key="run").click().run()
    assert not page.exception
    (error,) = page.error
    shown = _shown(error.value)
    assert "finsim refused these parameters" in shown
    assert "variants.adjusted -> incentives.phasing: expected four quarterly shares" in shown
    assert not page.metric


# -- the page in a real browser ----------------------------------------------------------------
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _launch(playwright):
    """Playwright's own Chromium, else one installed on the system, else skip."""
    try:
        return playwright.chromium.launch(args=BROWSER_ARGS)
    except Exception:  # its browser was not downloaded (playwright install chromium)
        pass
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return playwright.chromium.launch(executable_path=path, args=BROWSER_ARGS)
    pytest.skip(
        "no Chromium for the browser test: `playwright install chromium`, or install the "
        "system's (Debian: apt-get install chromium)"
    )


def test_in_a_browser_load_move_system_share_run_and_download(tmp_path):
    """A real headless Chromium: the flagship, system share to 50%, run, the chart, and the
    workbook downloaded and opened."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the browser test needs Playwright: pip install playwright"
    )
    import openpyxl

    with sync_api.sync_playwright() as playwright:
        browser = _launch(playwright)  # (skips before a server is started)
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "finsim.cli", "app", "--port", str(port), "--no-browser"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_for(f"{url}/_stcore/health", server)
            page = browser.new_page(viewport={"width": 1400, "height": 1750})
            page.goto(url)
            page.get_by_text("Press Run in the sidebar").wait_for(timeout=60_000)
            share = page.get_by_role(
                "slider", name="System share of the incentive fund's finance test"
            )
            share.focus()
            for _ in range(10):  # 5% a step
                page.keyboard.press("ArrowRight")
            sync_api.expect(share).to_have_value("50", timeout=10_000)
            # the docs' picture shows the default run; the test itself runs few replications
            shot = os.environ.get("FINSIM_APP_SCREENSHOT")
            n = 1000 if shot else 100
            replications = page.get_by_role("spinbutton", name="Replications")
            replications.fill(str(n))
            replications.press("Enter")
            page.get_by_role("button", name="Run", exact=True).click()
            page.get_by_text("Bodies accepting").wait_for(timeout=60_000)
            page.get_by_role("img").first.wait_for(timeout=30_000)
            sync_api.expect(page.get_by_text(f"{n:,} replications from seed 0")).to_be_visible()
            with page.expect_download(timeout=60_000) as download:
                page.get_by_role("button", name="Download the results workbook (.xlsx)").click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
            assert saved.name == "finsim-results.xlsx"
            assert "summary" in openpyxl.load_workbook(saved, read_only=True).sheetnames
            if shot:
                page.mouse.move(0, 0)
                page.screenshot(path=shot)
        finally:
            browser.close()
            os.killpg(server.pid, signal.SIGTERM)  # the server this test started, and only it
            server.wait(timeout=30)


def _wait_for(url: str, server: subprocess.Popen[bytes], seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"finsim app stopped with status {server.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"finsim app did not answer at {url} within {seconds:.0f} s")


def test_money_is_shown_as_nhs_accounts_show_it():
    """A deficit in brackets to one decimal place; one that rounds to nothing is 0.0, not
    (0.0)."""
    from finsim.app.outcomes import _money

    assert [_money(v) for v in (-0.04, -0.06, 3.14159, -1234.56)] == [
        "0.0",
        "(0.1)",
        "3.1",
        "(1,234.6)",
    ]
