"""Running a scenario: replications in chunks, on one core or several.

Chunks of replications are independent tasks. Because every random number is
drawn by replication (see :mod:`finsim.random`), replication r gives the same
result whatever the chunk size, the number of workers or the backend.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from finsim.economy import Economy
from finsim.engine import ChunkOutput, Engine, RunOptions, prepare
from finsim.errors import RunInterrupted, ScenarioError
from finsim.results import Results, position_arrays
from finsim.scenario.loader import Scenario
from finsim.summaries import POSITIONS_MAX_REPLICATIONS, SummaryAccumulator

BACKENDS = ("serial", "processes", "dask")
#: Runs larger than this are checked to fit in memory before they start.
MEMORY_CHECK_REPLICATIONS = 2000
#: Runs with at most this many replications keep the full journal by default.
JOURNAL_MAX_REPLICATIONS = 10
#: Runs with at most this many replications keep month-end positions by default.
MONTHLY_MAX_REPLICATIONS = 1000
#: Runs with at most this many replications keep mechanism tables and detail events.
TABLES_MAX_REPLICATIONS = 200
#: Runs with at most this many replications keep every flow (larger: each body's totals).
FLOWS_MAX_REPLICATIONS = 1000
#: The default chunk holds about this many contract x point-of-delivery cells per array
#: (2^21: 16 MB of float64), between MIN_CHUNK and MAX_CHUNK replications.
CHUNK_CELLS = 2**21
MIN_CHUNK, MAX_CHUNK = 16, 1024
#: Chunks handed to each worker ahead of time (the rest wait their turn in the parent).
IN_FLIGHT_PER_WORKER = 2


class UsageError(ScenarioError):
    """A bad option (replications, seed, backend...) rather than a bad file."""


def _option(name: str, message: str) -> UsageError:
    return UsageError.single(name, message, "(options)")  # type: ignore[return-value]


def run_chunk(
    scenario: Scenario, replications: np.ndarray, seed: int, options: RunOptions | None = None
) -> ChunkOutput:
    """Run one chunk of replications (a task for any backend)."""
    return Engine(scenario, replications, seed, options or RunOptions()).run()


def chunks_of(replications: int, chunk_size: int) -> list[np.ndarray]:
    """Replication numbers 0..replications-1 cut into consecutive chunks."""
    return [
        np.arange(start, min(start + chunk_size, replications))
        for start in range(0, replications, chunk_size)
    ]


def run(
    scenario: Scenario,
    replications: int = 1,
    seed: int = 0,
    chunk_size: int | None = None,
    backend: str = "serial",
    *,
    workers: int | None = None,
    client: Any = None,
    keep_journal: bool | None = None,
    keep_monthly: bool | None = None,
    keep_tables: bool | None = None,
    keep_flows: bool | None = None,
    keep_positions: bool | None = None,
    antithetic: bool = False,
    variant: str | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress: bool | None = None,
) -> Results:
    """Run ``scenario`` for ``replications`` replications from ``seed``.

    ``chunk_size`` replications run together as arrays (default: by the scenario's size,
    see :func:`default_chunk`; 128 for England). ``backend``:
    "serial", "processes" (``workers`` local processes, default all cores) or "dask"
    (``client``: a ``distributed.Client``, or a scheduler address; default a local
    cluster). Every backend and chunk size gives the same replications.
    ``keep_journal`` keeps every posting (default: at most 10 replications);
    ``keep_monthly`` keeps month-end positions (default: at most 1,000);
    ``keep_tables`` keeps the mechanisms' per-replication tables (``res.table``) and
    detail events (start-of-year decisions, each dispute stage) (default: at most 200);
    ``keep_flows`` keeps every flow per replication, ``Results.flows`` (default: at most
    1,000; larger runs keep each body's yearly totals, which is all positions, summaries
    and stress comparisons need). ``keep_positions`` keeps every replication's positions
    and events (default: at most 2,000); a larger run folds each chunk into a streaming
    summary as it finishes and lets it go, so memory does not grow with replications:
    ``summary()``, ``subsidies()`` and ``event_counts()`` are then what it offers.
    ``antithetic`` pairs replications with mirrored random numbers. ``variant``
    applies a named variant first. ``out``: a folder that receives each finished
    chunk as it completes; ``resume`` finishes a run interrupted in that folder
    without recomputing a finished chunk; ``force`` reuses a folder that holds
    something else. ``progress`` shows a progress bar (default: on a terminal).
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(
            f"expected a finsim.Scenario (from finsim.load_scenario), got {type(scenario).__name__}"
        )
    if variant is not None:
        scenario = scenario.with_variant(variant)
    replications, seed, chunk = _check_options(
        replications, seed, chunk_size, backend, default_chunk(scenario)
    )
    options = RunOptions(
        keep_journal=replications <= JOURNAL_MAX_REPLICATIONS
        if keep_journal is None
        else keep_journal,
        keep_monthly=replications <= MONTHLY_MAX_REPLICATIONS
        if keep_monthly is None
        else keep_monthly,
        keep_tables=replications <= TABLES_MAX_REPLICATIONS if keep_tables is None else keep_tables,
        keep_flows=replications <= FLOWS_MAX_REPLICATIONS if keep_flows is None else keep_flows,
        antithetic=antithetic,
        prepared=prepare(scenario, seed),
    )
    if keep_positions is None:
        keep_positions = replications <= POSITIONS_MAX_REPLICATIONS
    economy = Economy.from_scenario(scenario)
    summarised = (
        None
        if keep_positions
        else SummaryAccumulator(economy, scenario.calendar.labels, replications)
    )
    tasks = chunks_of(replications, chunk)
    store = None
    if out is not None:
        from finsim.store import FORMAT, ChunkLayout, ChunkStore, scenario_hash

        manifest = {
            "format": FORMAT,
            "scenario": scenario.name,
            "source": scenario.source,
            "scenario_hash": scenario_hash(scenario.to_data()),
            "variant": scenario.variant,
            "seed": seed,
            "replications": replications,
            "chunk_size": chunk,
            "antithetic": antithetic,
            "keep_monthly": options.keep_monthly,
            "keep_tables": options.keep_tables,
            "keep_flows": options.keep_flows,
            "keep_positions": keep_positions,
            "finsim_version": _version(),
        }
        calendar = economy.calendar
        layout = ChunkLayout(calendar.n_years, calendar.n_months, economy.n_accounts)
        store = ChunkStore.open(Path(out), manifest, resume=resume, force=force, layout=layout)
        done = store.done()
        tasks = [t for t in tasks if ChunkStore.name(t) not in done]
    elif resume:
        raise _option("resume", "resuming needs the folder of the interrupted run (out=...)")
    elif replications > MEMORY_CHECK_REPLICATIONS:
        check_memory(scenario, replications, seed, options, keep_positions)
    fold = None if summarised is None else _folder(summarised, economy)
    outputs = _execute(
        scenario, tasks, seed, options, backend, workers, client, store, progress, fold
    )
    if store is not None:
        outputs = [c if fold is None else fold(c) for c in store.read_each()]
    return Results(
        economy,
        outputs,
        scenario_name=scenario.name,
        variant=scenario.variant,
        seed=seed,
        source=scenario.source,
        prepared=options.prepared,
        need=need_measures(scenario),
        summarised=summarised,
        tables_kept=options.keep_tables,
    )


def _folder(summarised: SummaryAccumulator, economy: Economy) -> Any:
    """Fold a chunk into the summary (positions and event counts), and return what is left
    to keep of it: its replication numbers and the tables and month ends asked for."""

    def fold(chunk: ChunkOutput) -> ChunkOutput:
        summarised.add(position_arrays(chunk.totals, chunk.extras, economy))
        summarised.add_events(chunk.events)
        return ChunkOutput(
            replications=chunk.replications,
            flow_keys=chunk.flow_keys.iloc[0:0],
            flow_amounts=np.empty((chunk.replications.size, 0)),
            events=chunk.events.iloc[0:0],
            journal=chunk.journal,
            extras={k: v for k, v in chunk.extras.items() if v.ndim == 2},
            tables=chunk.tables,
            monthly=chunk.monthly,
            totals={},
            flows_kept=False,
        )

    return fold


def _version() -> str:
    from finsim import __version__

    return __version__


def need_measures(scenario: Scenario) -> list[tuple[str, float, float]]:
    """(commissioner, need measure, population): the health inequalities weighted population
    where given, else the weighted population."""
    out = []
    for c in scenario.model.organisations.commissioners:  # type: ignore[attr-defined]
        weighted = c.weights.get("health_inequalities", c.weighted_population)
        out.append((c.id, weighted if weighted is not None else c.population, c.population))
    return out


def default_chunk(scenario: Scenario) -> int:
    """Replications per chunk: a power of two giving arrays of about :data:`CHUNK_CELLS`
    contract x POD cells (128 for England's 1,500 contracts x 7 PODs), so the arrays a
    month works on stay a size the processor's caches handle well as scenarios grow."""
    contracts = getattr(scenario.model, "contracts", None) or []
    pods = len({pod for contract in contracts for pod in contract.plan}) or 1
    cells = max(len(contracts) * pods, 1)
    size = 2 ** int(np.floor(np.log2(max(CHUNK_CELLS / cells, 1.0))))
    return int(min(max(size, MIN_CHUNK), MAX_CHUNK))


def _check_options(
    replications: Any, seed: Any, chunk_size: Any, backend: Any, default: int = MAX_CHUNK
) -> tuple[int, int, int]:
    def whole(value: Any, low: int) -> bool:
        return bool(
            not isinstance(value, bool) and isinstance(value, int | np.integer) and value >= low
        )

    if not whole(replications, 1):
        raise _option("replications", f"expected a whole number >= 1, got {replications!r}")
    if not whole(seed, 0):
        raise _option("seed", f"expected a whole number >= 0, got {seed!r}")
    chunk = default if chunk_size is None else chunk_size
    if not whole(chunk, 1):
        raise _option("chunk_size", f"expected a whole number >= 1, got {chunk_size!r}")
    if backend not in BACKENDS:
        raise _option("backend", f"expected one of {', '.join(BACKENDS)}, got {backend!r}")
    return int(replications), int(seed), int(chunk)


def check_memory(
    scenario: Scenario,
    replications: int,
    seed: int,
    options: RunOptions,
    keep_positions: bool = True,
) -> None:
    """Refuse, before starting, a run whose results would not fit in memory.

    A one-replication probe measures what a replication keeps; a run needing more than
    half the machine's memory is refused with the option that fixes it.
    """
    probe = run_chunk(scenario, np.array([0]), seed, options)
    per_replication = (
        probe.flow_amounts.nbytes
        + (probe.monthly.nbytes if probe.monthly is not None else 0)
        + sum(int(t.memory_usage(deep=True).sum()) for t in probe.tables.values())
    )
    if keep_positions:
        per_replication += sum(v.nbytes for v in probe.totals.values()) + int(
            probe.events.memory_usage(deep=True).sum()
        )
    # merging chunks and deriving positions and summaries take several copies of the arrays
    need = per_replication * replications * 4
    available = _physical_memory() // 2
    if need > available:
        raise _option(
            "replications",
            f"{replications:,} replications would need about {need / 1e9:,.1f} GB, more than half "
            f"this machine's memory: run fewer replications (several runs with different seeds "
            "combine), or keep_positions=False (a streaming summary), keep_flows=False, "
            "keep_monthly=False and keep_tables=False if you asked for them",
        )


def _physical_memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 1024**3


def _execute(
    scenario: Scenario,
    tasks: Sequence[np.ndarray],
    seed: int,
    options: RunOptions,
    backend: str,
    workers: int | None,
    client: Any,
    store: Any,
    progress: bool | None,
    fold: Any = None,
) -> list[ChunkOutput]:
    """Run the chunks on a backend; hand each finished chunk to the store as it completes
    (or, with ``fold``, fold it into the streaming summary and keep what is left)."""
    show = sys.stderr.isatty() if progress is None else progress
    bar = tqdm(total=len(tasks), unit="chunk", desc="finsim", disable=not show or len(tasks) < 2)
    outputs: list[ChunkOutput] = []

    def finished(chunk: ChunkOutput) -> None:
        if store is not None:
            store.write(chunk)
        else:
            outputs.append(chunk if fold is None else fold(chunk))
        bar.update(1)

    try:
        if backend == "serial" or (backend == "processes" and len(tasks) <= 1):
            for reps in tasks:
                finished(run_chunk(scenario, reps, seed, options))
        elif backend == "processes":
            from concurrent.futures.process import BrokenProcessPool

            n_workers = min(workers or os.cpu_count() or 1, len(tasks))
            queue = iter(tasks)
            n_done = 0
            try:
                with ProcessPoolExecutor(
                    max_workers=n_workers, initializer=_worker_start, initargs=(os.getpid(),)
                ) as pool:
                    # a few chunks in flight per worker, not every chunk at once: the parent's
                    # memory stays bounded however many chunks the run has
                    pending = {
                        pool.submit(run_chunk, scenario, reps, seed, options)
                        for reps in itertools.islice(queue, IN_FLIGHT_PER_WORKER * n_workers)
                    }
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            finished(future.result())
                            n_done += 1
                            for reps in itertools.islice(queue, 1):
                                pending.add(pool.submit(run_chunk, scenario, reps, seed, options))
            except BrokenProcessPool:
                # a worker was killed (by the system when out of memory, or by hand): what
                # finished is in the results folder, if there is one, and resuming runs the rest
                raise _interrupted(
                    "a worker process died (killed, or out of memory?)", n_done, len(tasks), store
                ) from None
        else:
            _dask(scenario, tasks, seed, options, workers, client, finished, store)
    finally:
        bar.close()
    outputs.sort(key=lambda c: int(c.replications[0]))
    return outputs


#: How often a worker process checks that the run's process is still there (seconds).
PARENT_POLL_SECONDS = 0.5


def _worker_start(parent: int) -> None:
    """Run in each worker process as it starts: end it when the run's process dies.

    A worker waits for its next chunk on a pipe that its siblings hold open too: were the run's
    process killed (SIGKILL, the system out of memory), the workers would wait on it for ever.
    On Linux the kernel kills a worker when the process that started it dies
    (``PR_SET_PDEATHSIG``); everywhere but Windows, a daemon thread also watches the run's
    process and ends the worker (``os._exit``) once it is gone.
    """
    direct = os.getppid() == parent  # (not so when a fork server started the worker)
    if direct and sys.platform.startswith("linux"):
        _kill_me_with_my_parent()
    if sys.platform == "win32":
        return
    if not _alive(parent, direct):  # it died before the signal was asked for
        os._exit(1)
    import threading

    threading.Thread(
        target=_watch_parent, args=(parent, direct), name="finsim-watch-parent", daemon=True
    ).start()


def _kill_me_with_my_parent() -> None:
    """Ask Linux to send this process SIGKILL when its parent dies (best effort)."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):  # no libc to ask: the watching thread remains
        pass


def _alive(parent: int, direct: bool) -> bool:
    if direct:  # a child whose parent died is adopted: its parent's pid changes
        return os.getppid() == parent
    try:
        os.kill(parent, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (there, but not ours to signal)
        return True
    return True


def _watch_parent(parent: int, direct: bool) -> None:
    import time

    while _alive(parent, direct):
        time.sleep(PARENT_POLL_SECONDS)
    os._exit(1)


def _interrupted(what: str, n_done: int, n_tasks: int, store: Any) -> RunInterrupted:
    """The error of a run stopped by a dead worker: what finished is in the results folder,
    if there is one, and resuming runs the rest."""
    where = (
        f"the {n_done:,} finished are saved in {store.directory}: finish the run "
        f"with resume=True (finsim run ... --out {store.directory} --resume)"
        if store is not None
        else "nothing was saved: run with out=DIR (finsim run ... --out DIR) to keep "
        "finished chunks, and resume=True (--resume) to finish after a failure"
    )
    return RunInterrupted(f"{what} after {n_done:,} of {n_tasks:,} chunks; {where}")


def _dask(
    scenario: Scenario,
    tasks: Sequence[np.ndarray],
    seed: int,
    options: RunOptions,
    workers: int | None,
    client: Any,
    finished: Any,
    store: Any = None,
) -> None:
    try:
        from distributed import Client, KilledWorker
        from distributed import as_completed as dask_completed
    except ImportError:
        raise _option(
            "backend", "the dask backend needs the 'dask' extra: pip install 'finsim[dask]'"
        ) from None
    own = None
    if client is None or isinstance(client, str):
        own = (
            Client(client)
            if isinstance(client, str)
            else Client(n_workers=workers or os.cpu_count() or 1, processes=True)
        )
        client = own
    try:
        # the scenario goes to the workers once; a few chunks are in flight per worker and
        # each result is released once folded, so neither the client nor the workers hold
        # the whole run (a million replications is thousands of chunks)
        shared = client.scatter(scenario, broadcast=True)
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        queue = iter(tasks)

        in_flight: dict[Any, tuple[Any, np.ndarray]] = {}  # future and replications, by key
        n_done = 0

        def submit(reps: np.ndarray) -> Any:
            future = client.submit(run_chunk, shared, reps, seed, options, pure=False)
            in_flight[future.key] = (future, reps)
            return future

        running = dask_completed(
            [submit(reps) for reps in itertools.islice(queue, IN_FLIGHT_PER_WORKER * n_workers)]
        )
        for future in running:
            try:
                chunk = future.result()
            except (KilledWorker, CancelledError) as exc:
                reps = in_flight.pop(future.key)[1]
                with contextlib.suppress(Exception):  # best effort: the client may be closed
                    client.cancel([f for f, _ in in_flight.values()])
                which = f"the chunk of replications {int(reps[0]):,} to {int(reps[-1]):,}"
                raise _interrupted(
                    # the workers running the chunk died more times than the scheduler retries
                    # a task (killed, or out of memory), or the only workers holding the
                    # scenario died (it cannot be computed again: cancelled)
                    f"dask workers died (killed, or out of memory?) running {which}, more "
                    "times than the scheduler retries a chunk (distributed.scheduler."
                    "allowed-failures),"
                    if isinstance(exc, KilledWorker)
                    else f"dask cancelled {which} (its workers died, taking the scenario sent "
                    "to them, or the client was closed?)",
                    n_done,
                    len(tasks),
                    store,
                ) from None
            finished(chunk)
            n_done += 1
            del in_flight[future.key]
            future.release()
            for reps in itertools.islice(queue, 1):
                running.add(submit(reps))
    finally:
        if own is not None:
            own.close()
