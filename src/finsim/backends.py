"""Where a run's chunks run: in the calling process, on local worker processes, or on a Dask
cluster; each finished chunk is handed back as it completes.

A worker receives the scenario pickled: its data and its System, whose mechanism classes
pickle by reference, so a plug-in defined in an importable module is imported by the
worker itself. Every backend gives the same replications.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, CancelledError, ProcessPoolExecutor, wait
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from finsim.engine import ChunkOutput, Engine, RunOptions
from finsim.errors import RunInterrupted, ScenarioError
from finsim.scenario.loader import Scenario

#: Chunks handed to each worker ahead of time (the rest wait their turn in the parent).
IN_FLIGHT_PER_WORKER = 2


class UsageError(ScenarioError):
    """A bad option (replications, seed, backend...) rather than a bad file."""


def _option(name: str, message: str) -> UsageError:
    return UsageError.single(name, message, "(options)")  # type: ignore[return-value]


def run_chunk(
    scenario: Scenario, replications: np.ndarray, seed: int, options: RunOptions | None = None
) -> ChunkOutput:
    """Run one chunk of replications (what a worker does)."""
    return Engine(scenario, replications, seed, options or RunOptions()).run()


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
    run_chunk: Callable[..., ChunkOutput] = run_chunk,
) -> list[ChunkOutput]:
    """Run the chunks on a backend; hand each finished chunk to the store as it completes
    (or, with ``fold``, fold it into the streaming summary and keep what is left).
    ``run_chunk`` runs one chunk (a module-level function, pickled by reference)."""
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
                # each worker is handed the scenario once, as it starts (unpickling it takes
                # 50 ms for England), and keeps it for every chunk it runs
                with ProcessPoolExecutor(
                    max_workers=n_workers,
                    initializer=_worker_start,
                    initargs=(os.getpid(), scenario),
                ) as pool:
                    # a few chunks in flight per worker, not every chunk at once: the parent's
                    # memory stays bounded however many chunks the run has
                    pending = {
                        pool.submit(_run_held, run_chunk, reps, seed, options)
                        for reps in itertools.islice(queue, IN_FLIGHT_PER_WORKER * n_workers)
                    }
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_COMPLETED)
                        for future in done:
                            finished(future.result())
                            n_done += 1
                            for reps in itertools.islice(queue, 1):
                                pending.add(pool.submit(_run_held, run_chunk, reps, seed, options))
            except BrokenProcessPool:
                # a worker was killed (by the system when out of memory, or by hand): what
                # finished is in the results folder, if there is one, and resuming runs the rest
                raise _interrupted(
                    "a worker process died (killed, or out of memory?)", n_done, len(tasks), store
                ) from None
        else:
            _dask(scenario, tasks, seed, options, workers, client, finished, store, run_chunk)
    finally:
        bar.close()
    outputs.sort(key=lambda c: int(c.replications[0]))
    return outputs


#: How often a worker process checks that the run's process is still there (seconds).
PARENT_POLL_SECONDS = 0.5


#: What a worker process holds for the run it serves: the scenario (see :func:`_worker_start`).
_HELD: dict[str, Scenario] = {}


def _run_held(
    run_chunk: Callable[..., ChunkOutput], replications: np.ndarray, seed: int, options: RunOptions
) -> ChunkOutput:
    """Run one chunk in a worker process on the scenario it was handed as it started."""
    return run_chunk(_HELD["scenario"], replications, seed, options)


def _worker_start(parent: int, scenario: Scenario | None = None) -> None:
    """Run in each worker process as it starts: keep the run's ``scenario`` for its chunks;
    end the worker when the run's process dies.

    A worker waits for its next chunk on a pipe that its siblings hold open too: were the run's
    process killed (SIGKILL, the system out of memory), the workers would wait on it for ever.
    On Linux the kernel kills a worker when the process that started it dies
    (``PR_SET_PDEATHSIG``); everywhere but Windows, a daemon thread also watches the run's
    process and ends the worker (``os._exit``) once it is gone.
    """
    if scenario is not None:
        _HELD["scenario"] = scenario
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
    run_chunk: Callable[..., ChunkOutput] = run_chunk,
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
