"""The engine: a SimPy clock of months driving the mechanisms over a chunk of replications.

SimPy schedules the calendar. Each month the calendar process runs the phases
of :data:`finsim.mechanisms.base.PHASES` in order; inside a phase, mechanisms
run in the order :func:`finsim.state.order` derives from what each provides and requires. A mechanism's SimPy processes wait on
``ctx.at(tick, phase)`` and act inside that phase, after the phase's handlers.
Every array has a leading replication axis R; nothing here loops over
replications or organisations.

At every year end the ledger checks that money balances
(:meth:`finsim.ledger.Ledger.check_conservation`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from finsim.economy import Economy
from finsim.ledger import CATEGORIES, Ledger, vocabulary, with_role
from finsim.logs import EventLog, TableLog, journal_frame
from finsim.mechanisms.base import PHASES, Context, Mechanism
from finsim.random import Streams

if TYPE_CHECKING:
    from finsim.scenario.loader import Scenario


@dataclass(frozen=True)
class RunOptions:
    """What a run keeps besides the aggregated flows."""

    keep_journal: bool = False  # every posting (small runs, readable traces)
    keep_monthly: bool = False  # each body's year-to-date position at every month end
    keep_tables: bool = True  # mechanism tables and detail events, rows per replication
    keep_flows: bool = True  # every flow per replication (else only each body's totals)
    antithetic: bool = False  # pair replications with mirrored random numbers
    #: what each mechanism's ``prepare`` computed once for the whole run, by section
    prepared: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChunkOutput:
    """Everything a chunk of replications produced, as arrays (see ``finsim.results``)."""

    replications: np.ndarray  # (R,) global replication numbers
    flow_keys: Any  # DataFrame of integer key columns, one row per flow column
    flow_amounts: np.ndarray  # (R, K)
    events: Any  # DataFrame
    journal: Any  # DataFrame or None
    extras: dict[str, np.ndarray]  # per-mechanism outputs shaped (R, F, A): control totals etc.
    tables: dict[str, Any]  # mechanism tables by name (DataFrames), see finsim.records
    monthly: np.ndarray | None  # (R, T, A) year-to-date revenue surplus at each month end
    totals: dict[str, np.ndarray]  # (R, F, A) sums per body and year (finsim.positions)
    flows_kept: bool = True  # False: flow_keys / flow_amounts are empty
    monthly_cash: np.ndarray | None = None  # (R, T, A) cash balance at each month end


def prepare(scenario: Scenario, seed: int) -> dict[str, Any]:
    """Run each active mechanism's ``prepare`` once for a whole run (e.g. a pilot simulation)."""
    out: dict[str, Any] = {}
    for section, cls in scenario.system.mechanisms.items():
        config = getattr(scenario.model, section, None)
        if config is not None:
            value = cls.prepare(config, scenario, seed)
            if value is not None:
                out[section] = value
    return out


class Engine:
    """Runs one scenario (one variant) for one chunk of replications."""

    def __init__(
        self,
        scenario: Scenario,
        replications: np.ndarray,
        seed: int,
        options: RunOptions | None = None,
    ) -> None:
        options = options or RunOptions()
        self.scenario = scenario
        self.economy = Economy.from_scenario(scenario)
        self.replications = np.asarray(replications, dtype=np.int64)
        R = self.replications.size
        self.env = simpy.Environment()
        self.options = options
        system = getattr(scenario, "system", None)
        self.ledger = Ledger(
            self.economy.calendar,
            self.economy.n_accounts,
            R,
            options.keep_journal,
            categories=CATEGORIES if system is None else vocabulary(system.mechanisms.values()),
        )
        shape = (R, self.economy.calendar.n_months, self.economy.n_accounts)
        self.monthly = np.zeros(shape) if options.keep_monthly else None
        self.monthly_cash = np.zeros(shape) if options.keep_monthly else None
        self.events = EventLog(R, keep_detail=options.keep_tables)
        self.records = TableLog(R, enabled=options.keep_tables)
        self.ctx = Context(
            scenario,
            self.economy,
            self.ledger,
            Streams(seed, self.replications, options.antithetic),
            self.events,
            self.env,
            self.records,
            system=scenario.system,
        )
        active = [
            cls
            for section, cls in scenario.system.mechanisms.items()
            if getattr(scenario.model, section, None) is not None
        ]
        # the acting order is derived from what each provides and requires (finsim.state)
        ordered = self.ctx.declare(active)
        for section, value in options.prepared.items():
            self.ctx.state[f"prepared.{section}"] = value
        self.mechanisms: list[Mechanism] = [
            cls(getattr(scenario.model, cls.section), self.ctx) for cls in ordered
        ]
        self.handlers: dict[str, list[Callable[[Context], None]]] = {p: [] for p in PHASES}
        for mechanism in self.mechanisms:
            for phase, handler in mechanism.phases().items():
                if phase not in self.handlers:
                    raise ValueError(
                        f"{type(mechanism).__name__} asks for unknown phase {phase!r}; "
                        f"phases are {PHASES}"
                    )
                self.handlers[phase].append(handler)

    def run(self) -> ChunkOutput:
        """Run every month of every year; return the chunk's output."""
        # the mechanisms' processes start first, so each is already waiting on its first
        # phase when the calendar opens month 0: an action dated M1 of the first year is
        # reached (started after the calendar, they would first wait once month 0 had passed)
        for mechanism in self.mechanisms:
            for process in mechanism.processes(self.ctx):
                self.env.process(process)
        self.env.process(self._calendar())
        self.env.run()
        stranded = sorted(self.ctx._phase_events)
        if stranded:
            tick, phase = stranded[0]
            raise RuntimeError(
                f"a mechanism process is still waiting for phase {phase!r} of month {tick}, "
                "which never came (a month outside the run, or a phase of this month already passed)"
            )
        output = self._output()
        self._release()
        return output

    def _release(self) -> None:
        """Let go of the chunk's state at once. Mechanisms publish callables into the shared
        state (which they also hold) and handlers are their bound methods: reference cycles
        that would keep every array of the chunk (hundreds of MB for England) alive until
        Python's next full collection, so a long run's memory would grow chunk by chunk."""
        self.ctx.state.clear()
        self.handlers.clear()
        self.mechanisms.clear()

    def _calendar(self) -> Generator[simpy.Event, Any, None]:
        calendar = self.economy.calendar
        for tick in range(calendar.n_months):
            self.ledger.now = self.events.now = self.records.now = tick
            month = tick % 12 + 1
            for phase in PHASES:
                if (phase == "year_start" and month != 1) or (
                    phase in ("year_end", "outturn") and month != 12
                ):
                    continue
                for handler in self.handlers[phase]:
                    handler(self.ctx)
                waiting = self.ctx._phase_events.pop((tick, phase), None)
                if waiting is not None:
                    waiting.succeed()
                    yield waiting  # processes waiting on this phase run first
                if phase == "close":
                    if self.monthly is not None and self.monthly_cash is not None:
                        self.monthly[:, tick] = self.ledger.year_to_date()
                        self.monthly_cash[:, tick] = self.ledger.cash
                    if month == 12:
                        self.ledger.check_conservation(f"{calendar.labels[tick // 12]} year end")
                        self.ledger.open_year()
                    elif tick == calendar.n_months - 1:
                        self.ledger.check_conservation(f"{calendar.labels[tick // 12]} run end")
            yield self.env.timeout(1)

    def _output(self) -> ChunkOutput:
        import pandas as pd

        from finsim.positions import account_totals

        calendar = self.economy.calendar
        keys, amounts = self.ledger.flow_table()
        mechanisms = list(self.scenario.system.mechanisms.values())
        totals = account_totals(
            keys,
            amounts,
            calendar.n_years,
            self.economy.n_accounts,
            self.ledger.categories,
            incentive=with_role(mechanisms, "incentive"),
            subsidy=with_role(mechanisms, "subsidy"),
        )
        if not self.options.keep_flows:
            keys, amounts = keys.iloc[0:0], np.zeros((amounts.shape[0], 0))
        journal = None
        if self.ledger.keep_journal:
            journal = journal_frame(self.ledger, self.economy, self.replications)
        extras: dict[str, np.ndarray] = {}
        for name, value in self.ctx.state.items():
            if name.startswith("output."):
                extras[name.removeprefix("output.")] = value
        return ChunkOutput(
            replications=self.replications,
            flow_keys=keys,
            # the ledger's flows gathered in key order, a fresh array: (R, K), Fortran-ordered
            # (transposing 20 MB costs more than all the uses of it that follow)
            flow_amounts=amounts,
            events=self.events.to_frame(self.replications, self.economy.ids, calendar.start_year)
            if self.events.batches
            else pd.DataFrame(),
            journal=journal,
            extras=extras,
            tables=self.records.to_frames(self.replications, self.economy.ids, calendar.start_year),
            monthly=self.monthly,
            monthly_cash=self.monthly_cash,
            totals=totals,
            flows_kept=self.options.keep_flows,
        )
