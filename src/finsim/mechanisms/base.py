"""The plug-in interface every mechanism implements, and the context it acts through.

A mechanism models one real-world process (allocations, contracts, disputes...).
It is one module holding its config model, its docstring (what it models and
the source), its phases and its postings. To add one:

.. code-block:: python

    import finsim
    from finsim.mechanisms.base import Mechanism, Context
    from finsim.scenario.models import StrictModel
    from finsim.scenario.units import Share
    from finsim.state import Slot

    class LevyConfig(StrictModel):
        rate: Share               # a share from 0 to 1, or "2%" (finsim.scenario.units)

    class Levy(Mechanism):
        '''A levy on every provider's income, paid to the centre each month.'''
        section = "levy"          # the key of the scenario file this mechanism owns
        Config = LevyConfig
        # what it reads from other mechanisms, and what it publishes (see finsim.state)
        requires = ("contracts.activity_value", "contracts.provider")
        provides = (Slot("levy.paid", "(R, A)", "levy paid this year to date, GBP m"),)

        def phases(self):
            return {"costs": self.charge}

        def charge(self, ctx: Context) -> None:
            ...                   # compute (R, n) amounts and ctx.ledger.post(...)

    system = finsim.System.default().with_mechanism(Levy)   # see finsim.system

The engine creates one instance per chunk of replications, after validating
the file: ``__init__`` receives the validated section and the context, and
builds whatever static arrays it needs and its ``(R, ...)`` state.

A mechanism also owns its domain in the results: ``categories`` lists the flow categories it
posts (:class:`finsim.ledger.Category`: name, meaning; a plug-in's own category is accepted by
the ledger once declared, an undeclared one is an error naming it), and ``drivers`` and
:meth:`Mechanism.waterfall` what it contributes to the bridge from plan to outturn
(:func:`finsim.charts.bridge`): a :class:`Driver` names a bar, where it is drawn, and the flow
categories whose net receipt it is; ``waterfall`` adds amounts measured from its tables.
Its ``columns`` (:class:`finsim.positions.PositionColumn`) are the columns it adds to
``Results.positions``, filled by :meth:`Mechanism.positions` from its published outputs; a
category's ``role`` says whether it is incentive money or a subsidy between bodies.

Mechanisms share arrays only through ``ctx.state``, under names each declares: ``provides``
(:class:`finsim.state.Slot`: name, shape, meaning) for what it writes, ``requires`` for what
it reads (a name, ``optional(name)`` or ``later(name)``). The engine derives from them the
order mechanisms are constructed in and act in within a phase (:func:`finsim.state.order`):
a provider first; ties keep the ``order`` attribute.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from finsim.errors import ResultsError
from finsim.ledger import Category
from finsim.positions import PositionColumn, PositionView
from finsim.state import Need, SharedState, Slot
from finsim.state import order as acting_order

if TYPE_CHECKING:
    import pandas as pd
    import simpy

    from finsim.economy import Economy
    from finsim.events import EventLog
    from finsim.ledger import Ledger
    from finsim.random import MechanismStreams, Streams
    from finsim.records import TableLog
    from finsim.scenario.loader import Scenario
    from finsim.types import ReferencesLike

#: Phases inside every month, in the order they run. ``year_start`` runs only in
#: M1, ``year_end`` and ``outturn`` only in M12; the others run every month. Processes
#: waiting on a phase (:meth:`Context.at`) run after its handlers, so a dispute settled in
#: the year (paid once ``year_end`` has fixed the sum withheld) is in the outturn.
PHASES = (
    "year_start",  # budgets for the year: allocations set, prices moved, plans agreed
    "allocation",  # monthly allocation drawdown
    "activity",  # patients treated: activity realised
    "billing",  # providers invoice commissioners for the month's activity
    "payment",  # commissioners pay providers
    "costs",  # providers and commissioners pay their own costs and receive other income
    "settlement",  # challenges, disputes, settlements
    "monitoring",  # forecasts of the year's outturn
    "intervention",  # top slices, extra savings, loans
    "year_end",  # reconciliations, risk shares, re-allocations
    "outturn",  # the year's outturn assessed: incentive funds' final quarter and year-end rules
    "close",  # month closes: checks
)


class Context:
    """What a mechanism sees while the engine runs: the clock, state, ledger and streams."""

    def __init__(
        self,
        scenario: Scenario,
        economy: Economy,
        ledger: Ledger,
        streams: Streams,
        events: EventLog,
        env: simpy.Environment,
        records: TableLog,
        system: Any = None,
    ) -> None:
        self.scenario = scenario
        self.economy = economy
        self.calendar = economy.calendar
        self.ledger = ledger
        self.streams = streams
        self.events = events
        self.records = records
        self.env = env
        self.R = streams.R
        #: The System (mechanisms and incentive schemes) the scenario runs with, if known.
        self.system = system
        #: Arrays mechanisms share, by declared name ("tariff.price", "activity.realised"...):
        #: see :mod:`finsim.state`. Open (any name) until :meth:`declare` is called.
        self.state: SharedState = SharedState()
        self._phase_events: dict[tuple[int, str], simpy.Event] = {}

    def declare(self, classes: Iterable[type[Mechanism]]) -> list[type[Mechanism]]:
        """Declare the chunk's active mechanism classes; return them in the order they act.

        ``ctx.state`` then takes only the slots they declare (and ``prepared.<section>``);
        the order is :func:`finsim.state.order` (providers first, ties by ``order``). Call
        it before the mechanisms are constructed.
        """
        ordered = acting_order(classes)
        if self.state:
            raise RuntimeError("declare the mechanisms before anything is written to ctx.state")
        self.state = SharedState.of(ordered)
        return ordered

    # -- the clock -------------------------------------------------------------------------
    @property
    def t(self) -> int:
        """Months since the start of the first simulated year (0 = April of year 0)."""
        return int(self.env.now)

    @property
    def fy(self) -> int:
        """Index of the current financial year (0 = the first simulated year)."""
        return self.t // 12

    @property
    def month(self) -> int:
        """Month of the financial year, 1 (April) to 12 (March)."""
        return self.t % 12 + 1

    @property
    def quarter(self) -> int:
        return (self.month - 1) // 3 + 1

    @property
    def fy_start_year(self) -> int:
        """Calendar year in which the current financial year starts (for per-year parameters)."""
        return self.calendar.start_year + self.fy

    def at(self, tick: int, phase: str) -> simpy.Event:
        """An event that fires in ``phase`` of month ``tick``, for mechanism processes to wait on.

        A SimPy process (see :meth:`Mechanism.processes`) ``yield``\\ s it and acts when
        the calendar reaches that phase, before the phase's next step.
        """
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; phases are {PHASES}")
        if tick < self.t:
            raise ValueError(f"month {tick} has passed (now {self.t})")
        key = (int(tick), phase)
        if key not in self._phase_events:
            self._phase_events[key] = self.env.event()
        return self._phase_events[key]


class Driver(NamedTuple):
    """A bar of the bridge from plan to outturn a mechanism contributes to.

    ``rank`` is where it is drawn, lower first (the built-ins: activity 10, tariff & coding 20,
    savings shortfall 30, disputes 40, incentive funding 50, interventions 60, other last at
    1000); ``categories`` are the flow categories whose net receipt (revenue, the year's,
    from the selection's side) is part of it. A category counts in one driver only: the first
    declaring it, by rank then mechanism order.
    """

    name: str
    rank: int = 500
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class BridgeView:
    """What :meth:`Mechanism.waterfall` sees: one year of a run from the side of a selection of
    bodies (a body, system, region or England), for one replication or the mean over them."""

    #: The account ids of the selection (money between two of them cancels).
    ids: frozenset[str]
    #: The financial year ("2024/25").
    fy: str
    #: The number of replications amounts are averaged over.
    R: int
    #: The year's revenue flows (a ``flows`` frame, filtered).
    flows: pd.DataFrame
    #: ``flows["amount"]`` signed from the selection's side: received positive, paid negative.
    signed: pd.Series
    #: Net receipt by flow category, mean per replication.
    net: pd.Series
    #: The names of the run's tables (``Results.table_names``).
    table_names: frozenset[str]
    #: The year's rows of a mechanism table by name (None if the run has none).
    read_table: Callable[[str], pd.DataFrame | None]

    def received(self, *categories: str) -> float:
        """Net receipt of the selection in these flow categories, mean per replication."""
        return float(sum(self.net.get(c, 0.0) for c in categories))

    def table(self, name: str, needed_for: str | None = None) -> pd.DataFrame | None:
        """The year's rows of the mechanism table ``name``; if the run has flows of category
        ``needed_for`` but no such table, a :class:`~finsim.errors.ResultsError`."""
        if (
            needed_for is not None
            and name not in self.table_names
            and (self.flows["category"] == needed_for).any()
        ):
            raise ResultsError(
                f"this run has {needed_for} flows in {self.fy} but no '{name}' table, which the "
                "bridge from plan to outturn needs: run with keep_tables=True "
                "(finsim run --keep-tables)"
            )
        return self.read_table(name)


class Mechanism:
    """Base class of all mechanisms; see the module docstring."""

    #: The scenario-file section this mechanism owns.
    section: ClassVar[str]
    #: The pydantic model (or type) of that section.
    Config: ClassVar[Any]
    #: Where the mechanism acts within a phase among mechanisms that do not depend on each
    #: other: lower first (built-ins 10-80). Declared needs come first: see finsim.state.
    order: ClassVar[float] = 100
    #: The ``ctx.state`` slots this mechanism writes.
    provides: ClassVar[tuple[Slot, ...]] = ()
    #: The ``ctx.state`` names it reads: a name, ``optional(name)`` or ``later(name)``.
    requires: ClassVar[tuple[str | Need, ...]] = ()
    #: The flow categories it posts, besides the ledger's core ones
    #: (:data:`finsim.ledger.CORE_CATEGORIES`): the ledger accepts these.
    categories: ClassVar[tuple[Category, ...]] = ()
    #: Its bars of the bridge from plan to outturn, with the flow categories each measures.
    drivers: ClassVar[tuple[Driver, ...]] = ()
    #: The columns it adds to ``Results.positions`` (filled by :meth:`positions`).
    columns: ClassVar[tuple[PositionColumn, ...]] = ()

    @classmethod
    def positions(cls, view: PositionView) -> None:
        """Add its position arrays to ``view.arrays``, ``(R, F, A)`` each: one per name in
        :attr:`columns` (NaN where it has nothing to say, as when it did not run), and any
        ``net_<name>`` subsidy component (see :mod:`finsim.positions`). Called for every
        mechanism of the System, ordered by ``order``, after the core columns."""

    @classmethod
    def waterfall(cls, view: BridgeView) -> Mapping[str, float]:
        """Amounts (GBP m, mean per replication) it adds to its drivers from its tables, by
        driver name; the flow categories of :attr:`drivers` are measured without it."""
        return {}

    def __init__(self, config: Any, ctx: Context) -> None:
        self.config = config
        self.rng: MechanismStreams = ctx.streams.for_mechanism(self.section)

    @classmethod
    def check(cls, config: Any, refs: ReferencesLike) -> None:
        """Cross-check the section against the rest of the scenario (ids, years...).

        Record problems with ``refs.add(path, message)`` or ``refs.org(path, id, kinds)``.
        """

    @classmethod
    def prepare(cls, config: Any, scenario: Scenario, seed: int) -> Any:
        """Work done once per run, before any chunk, whose result every chunk shares.

        The result (if not None) is ``ctx.state["prepared.<section>"]`` in every chunk, so
        that what it decides does not depend on how replications are chunked. A mechanism
        does not run the engine here: control totals' acceptance pilot is
        :mod:`finsim.decisions`, which the runner gives the means to simulate.
        """
        return None

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        """The functions to run in each phase, by phase name (see :data:`PHASES`)."""
        return {}

    def processes(self, ctx: Context) -> Iterable[Generator[Any, Any, Any]]:
        """SimPy processes to start at month 0 (e.g. a dispute's escalation)."""
        return ()


def per_replication(value: np.ndarray | float, R: int) -> np.ndarray:
    """Broadcast a value to shape ``(R,)``."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (R,))
