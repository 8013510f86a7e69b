"""Running a scenario: replications in chunks, on one core or several.

Chunks of replications are independent tasks. Because every random number is
drawn by replication (see :mod:`finsim.random`), replication r gives the same
result whatever the chunk size, the number of workers or the backend.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

from finsim.economy import Economy
from finsim.engine import ChunkOutput, Engine, RunOptions, prepare
from finsim.errors import ScenarioError
from finsim.results import Results
from finsim.scenario.loader import Scenario

BACKENDS = ("serial", "processes")
#: Runs with at most this many replications keep the full journal by default.
JOURNAL_MAX_REPLICATIONS = 10
#: Runs with at most this many replications keep month-end positions by default.
MONTHLY_MAX_REPLICATIONS = 1000
DEFAULT_CHUNK = 256


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
    antithetic: bool = False,
    variant: str | None = None,
) -> Results:
    """Run ``scenario`` for ``replications`` replications from ``seed``.

    ``chunk_size`` replications run together as arrays (default 256);
    ``backend`` is "serial" or "processes" (``workers`` processes, default all
    cores). ``keep_journal`` keeps every posting (default: when there are at most
    10 replications); ``keep_monthly`` keeps each body's year-to-date position at every
    month end, ``Results.monthly`` (default: at most 1,000 replications). ``antithetic`` pairs replications with mirrored shocks.
    ``variant`` applies a named variant first.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(
            f"expected a finsim.Scenario (from finsim.load_scenario), got {type(scenario).__name__}"
        )
    if variant is not None:
        scenario = scenario.with_variant(variant)
    if (
        isinstance(replications, bool)
        or not isinstance(replications, int | np.integer)
        or replications < 1
    ):
        raise _option("replications", f"expected a whole number >= 1, got {replications!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise _option("seed", f"expected a whole number >= 0, got {seed!r}")
    chunk = DEFAULT_CHUNK if chunk_size is None else chunk_size
    if isinstance(chunk, bool) or not isinstance(chunk, int | np.integer) or chunk < 1:
        raise _option("chunk_size", f"expected a whole number >= 1, got {chunk_size!r}")
    if backend not in BACKENDS:
        raise _option("backend", f"expected one of {', '.join(BACKENDS)}, got {backend!r}")
    options = RunOptions(
        keep_journal=replications <= JOURNAL_MAX_REPLICATIONS
        if keep_journal is None
        else keep_journal,
        keep_monthly=replications <= MONTHLY_MAX_REPLICATIONS
        if keep_monthly is None
        else keep_monthly,
        antithetic=antithetic,
        prepared=prepare(scenario, int(seed)),
    )
    tasks = chunks_of(int(replications), int(chunk))
    outputs = _execute(scenario, tasks, int(seed), options, backend, workers)
    return Results(
        Economy.from_scenario(scenario),
        outputs,
        scenario_name=scenario.name,
        variant=scenario.variant,
        seed=int(seed),
        source=scenario.source,
        prepared=options.prepared,
        need=[
            (
                c.id,
                c.weighted_population if c.weighted_population is not None else c.population,
                c.population,
            )
            for c in scenario.model.organisations.commissioners  # type: ignore[attr-defined]
        ],
    )


def _execute(
    scenario: Scenario,
    tasks: Sequence[np.ndarray],
    seed: int,
    options: RunOptions,
    backend: str,
    workers: int | None,
) -> list[ChunkOutput]:
    if backend == "serial" or len(tasks) == 1:
        return [run_chunk(scenario, reps, seed, options) for reps in tasks]
    n_workers = workers or os.cpu_count() or 1
    with ProcessPoolExecutor(max_workers=min(n_workers, len(tasks))) as pool:
        futures = [pool.submit(run_chunk, scenario, reps, seed, options) for reps in tasks]
        return [f.result() for f in futures]
