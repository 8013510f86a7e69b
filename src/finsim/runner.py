"""Running a scenario: replications in chunks, on one core or several.

Chunks of replications are independent tasks. Because every random number is
drawn by replication (see :mod:`finsim.random`), replication r gives the same
result whatever the chunk size, the number of workers or the backend.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from finsim import decisions
from finsim.backends import (  # noqa: F401  (re-exported)
    IN_FLIGHT_PER_WORKER,
    PARENT_POLL_SECONDS,
    UsageError,
    _execute,
    _interrupted,
    _kill_me_with_my_parent,
    _option,
    _worker_start,
)
from finsim.economy import Economy
from finsim.engine import ChunkOutput, Engine, RunOptions, prepare
from finsim.results import Results, position_arrays
from finsim.scenario.loader import Scenario
from finsim.summaries import POSITIONS_MAX_REPLICATIONS, SummaryAccumulator

if TYPE_CHECKING:
    from finsim.system import System

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


@dataclass(frozen=True)
class Keep:
    """What a run keeps besides each body's positions summary; None: by the run's size.

    ``journal``: every posting (default: at most 10 replications); ``monthly``: month-end
    positions (1,000); ``tables``: the mechanisms' per-replication tables and detail events
    (200); ``flows``: every flow per replication (1,000; larger runs keep each body's yearly
    totals); ``positions``: every replication's positions and events (2,000; larger runs
    fold each chunk into a streaming summary).
    """

    journal: bool | None = None
    monthly: bool | None = None
    tables: bool | None = None
    flows: bool | None = None
    positions: bool | None = None

    def resolved(self, replications: int) -> Keep:
        """Every choice made: what was given, else the default for ``replications``."""

        def pick(given: bool | None, most: int) -> bool:
            return replications <= most if given is None else bool(given)

        return Keep(
            journal=pick(self.journal, JOURNAL_MAX_REPLICATIONS),
            monthly=pick(self.monthly, MONTHLY_MAX_REPLICATIONS),
            tables=pick(self.tables, TABLES_MAX_REPLICATIONS),
            flows=pick(self.flows, FLOWS_MAX_REPLICATIONS),
            positions=pick(self.positions, POSITIONS_MAX_REPLICATIONS),
        )


def run_chunk(
    scenario: Scenario, replications: np.ndarray, seed: int, options: RunOptions | None = None
) -> ChunkOutput:
    """Run one chunk of replications (a task for any backend)."""
    return Engine(scenario, replications, seed, options or RunOptions()).run()


def simulate_pilot(scenario: Scenario, replications: np.ndarray, seed: int) -> Any:
    """The position arrays ``(P, F, A)`` of a pilot run of ``replications`` (what
    :mod:`finsim.decisions` weighs when bodies decide; handed to it so that decisions never
    import the engine)."""
    chunk = run_chunk(scenario, replications, seed)
    economy = Economy.from_scenario(scenario)
    results = Results(
        economy,
        [chunk],
        scenario_name="pilot",
        variant="pilot",
        seed=seed,
        system=getattr(scenario, "system", None),
    )
    return results._position_arrays


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
    system: System | None = None,
    keep: Keep | None = None,
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
    ``keep`` gives the keep_* choices as one :class:`Keep` (a keep_* argument given too
    overrides its field). ``system`` runs the scenario with another
    :class:`finsim.system.System` (its file validated again against it); by default a
    scenario runs with the System it was read with.
    """
    if not isinstance(scenario, Scenario):
        raise TypeError(
            f"expected a finsim.Scenario (from finsim.load_scenario), got {type(scenario).__name__}"
        )
    if system is not None:
        scenario = scenario.with_system(system)
    if variant is not None:
        scenario = scenario.with_variant(variant)
    replications, seed, chunk = _check_options(
        replications, seed, chunk_size, backend, default_chunk(scenario)
    )
    given = keep or Keep()
    kept = Keep(
        journal=given.journal if keep_journal is None else keep_journal,
        monthly=given.monthly if keep_monthly is None else keep_monthly,
        tables=given.tables if keep_tables is None else keep_tables,
        flows=given.flows if keep_flows is None else keep_flows,
        positions=given.positions if keep_positions is None else keep_positions,
    ).resolved(replications)
    options = RunOptions(
        keep_journal=bool(kept.journal),
        keep_monthly=bool(kept.monthly),
        keep_tables=bool(kept.tables),
        keep_flows=bool(kept.flows),
        antithetic=antithetic,
        prepared={**prepare(scenario, seed), **decisions.prepare(scenario, seed, simulate_pilot)},
    )
    keep_positions = bool(kept.positions)
    economy = Economy.from_scenario(scenario)
    summarised = (
        None
        if keep_positions
        else SummaryAccumulator(economy, scenario.calendar.labels, replications)
    )
    tasks = chunks_of(replications, chunk)
    store = None
    if out is not None:
        from finsim.store import ChunkLayout, ChunkStore, RunManifest, scenario_hash

        manifest = RunManifest(
            scenario=scenario.name,
            source=scenario.source,
            scenario_hash=scenario_hash(scenario.to_data()),
            variant=scenario.variant,
            seed=seed,
            replications=replications,
            chunk_size=chunk,
            antithetic=antithetic,
            keep_monthly=options.keep_monthly,
            keep_tables=options.keep_tables,
            keep_flows=options.keep_flows,
            keep_positions=keep_positions,
            finsim_version=_version(),
        )
        calendar = economy.calendar
        layout = ChunkLayout(calendar.n_years, calendar.n_months, economy.n_accounts)
        store = ChunkStore.open(Path(out), manifest, resume=resume, force=force, layout=layout)
        done = store.done()
        tasks = [t for t in tasks if ChunkStore.name(t) not in done]
    elif resume:
        raise _option("resume", "resuming needs the folder of the interrupted run (out=...)")
    elif replications > MEMORY_CHECK_REPLICATIONS:
        check_memory(scenario, replications, seed, options, keep_positions)
    fold = None if summarised is None else _folder(summarised, economy, scenario.system)
    outputs = _execute(
        scenario, tasks, seed, options, backend, workers, client, store, progress, fold, run_chunk
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
        system=getattr(scenario, "system", None),
    )


def _folder(summarised: SummaryAccumulator, economy: Economy, system: System) -> Any:
    """Fold a chunk into the summary (positions and event counts), and return what is left
    to keep of it: its replication numbers and the tables and month ends asked for."""

    mechanisms = list(system.mechanisms.values())

    def fold(chunk: ChunkOutput) -> ChunkOutput:
        summarised.add(position_arrays(chunk.totals, chunk.extras, economy, mechanisms))
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
            monthly_cash=chunk.monthly_cash,
        )

    return fold


def _version() -> str:
    from finsim._version import __version__

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
        + (2 * probe.monthly.nbytes if probe.monthly is not None else 0)
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
