"""Monte Carlo at scale: backends, chunking, resuming, common random numbers, risk measures."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import finsim
from finsim.stress import expected_shortfall, value_at_risk, wilson_interval

ROOT = Path(__file__).resolve().parents[1]
KENT = ROOT / "examples" / "kent_dispute_2017.yaml"
TWO = ROOT / "examples" / "two_systems.yaml"


def positions(res: finsim.Results) -> pd.DataFrame:
    return res.positions.sort_values(["replication", "fy", "org"]).reset_index(drop=True)


def test_a_run_stopped_part_way_resumes_to_the_uninterrupted_result(tmp_path, monkeypatch):
    """Chunks written before an interruption are kept; --resume runs only the rest; the tables match."""
    from finsim.store import ChunkStore

    sc = finsim.load_scenario(TWO)
    whole = finsim.run(sc, replications=30, seed=3, chunk_size=4)
    real_write = ChunkStore.write
    written = []

    def write_then_stop(self, chunk):
        if len(written) == 3:
            raise KeyboardInterrupt
        real_write(self, chunk)
        written.append(chunk.replications[0])

    monkeypatch.setattr(ChunkStore, "write", write_then_stop)
    with pytest.raises(KeyboardInterrupt):
        finsim.run(sc, replications=30, seed=3, chunk_size=4, out=tmp_path / "run")
    monkeypatch.setattr(ChunkStore, "write", real_write)
    assert len(list((tmp_path / "run" / "chunks").iterdir())) == 3
    computed = []
    real_chunk = finsim.runner.run_chunk

    def counting(scenario, reps, seed, options=None):
        computed.append(reps)
        return real_chunk(scenario, reps, seed, options)

    monkeypatch.setattr(finsim.runner, "run_chunk", counting)
    resumed = finsim.run(
        sc, replications=30, seed=3, chunk_size=4, out=tmp_path / "run", resume=True
    )
    assert len(computed) == 8 - 3  # only the missing chunks
    assert sorted(resumed.positions["replication"].unique()) == list(range(30))
    pd.testing.assert_frame_equal(positions(whole), positions(resumed), check_exact=True)
    pd.testing.assert_frame_equal(whole.flows, resumed.flows, check_exact=True)


def test_a_killed_command_line_run_resumes_with_nothing_lost_or_doubled(tmp_path):
    """Kill `finsim run --out` mid-run (SIGKILL); `--resume` completes it; results equal a clean run."""
    out = tmp_path / "killed"
    args = [
        sys.executable,
        "-m",
        "finsim.cli",
        "run",
        str(TWO),
        "-n",
        "2000",
        "--seed",
        "5",
        "--chunk-size",
        "20",
        "--out",
        str(out),
        "--format",
        "parquet",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 60
    chunks = out / "chunks"
    while time.time() < deadline and proc.poll() is None:
        if chunks.exists() and sum(1 for p in chunks.iterdir() if not p.name.startswith(".")) >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = sum(1 for p in chunks.iterdir() if not p.name.startswith("."))
    assert 1 <= before < 100, "the run should have been killed part-way"
    resume = subprocess.run([*args, "--resume"], capture_output=True, text=True, cwd=ROOT)
    assert resume.returncode == 0, resume.stderr
    resumed = pd.read_parquet(out / "positions.parquet")
    clean = finsim.run(
        finsim.load_scenario(TWO), replications=2000, seed=5, chunk_size=20
    ).positions
    assert sorted(resumed["replication"].unique()) == list(range(2000))
    assert len(resumed) == len(clean)
    pd.testing.assert_frame_equal(
        resumed.sort_values(["replication", "fy", "org"]).reset_index(drop=True)[
            ["replication", "fy", "org", "surplus"]
        ],
        clean.sort_values(["replication", "fy", "org"]).reset_index(drop=True)[
            ["replication", "fy", "org", "surplus"]
        ],
    )


def test_resume_refuses_a_different_run(tmp_path):
    """Resuming with another seed (or scenario) than the folder's run is a clear error."""
    sc = finsim.load_scenario(TWO)
    finsim.run(sc, replications=4, seed=1, chunk_size=2, out=tmp_path / "r")
    with pytest.raises(finsim.ScenarioError, match="seed"):
        finsim.run(sc, replications=4, seed=2, chunk_size=2, out=tmp_path / "r", resume=True)
    with pytest.raises(finsim.ScenarioError, match="already holds a finsim run"):
        finsim.run(sc, replications=4, seed=1, chunk_size=2, out=tmp_path / "r")


def test_out_refuses_a_non_empty_folder_that_is_not_a_results_folder(tmp_path):
    """--out into a folder holding other files needs --force."""
    (tmp_path / "mine.txt").write_text("precious")
    with pytest.raises(finsim.ScenarioError, match="not empty"):
        finsim.run(finsim.load_scenario(TWO), replications=2, out=tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "precious"


def test_identical_variants_differ_by_exactly_zero():
    """Common random numbers: two variants with the same content give a paired difference of 0."""
    doc = finsim.load_scenario(KENT).to_data()
    doc["variants"] = {"a": {"activity": {"shock_sd": 0.01}}, "b": {"activity": {"shock_sd": 0.01}}}
    result = finsim.stress(finsim.Scenario.from_dict(doc), ["a", "b"], replications=30, seed=4)
    diff = result.difference("a", "b")
    assert (diff["mean"] == 0).all() and (diff["se"] == 0).all()


def test_paired_difference_has_a_smaller_error_than_independent_runs():
    """Common random numbers make the paired standard error smaller than independent seeds'."""
    sc = finsim.load_scenario(KENT)
    result = finsim.stress(sc, ["baseline", "uncertain"], replications=200, seed=4)
    paired = (
        result.difference("baseline", "uncertain")
        .set_index(["fy", "org"])
        .loc[("2018/19", "ekhuft"), "se"]
    )
    a = result.results["baseline"].positions.query("org == 'ekhuft' and fy == '2018/19'")["surplus"]
    b = finsim.run(sc.with_variant("uncertain"), replications=200, seed=99).positions.query(
        "org == 'ekhuft' and fy == '2018/19'"
    )["surplus"]
    independent = np.sqrt(a.var() / len(a) + b.var() / len(b))
    assert paired < independent


def test_wilson_interval_matches_scipy():
    """Wilson intervals equal scipy's binomtest(..).proportion_ci(method='wilson')."""
    for k, n in [(0, 10), (3, 10), (50, 100), (999, 1000), (1000, 1000)]:
        low, high = wilson_interval(np.array([k]), np.array([n]))
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert low[0] == pytest.approx(ci.low, abs=1e-12) and high[0] == pytest.approx(
            ci.high, abs=1e-12
        )


def test_wilson_bounds_are_exactly_0_and_1_at_the_ends():
    """No success: the lower bound is 0, not 1e-18 of rounding; every success: the upper is 1."""
    low, high = wilson_interval(np.array([0, 50, 7]), np.array([50, 50, 50]))
    assert low[0] == 0.0 and high[1] == 1.0
    assert 0 < low[2] < high[2] < 1


ICS = ROOT / "examples" / "ics_control_totals_2018.yaml"
ASKED = ["own_only", "interim", "fully_system"]  # not in alphabetical order


def ics_with_side_payments() -> finsim.Scenario:
    """The ICS example with a risk share inside each system (side payments), under which
    some systems take the system options: so the variants differ (as written, none does)."""
    data = finsim.load_scenario(ICS).to_data()
    # boards less averse than the calibrated ones (risk 0, loss 1.25), so side payments turn
    # some systems (at the calibrated parameters none takes an option, even so)
    data["control_totals"]["acceptance"].update(
        side_payments=True, risk_aversion=0.0, loss_aversion=1.25
    )
    return finsim.Scenario.from_dict(data, source=str(ICS))


@pytest.fixture(scope="module")
def ics_stress() -> finsim.StressResults:
    return finsim.stress(ics_with_side_payments(), ASKED, replications=40, seed=1)


def test_tables_list_the_variants_in_the_order_asked(ics_stress):
    """acceptance_counts() and the deprivation subsidies keep the order the variants were
    asked in, as every other comparison table does."""
    assert ics_stress.acceptance_counts()["variant"].tolist() == ASKED
    assert ics_stress.subsidies(by="deprivation")["variant"].tolist() == ASKED
    for table in (ics_stress.meeting(), ics_stress.incentives(), ics_stress.system_risk()):
        assert list(dict.fromkeys(table["variant"])) == ASKED


def test_paired_differences_of_system_totals_are_those_of_the_positions(ics_stress):
    """difference(level="system") pairs each system's total (its members and own account)
    replication by replication, as summing the positions by hand does. (The options move
    incentive money, not the position before it: the surplus is what differs.)"""
    column = "surplus"
    diff = ics_stress.difference("own_only", "fully_system", column, level="system")

    def totals(name: str) -> pd.Series:
        pos = ics_stress.results[name].positions
        system = pos["system"].where(pos["org_type"] != "system", pos["org"])
        return pos[column].groupby([pos["replication"], pos["fy"], system]).sum()

    paired = (totals("fully_system") - totals("own_only")).groupby(level=[1, 2])
    by_hand = pd.DataFrame({"mean": paired.mean(), "se": paired.std(ddof=1) / np.sqrt(40)})
    mine = diff.set_index(["fy", "system"])[["mean", "se"]]
    pd.testing.assert_frame_equal(mine, by_hand, check_names=False, atol=1e-12)
    assert (mine["mean"].abs() > 0.1).any()  # some systems change: the test can tell
    england = ics_stress.difference("own_only", "fully_system", level="england")
    bodies = ics_stress.difference("own_only", "fully_system")
    assert england["mean"].iloc[0] == pytest.approx(bodies["mean"].sum(), abs=1e-9)
    with pytest.raises(ValueError, match="level"):
        ics_stress.difference("own_only", "fully_system", level="nation")


def test_expected_shortfall_matches_known_distributions():
    """ES(97.5%) of 1..1000 is the mean of the worst 25; of N(0,1) it is phi(z)/(1-0.975)."""
    losses = np.arange(1, 1001, dtype=float)
    assert expected_shortfall(losses) == pytest.approx(np.mean(np.arange(976, 1001)))
    assert value_at_risk(losses) == pytest.approx(np.quantile(losses, 0.975))
    z = stats.norm.ppf((np.arange(400_000) + 0.5) / 400_000)  # a quasi-random normal sample
    exact = stats.norm.pdf(stats.norm.ppf(0.975)) / 0.025
    assert expected_shortfall(z) == pytest.approx(exact, rel=1e-3)


def test_stress_command_line_compares_variants(tmp_path):
    """`finsim stress FILE --variants A,B` prints acceptance and risk tables and writes them."""
    from finsim.cli import main

    assert (
        main(
            [
                "stress",
                str(ROOT / "examples" / "ics_control_totals_2018.yaml"),
                "--variants",
                "own_only,fully_system",
                "-n",
                "50",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    for name in ("meeting", "incentives", "system_risk", "acceptance", "subsidies", "underlying"):
        assert (tmp_path / f"{name}.csv").exists()
    assert main(["stress", str(TWO), "--variants", "nope"]) == 2


def test_stress_command_line_labels_its_tables_and_prints_no_noise(tmp_path, capsys):
    """Each table says what it measures (before incentive funding where it is), variants keep
    the order asked, the largest changes list no zero rows, and float noise prints (and is
    written) as 0."""
    from finsim.cli import main

    variants = "top_slice,baseline"  # not in alphabetical order
    args = ["stress", str(REGIONAL), "--variants", variants, "-n", "20", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Probability of meeting the control total, surplus before incentive funding" in out
    assert "Expected shortfall (97.5%) of the deficit before incentive funding" in out
    assert "baseline minus top_slice, paired by replication" in out
    heads = [line for line in out.splitlines() if line.startswith("variant ")]
    assert heads and all(h.index("top_slice") < h.index("baseline") for h in heads)
    changes = out.split("changes, largest first")[1].split("Total over every body")[0]
    rows = [line.split() for line in changes.splitlines()[2:] if line.strip()]
    assert rows and all(float(row[-2]) != 0 or float(row[-1]) != 0 for row in rows)
    assert "midlands (own account)" in changes
    assert "e-1" not in out and "-0.0 " not in out
    for path in tmp_path.glob("*.csv"):
        text = path.read_text()
        assert "e-1" not in text and "e-2" not in text, path.name
    meeting = pd.read_csv(tmp_path / "meeting.csv")
    assert (meeting.loc[meeting["p_met"] == 0, "p_met_low"] == 0).all()


REGIONAL = ROOT / "examples" / "regional_control_total_2019.yaml"


def test_sensitivity_samples_within_ranges_and_finds_the_driver():
    """A Latin hypercube stays in each range; better rapid-savings delivery lowers the system deficit."""
    sc = finsim.load_scenario(REGIONAL, variant="rapid_savings")
    result = finsim.sensitivity(sc, samples=12, replications=60, seed=2)
    declared = {u.path: (u.low, u.high) for u in sc.model.uncertain}
    for path, (low, high) in declared.items():
        assert result.samples[path].between(low, high).all()
    drivers = result.drivers().set_index(["outcome", "input"])["spearman"]
    assert drivers[("system_deficit_mean", "interventions.rapid_savings.delivery.mean")] < 0


def test_sobol_design_and_model_function():
    """Sobol sampling works, and the model is a plain function of named inputs returning named outcomes."""
    sc = finsim.load_scenario(REGIONAL, variant="rapid_savings")
    result = finsim.sensitivity(
        sc,
        {"interventions.rapid_savings.delivery.mean": (0.2, 0.95)},
        samples=8,
        replications=30,
        method="sobol",
    )
    assert len(result.samples) == 8
    f = finsim.model_function(
        sc, outcomes=["system_deficit_mean", "p_region_breach"], replications=30, seed=1
    )
    low = f(**{"interventions.rapid_savings.delivery.mean": 0.2})
    high = f(**{"interventions.rapid_savings.delivery.mean": 0.95})
    assert set(low) == {"system_deficit_mean", "p_region_breach"}
    assert high["system_deficit_mean"] < low["system_deficit_mean"]


def test_an_uncertain_input_must_name_a_number(tmp_path):
    """An uncertain path that is not a number in the scenario is a ScenarioError naming it."""
    doc = finsim.load_scenario(REGIONAL).to_data()
    doc["uncertain"] = [{"path": "activity.shok_sd", "low": 0.0, "high": 0.1}]
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(doc)
    assert info.value.problems[0].path == "uncertain[0].path"


def test_stress_example_script_runs():
    """examples/stress_ics_schemes.py runs end to end (few replications here)."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "stress_ics_schemes.py"),
            "--replications",
            "60",
            "--samples",
            "6",
            "--backend",
            "serial",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Who accepts" in proc.stdout and "Latin-hypercube" in proc.stdout


def test_large_runs_keep_no_per_replication_tables_but_stress_still_reports():
    """keep_tables=False (the default above 200 replications): no tables, no routine events;
    the stress comparison still reports incentives and acceptance from compact arrays."""
    sc = finsim.load_scenario(ROOT / "examples" / "ics_control_totals_2018.yaml")
    res = finsim.run(sc, replications=20, seed=1, keep_tables=False)
    assert res.table_names == ["acceptance"]  # the run-wide decision table only
    assert "accepted_control_total" not in set(res.events.get("event", []))
    full = finsim.stress(sc, ["own_only"], replications=20, seed=1)
    compact = finsim.stress(sc, ["own_only"], replications=20, seed=1, keep_tables=False)
    pd.testing.assert_frame_equal(full.incentives(), compact.incentives(), check_exact=True)
    pd.testing.assert_frame_equal(
        full.acceptance_counts(), compact.acceptance_counts(), check_exact=True
    )


def test_a_run_too_big_for_memory_is_refused_before_it_starts(monkeypatch):
    """The memory check probes one replication and refuses, naming the options that fix it."""
    monkeypatch.setattr(finsim.runner, "_physical_memory", lambda: 10_000_000)
    with pytest.raises(finsim.UsageError, match="run fewer replications"):
        finsim.run(finsim.load_scenario(TWO), replications=5000, keep_positions=True)


def test_antithetic_pairs_are_averaged_before_the_standard_error():
    """With antithetic replications the paired difference's error comes from pair means."""
    sc = finsim.load_scenario(KENT)
    anti = finsim.stress(sc, ["baseline", "uncertain"], replications=100, seed=2, antithetic=True)
    diff = anti.difference("baseline", "uncertain")
    assert (diff["replications"] == 50).all()


def test_stress_with_out_writes_one_folder_per_variant(tmp_path):
    """finsim.stress(..., out=DIR) keeps each variant's chunks in DIR/<variant>."""
    sc = finsim.load_scenario(KENT)
    finsim.stress(sc, ["baseline", "commissioner_wins"], replications=4, seed=1, out=tmp_path)
    assert (tmp_path / "baseline" / "manifest.json").exists()
    assert (tmp_path / "commissioner_wins" / "manifest.json").exists()


def test_written_tables_are_readable_by_others(tmp_path):
    """Results files are created with the usual permissions (not owner-only)."""
    res = finsim.run(finsim.load_scenario(TWO), replications=2)
    res.to_csv(tmp_path)
    mode = (tmp_path / "positions.csv").stat().st_mode & 0o777
    assert mode & 0o044  # group or others may read


def test_large_runs_keep_totals_not_flows_and_positions_are_the_same():
    """keep_flows=False (the default above 1,000 replications) gives the same positions and
    summary from each body's totals; the flows table then says how to get it."""
    from finsim.errors import ResultsError

    sc = finsim.load_scenario(KENT)
    full = finsim.run(sc, replications=30, seed=2)
    compact = finsim.run(sc, replications=30, seed=2, keep_flows=False)
    pd.testing.assert_frame_equal(full.positions, compact.positions, check_exact=True)
    pd.testing.assert_frame_equal(full.summary(), compact.summary(), check_exact=True)
    with pytest.raises(ResultsError, match="keep_flows=True"):
        _ = compact.flows
    assert "flows" not in compact.tables()


def test_a_range_whose_end_makes_the_scenario_invalid_is_refused_before_any_run(monkeypatch):
    """A delivery rate's mean must be a share: a range reaching below 0 is refused up front,
    naming the uncertain input, the end and the field's own complaint; nothing runs."""
    doc = finsim.load_scenario(REGIONAL, variant="rapid_savings").to_data()
    doc.pop("variants", None)
    doc["uncertain"] = [
        {"path": "interventions.rapid_savings.delivery.mean", "low": -0.5, "high": 0.9}
    ]
    sc = finsim.Scenario.from_dict(doc)  # the range itself is well formed
    ran = []
    monkeypatch.setattr(sys.modules["finsim.sensitivity"], "run", lambda *a, **k: ran.append(1))
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.sensitivity(sc, samples=4, replications=10)
    (problem,) = info.value.problems
    assert problem.path == "uncertain[0].low"
    assert "-0.5 (the low end of its range)" in problem.message
    assert "interventions.rapid_savings.delivery.mean" in problem.message
    assert not ran
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.sensitivity(sc, {"interventions.rapid_savings.delivery.mean": (0.3, 1.5)}, samples=4)
    assert info.value.problems[0].path.endswith(".high")
