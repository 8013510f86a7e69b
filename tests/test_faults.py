"""Faults: a worker killed mid-run, the run itself killed, a full or read-only disk, a write
interrupted.

A run either completes (Dask retries a chunk whose worker died) or stops with one clear
message and resumes later from its results folder with nothing lost or doubled. A run killed
outright leaves no worker process behind. A write that fails leaves no partial file or chunk
behind.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import finsim
import finsim.runner
import finsim.store
from finsim.errors import RunInterrupted

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "two_systems.yaml"
#: Set to a path, this makes :func:`dying_run_chunk` kill the first worker process that runs
#: a chunk (once: the path marks that it has happened).
DIE_ONCE = "FINSIM_TEST_DIE_ONCE"
#: The process that must never die (the test run, or the command-line driver).
MAIN_PID = "FINSIM_TEST_MAIN_PID"

_real_run_chunk = finsim.runner.run_chunk


def dying_run_chunk(*args, **kwargs):
    """finsim.runner.run_chunk, but the first call in a worker process kills that process."""
    marker = os.environ.get(DIE_ONCE)
    if marker and str(os.getpid()) != os.environ.get(MAIN_PID):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pass
        else:
            os.close(fd)
            os._exit(9)  # as if killed: no clean-up, no exception
    return _real_run_chunk(*args, **kwargs)


@pytest.fixture
def die_once(tmp_path, monkeypatch):
    """Kill the first worker process that runs a chunk; return the marker it leaves."""
    marker = tmp_path / "a-worker-died"
    monkeypatch.setenv(DIE_ONCE, str(marker))
    monkeypatch.setenv(MAIN_PID, str(os.getpid()))
    monkeypatch.setattr(finsim.runner, "run_chunk", dying_run_chunk)
    return marker


@pytest.fixture(scope="module")
def scenario() -> finsim.Scenario:
    return finsim.load_scenario(EXAMPLE)


@pytest.fixture(scope="module")
def reference(scenario) -> finsim.Results:
    """The run every interrupted run must end up equal to."""
    return finsim.run(scenario, replications=16, seed=4, chunk_size=2)


def assert_whole(res: finsim.Results, reference: finsim.Results) -> None:
    """Every replication once, none lost or doubled, each identical to the reference."""
    counts = res.positions.groupby("replication").size()
    assert list(counts.index) == list(range(16)) and counts.nunique() == 1
    pd.testing.assert_frame_equal(res.positions, reference.positions, check_exact=True)
    pd.testing.assert_frame_equal(res.flows, reference.flows, check_exact=True)


def leftovers(folder: Path) -> list[str]:
    """Temporary files or folders a write left behind."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if ".tmp" in p.name)


# -- a worker killed ---------------------------------------------------------------------------


def test_a_killed_worker_stops_the_run_with_a_clear_error_and_it_resumes(
    scenario, reference, die_once, tmp_path
):
    """Processes backend: a worker killed mid-run stops the run with RunInterrupted saying
    how to resume; resuming runs only the missing chunks, and the result is the same bits."""
    out = tmp_path / "run"
    options = dict(replications=16, seed=4, chunk_size=2, backend="processes", workers=2)
    with pytest.raises(RunInterrupted) as info:
        finsim.run(scenario, out=out, **options)
    message = str(info.value)
    assert "a worker process died" in message and "--resume" in message and str(out) in message
    assert die_once.exists()
    saved = sorted(p.name for p in (out / "chunks").iterdir())
    assert len(saved) < 8 and not leftovers(out)
    res = finsim.run(scenario, out=out, resume=True, **options)
    assert_whole(res, reference)
    # the chunks saved before the worker died were not run again
    assert set(saved) <= {p.name for p in (out / "chunks").iterdir()}


def test_a_killed_worker_without_a_results_folder_says_how_to_keep_chunks(scenario, die_once):
    """Without out=, the message says that nothing was kept and how to keep chunks next time."""
    with pytest.raises(RunInterrupted, match="nothing was saved: run with out=DIR"):
        finsim.run(scenario, replications=8, chunk_size=2, backend="processes", workers=2)


DRIVER = """
import os, sys
sys.path.insert(0, {root!r})
os.environ[{main!r}] = str(os.getpid())
import finsim.runner
from tests.test_faults import dying_run_chunk
finsim.runner.run_chunk = dying_run_chunk
from finsim.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_command_line_stops_in_one_line_and_resumes(tmp_path, reference):
    """finsim run --backend processes with a worker killed: exit status 2, one line saying how
    to finish, no traceback; the same command with --resume finishes it."""
    out = tmp_path / "run"
    env = {**os.environ, DIE_ONCE: str(tmp_path / "died"), "PYTHONPATH": str(ROOT / "src")}
    command = [
        sys.executable, "-c", DRIVER.format(root=str(ROOT), main=MAIN_PID), "run", str(EXAMPLE),
        "-n", "16", "--seed", "4", "--chunk-size", "2", "--backend", "processes",
        "--workers", "2", "--out", str(out),
    ]  # fmt: skip
    first = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert first.returncode == 2, first.stderr
    assert "Traceback" not in first.stderr
    assert first.stderr.startswith("finsim: a worker process died")
    assert len(first.stderr.strip().splitlines()) == 1
    second = subprocess.run(
        [*command, "--resume"], capture_output=True, text=True, env=env, timeout=300
    )
    assert second.returncode == 0, second.stderr
    positions = pd.read_csv(out / "positions.csv")
    assert sorted(positions["replication"].unique()) == list(range(16))
    expected = reference.positions
    assert np.allclose(
        positions.sort_values(["replication", "fy", "org"])["surplus"],
        expected.sort_values(["replication", "fy", "org"])["surplus"],
        rtol=0,
        atol=1e-9,
    )


def test_dask_retries_a_chunk_whose_worker_died(scenario, reference, die_once):
    """Dask backend on a local cluster: a worker process killed mid-chunk is restarted and its
    chunk run again elsewhere; the run completes, each replication once, the same bits."""
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        res = finsim.run(
            scenario, replications=16, seed=4, chunk_size=2, backend="dask", client=client
        )
    assert die_once.exists(), "no worker was killed"
    assert_whole(res, reference)


def run_chunk_killing_its_worker(scenario, replications, *args, **kwargs):
    """finsim.runner.run_chunk, but the chunk holding replication 4 kills every worker that runs
    it (outside the test run's own process)."""
    if 4 in replications and str(os.getpid()) != os.environ.get(MAIN_PID):
        os._exit(9)
    return _real_run_chunk(scenario, replications, *args, **kwargs)


@pytest.mark.parametrize("n_workers", [2, 1])
def test_dask_stops_with_a_clear_error_when_a_chunk_keeps_killing_its_workers(
    scenario, reference, monkeypatch, tmp_path, n_workers
):
    """Dask backend: a chunk whose workers die more times than the scheduler retries it stops
    the run with RunInterrupted naming the chunk and how to resume (not dask's KilledWorker, nor,
    when the only worker died with the scenario, its CancelledError); resuming finishes the
    run, the same bits."""
    distributed = pytest.importorskip("distributed")
    import dask

    monkeypatch.setenv(MAIN_PID, str(os.getpid()))
    monkeypatch.setattr(finsim.runner, "run_chunk", run_chunk_killing_its_worker)
    out = tmp_path / "run"
    options = dict(replications=16, seed=4, chunk_size=2)
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
        pytest.raises(RunInterrupted) as info,
    ):
        finsim.run(scenario, backend="dask", client=client, out=out, **options)
    message = str(info.value)
    assert message.startswith(("dask workers died", "dask cancelled"))
    assert f"--out {out} --resume" in message
    # the chunk named is one that did not finish (the one killing its workers, or one that
    # was on the same worker when it died: dask cannot tell them apart)
    first, last = (int(n) for n in re.search(r"replications (\d+) to (\d+)", message).groups())
    assert last == first + 1 and f"{first:09d}-{last:09d}" not in os.listdir(out / "chunks")
    monkeypatch.setattr(finsim.runner, "run_chunk", _real_run_chunk)
    assert_whole(finsim.run(scenario, out=out, resume=True, **options), reference)


# -- the run's own process killed ----------------------------------------------------------------

#: Set to a folder, this makes :func:`stalling_run_chunk` mark there each worker that runs a
#: chunk and each chunk it finishes, and never finish the chunk of replication 0.
STALL = "FINSIM_TEST_STALL"


def stalling_run_chunk(scenario, replications, *args, **kwargs):
    """finsim.runner.run_chunk, but the chunk holding replication 0 never ends (its worker is
    busy when the run is killed) and the others mark that they finished (after them, the
    other worker waits on the pipe for a chunk that never comes)."""
    folder = Path(os.environ[STALL])
    (folder / f"worker-{os.getpid()}").touch()
    if 0 in replications:
        time.sleep(3600)
    out = _real_run_chunk(scenario, replications, *args, **kwargs)
    (folder / f"done-{int(replications[0])}").touch()
    return out


ORPHAN_DRIVER = """
import sys
sys.path.insert(0, {root!r})
import finsim
import finsim.runner
from tests.test_faults import stalling_run_chunk
finsim.runner.run_chunk = stalling_run_chunk
if {watcher_only!r}:  # as where the kernel offers no signal on a parent's death
    finsim.backends._kill_me_with_my_parent = lambda: None
scenario = finsim.load_scenario({example!r})
finsim.run(scenario, replications=8, chunk_size=2, backend="processes", workers=2, progress=False)
"""


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (a zombie waiting to be reaped has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:  # no /proc: ask the process
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False
    return stat.rsplit(")", 1)[1].split()[0] in {"Z", "X"}


def wait_for(condition, what: str, proc: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` with a generous deadline (a guard against hanging, not a measure of
    speed: the faults are about what happens, never how fast)."""
    deadline = time.monotonic() + 300
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the run ended (status {proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"still waiting for {what}")
        time.sleep(0.2)


@pytest.mark.skipif(sys.platform == "win32", reason="processes are not watched on Windows")
@pytest.mark.parametrize("watcher_only", [False, True], ids=["any way", "the watching thread"])
def test_workers_exit_when_the_run_is_killed(tmp_path, watcher_only):
    """A processes run killed outright (SIGKILL: nothing of it runs again) leaves no worker
    behind: neither the one busy with a chunk nor the one waiting on the pipe for its next
    (they lived on indefinitely). On Linux the kernel's death signal ends them; the watching
    thread alone does too."""
    if not watcher_only and not sys.platform.startswith("linux"):
        pytest.skip("the death signal is Linux's")
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, STALL: str(marks), "PYTHONPATH": str(ROOT / "src")}
    driver = ORPHAN_DRIVER.format(root=str(ROOT), watcher_only=watcher_only, example=str(EXAMPLE))
    with open(tmp_path / "stderr", "w") as err:
        proc = subprocess.Popen([sys.executable, "-c", driver], env=env, stderr=err)
    workers: list[int] = []
    try:
        # one worker stuck in chunk 0, the other through chunks 1-3 and then idle
        wait_for(
            lambda: all((marks / f"done-{r}").exists() for r in (2, 4, 6)),
            "the other chunks",
            proc,
        )
        workers = [int(p.name.split("-")[1]) for p in marks.glob("worker-*")]
        assert len(workers) == 2 and not any(process_gone(w) for w in workers)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        wait_for(lambda: all(process_gone(w) for w in workers), "the workers to exit")
    finally:
        proc.kill()
        proc.wait()
        for pid in workers:  # (should the test fail: leave nothing running)
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


# -- full and read-only disks -------------------------------------------------------------------


@pytest.fixture(scope="module")
def saves_per_chunk(scenario, tmp_path_factory) -> int:
    """How many arrays a chunk writes (so that a failure can be put in the third chunk)."""
    calls = []
    real = np.save

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    finsim.store.np.save = counting
    try:
        finsim.run(
            scenario, replications=2, seed=4, chunk_size=2, out=tmp_path_factory.mktemp("count")
        )
    finally:
        finsim.store.np.save = real
    return len(calls)


def _fail_on_call(n: int, error: BaseException, real):
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise error
        return real(*args, **kwargs)

    return failing


def test_a_full_disk_stops_with_a_clear_error_leaving_no_partial_chunk(
    scenario, reference, tmp_path, monkeypatch, saves_per_chunk
):
    """The disk fills while a chunk is written: a ScenarioError naming --out and saying how
    to finish; no partial chunk or temporary folder is left; after making room, --resume
    finishes the run, nothing lost or doubled."""
    out = tmp_path / "run"
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(out / "chunks"))
    monkeypatch.setattr(
        finsim.store.np, "save", _fail_on_call(2 * saves_per_chunk + 3, full, np.save)
    )
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.run(scenario, replications=16, seed=4, chunk_size=2, out=out)
    (problem,) = info.value.problems
    assert problem.path == "--out" and "No space left on device" in problem.message
    assert "--resume" in problem.message
    assert not leftovers(out)
    chunks = sorted(p.name for p in (out / "chunks").iterdir())
    assert chunks == ["000000000-000000001", "000000002-000000003"]
    monkeypatch.undo()
    res = finsim.run(scenario, replications=16, seed=4, chunk_size=2, out=out, resume=True)
    assert_whole(res, reference)


def test_a_read_only_results_folder_is_a_clear_error(scenario, tmp_path, monkeypatch):
    """A folder that cannot be written (read-only, or a path through a file) is one problem
    naming --out, before anything runs."""
    through_a_file = tmp_path / "a-file"
    through_a_file.write_text("not a folder")
    with pytest.raises(finsim.ScenarioError, match="cannot write the results folder"):
        finsim.run(scenario, replications=2, out=through_a_file / "run")

    read_only = OSError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path / "ro"))
    monkeypatch.setattr(Path, "mkdir", _fail_on_call(1, read_only, Path.mkdir))
    with pytest.raises(finsim.ScenarioError, match="Read-only file system"):
        finsim.run(scenario, replications=2, out=tmp_path / "ro")


@pytest.mark.skipif(os.geteuid() == 0, reason="permissions do not bind root")
def test_a_folder_without_write_permission_is_a_clear_error(scenario, tmp_path):
    """A folder the user may not write into (chmod 500)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(finsim.ScenarioError, match="Permission denied"):
            finsim.run(scenario, replications=2, out=locked / "run")
    finally:
        locked.chmod(0o700)


def test_the_command_line_reports_a_full_disk_in_one_line(tmp_path, monkeypatch, capsys):
    """finsim run --out on a full disk: exit status 2 and one line, no traceback."""
    from finsim.cli import main

    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(finsim.store.np, "save", _fail_on_call(1, full, np.save))
    status = main(["run", str(EXAMPLE), "-n", "2", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("finsim: ") and "No space left on device" in err
    assert "Traceback" not in err


# -- interrupted writes --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_interrupted_table_write_leaves_no_partial_file(scenario, tmp_path, monkeypatch, fmt):
    """A table write that fails half-way (disk full) or is interrupted (Ctrl-C) leaves no
    partial table and no temporary file; a table written before stays whole."""
    res = finsim.run(scenario, replications=2, seed=1)
    out = tmp_path / "tables"
    write = getattr(res, f"to_{fmt}")
    write(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    real = finsim.results._write_frame

    def half_then(error):
        def writing(frame, path, fmt_):
            real(frame.iloc[: len(frame) // 2], path, fmt_)  # half a table on disk...
            raise error  # ...then the failure

        return writing

    for error in (OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()):
        monkeypatch.setattr(finsim.results, "_write_frame", half_then(error))
        with pytest.raises(type(error)):
            write(out)
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before
        assert not leftovers(out)
        fresh = tmp_path / f"fresh-{type(error).__name__}"
        with pytest.raises(type(error)):
            write(fresh)
        assert not [p for p in fresh.iterdir() if p.suffix == f".{fmt}"]


def test_a_chunk_write_interrupted_by_ctrl_c_leaves_no_chunk(
    scenario, reference, tmp_path, monkeypatch, saves_per_chunk
):
    """Ctrl-C while a chunk is written: the chunk is absent, never half there; resuming
    finishes the run."""
    out = tmp_path / "run"
    monkeypatch.setattr(
        finsim.store.np,
        "save",
        _fail_on_call(3 * saves_per_chunk + 2, KeyboardInterrupt(), np.save),
    )
    with pytest.raises(KeyboardInterrupt):
        finsim.run(scenario, replications=16, seed=4, chunk_size=2, out=out)
    assert not leftovers(out)
    assert len(list((out / "chunks").iterdir())) == 3
    monkeypatch.undo()
    res = finsim.run(scenario, replications=16, seed=4, chunk_size=2, out=out, resume=True)
    assert_whole(res, reference)


def test_a_temporary_folder_left_by_a_crash_is_not_read(scenario, reference, tmp_path):
    """A process killed while writing leaves a '.tmp-' folder: it is not a chunk, and
    resuming neither reads it nor trips over it."""
    out = tmp_path / "run"
    finsim.run(scenario, replications=16, seed=4, chunk_size=2, out=out)
    stray = out / "chunks" / ".tmp-crashed"
    stray.mkdir()
    (stray / "replications.npy").write_bytes(b"half a file")
    (out / "chunks" / "000000002-000000003").rename(out / "chunks" / "gone")
    res = finsim.run(scenario, replications=16, seed=4, chunk_size=2, out=out, resume=True)
    assert_whole(res, reference)
