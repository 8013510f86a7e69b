"""Results: tidy pandas tables built from the ledger's aggregated flows.

* ``positions``: one row per (variant, replication, fy, org) with income,
  expenditure, surplus and underlying surplus (revenue only), control total and
  incentive columns;
* ``flows``: money moved, one row per (variant, replication, fy, source,
  target, category, recurrence, kind);
* ``events``: what happened and when;
* ``journal``: every posting, when kept (small runs);
* ``summary()``: quantiles and probabilities per organisation, system, region
  and for England.

An organisation's ``surplus`` for a year is exactly its revenue inflows minus
outflows booked to that year; ``underlying_surplus`` removes non-recurrent
income and adds back non-recurrent costs.

The arrays a run's tables come from are merged in :mod:`finsim.result_arrays`, the tables
built in :mod:`finsim.result_tables`, and files written by :mod:`finsim.results_io`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsim.economy import Economy
from finsim.engine import ChunkOutput
from finsim.errors import ResultsError
from finsim.ledger import CATEGORIES, vocabulary
from finsim.positions import PositionColumn
from finsim.positions import columns as position_columns
from finsim.result_arrays import RunArrays, merge_chunks, position_arrays
from finsim.result_tables import (
    flows_frame,
    monthly_frame,
    need_per_head,
    positions_frame,
    subsidies_frame,
)
from finsim.results_io import _kind, _umask, _write_frame, atomic_write, check_output_path
from finsim.summaries import POSITIONS_MAX_REPLICATIONS, EventCounter, SummaryAccumulator

__all__ = [
    "Results",
    "_kind",
    "_umask",
    "_write_frame",
    "atomic_write",
    "check_output_path",
    "count_events",
    "merge_chunks",
    "position_arrays",
]


class Results:
    """The outcome of :func:`finsim.run`: tables as pandas DataFrames."""

    def __init__(
        self,
        economy: Economy,
        chunks: Sequence[ChunkOutput],
        *,
        scenario_name: str,
        variant: str,
        seed: int,
        source: str = "",
        prepared: dict[str, Any] | None = None,
        need: Sequence[tuple[str, float, float]] = (),
        summarised: SummaryAccumulator | None = None,
        tables_kept: bool | None = None,
        system: Any = None,
    ) -> None:
        #: The :class:`finsim.system.System` the scenario ran with (None if not known): the
        #: bridge from plan to outturn asks its mechanisms for their drivers.
        self.system = system
        #: The flow category names by integer code (:func:`finsim.ledger.vocabulary`).
        self.categories: tuple[str, ...] = (
            CATEGORIES if system is None else vocabulary(system.mechanisms.values())
        )
        self._need = list(need)  # (commissioner, weighted population, population)
        # a run too large to keep every replication's positions arrives summarised
        self._summarised = summarised
        self.economy = economy
        self.scenario_name = scenario_name
        self.variant = variant
        self.seed = seed
        self.source = source
        # the chunks' arrays, joined in replication order when first asked for
        self._arrays = RunArrays(chunks, economy.n_accounts)
        self.replication_ids = self._arrays.replication_ids
        self._flows_kept = all(c.flows_kept for c in chunks)
        self._events = [c.events for c in chunks]
        self._events_kept = summarised is None
        self._journals = [c.journal for c in chunks if c.journal is not None]
        self._tables: dict[str, list[pd.DataFrame]] = {}
        for value in (prepared or {}).values():  # run-wide tables, e.g. acceptance decisions
            if isinstance(value, dict):
                for name, frame in value.get("tables", {}).items():
                    self._tables[name] = [frame]
        for chunk in chunks:
            for name, frame in chunk.tables.items():
                self._tables.setdefault(name, []).append(frame)
        #: Whether the run kept the mechanisms' per-replication tables (``keep_tables``,
        #: kept by default up to 200 replications). Unless the run says, it is read from the
        #: chunks: every mechanism that keeps a table (contracts, savings, CQUIN, allocations...)
        #: writes rows in every chunk when tables are kept, so a run whose chunks hold none kept
        #: none (or has no such mechanism, and then nothing needs them).
        self.tables_kept = (
            any(len(chunk.tables) for chunk in chunks) if tables_kept is None else tables_kept
        )
        self._monthly, self._monthly_cash = self._arrays.monthly, self._arrays.monthly_cash

    @property
    def _keys(self) -> pd.DataFrame:  # the flows' keys, merged when first asked for
        return self._arrays.flows()[1]

    @property
    def _amounts(self) -> np.ndarray:  # the flows (R, K), merged when first asked for
        return self._arrays.flows()[2]

    @property
    def _base(self) -> dict[str, np.ndarray]:  # each body's totals (R, F, A)
        return self._arrays.joined()[0]

    @property
    def _extras(self) -> dict[str, np.ndarray]:  # the mechanisms' (F, A) and (R, F, A) outputs
        return self._arrays.joined()[1]

    @property
    def replications(self) -> int:
        return int(self.replication_ids.size)

    @property
    def positions_kept(self) -> bool:
        """Whether every replication's positions were kept (False: only the summary)."""
        return self._summarised is None

    def _not_kept(self, what: str) -> str:
        return (
            f"this run of {self.replications:,} replications kept {what} only as a streaming "
            "summary (keep_positions=False, the default above "
            f"{POSITIONS_MAX_REPLICATIONS:,} replications): summary(), subsidies() and "
            "event_counts() are available; run with keep_positions=True to keep them"
        )

    @cached_property
    def _accumulator(self) -> SummaryAccumulator:
        if self._summarised is not None:
            return self._summarised
        accumulator = SummaryAccumulator(self.economy, self.years, self.replications)
        if "_position_arrays" in self.__dict__ or not self.replications:
            accumulator.add(self._position_arrays)
        else:  # a batch of chunks at a time (see RunArrays.fold)
            self._arrays.fold(accumulator, self.economy, self._mechanisms)
        return accumulator

    @property
    def years(self) -> list[str]:
        return self.economy.calendar.labels

    # -- arrays ------------------------------------------------------------------------------
    def _key(self, column: str) -> np.ndarray:
        return self._keys[column].to_numpy() if len(self._keys) else np.empty(0, np.int64)

    @cached_property
    def _position_arrays(self) -> dict[str, np.ndarray]:
        if self._summarised is not None:
            raise ResultsError(self._not_kept("positions"))
        return position_arrays(self._base, self._extras, self.economy, self._mechanisms)

    @property
    def _mechanisms(self) -> list[Any]:
        if self.system is None:  # a Results built by hand: the built-in mechanisms
            from finsim.system import System

            return list(System.default().mechanisms.values())
        return list(self.system.mechanisms.values())

    @cached_property
    def position_columns(self) -> list[PositionColumn]:
        """The columns of :attr:`positions` after its labels, in order: the core ones and
        those the System's mechanisms declare (:class:`finsim.positions.PositionColumn`)."""
        return position_columns(self._mechanisms)

    # -- tables ------------------------------------------------------------------------------
    @cached_property
    def positions(self) -> pd.DataFrame:
        """One row per (variant, replication, fy, org); money in GBP m."""
        return positions_frame(self)

    @cached_property
    def flows(self) -> pd.DataFrame:
        """Money moved, per replication and year; amounts in GBP m (zero flows omitted).

        Large runs keep only each body's totals; run with ``keep_flows=True`` for this table.
        """
        return flows_frame(self)

    @cached_property
    def events(self) -> pd.DataFrame:
        """What happened and when: decisions, disputes, interventions."""
        if not self._events_kept:
            raise ResultsError(self._not_kept("events"))
        columns = ["variant", "replication", "fy", "month", "org", "event", "detail", "amount"]
        frames = [e for e in self._events if len(e)]
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        frame = pd.concat(frames, ignore_index=True)
        frame.insert(0, "variant", self.variant)
        return frame.sort_values("replication", kind="stable").reset_index(drop=True)[columns]

    @cached_property
    def journal(self) -> pd.DataFrame | None:
        """Every posting, one row per replication (None unless the journal was kept)."""
        if not self._journals:
            return None
        frame = pd.concat(self._journals, ignore_index=True)
        frame.insert(0, "variant", self.variant)
        return frame.sort_values("replication", kind="stable").reset_index(drop=True)

    @cached_property
    def monthly(self) -> pd.DataFrame | None:
        """Each body's year-to-date surplus at every month end, GBP m (revenue, by when money
        moved): one row per (variant, replication, fy, month, org). None unless kept."""
        return monthly_frame(self)

    def subsidies(self) -> pd.DataFrame:
        """Who subsidises whom: per body and year, the mean net money received (+) or given (-)
        through top slices, risk shares, re-allocations and extra surpluses asked of it, with
        its deprivation quintile and need per head (weighted / registered population).

        An extra surplus asked of a body stays in its accounts but is given up to the
        regional total, so it counts as given.
        """
        return subsidies_frame(self)

    def _need_per_head(self) -> np.ndarray:
        return need_per_head(self)

    @property
    def table_names(self) -> list[str]:
        """Names of the mechanism tables this run produced (e.g. "allocations")."""
        return sorted(self._tables)

    def table(self, name: str) -> pd.DataFrame:
        """A mechanism's table, e.g. ``res.table("allocations")``: one row per replication,
        year and organisation (and stream, stage... as the mechanism records)."""
        if name not in self._tables:
            raise KeyError(
                f"no table {name!r}; this run has: {', '.join(self.table_names) or '(none)'}"
            )
        frame = pd.concat(self._tables[name], ignore_index=True)
        frame.insert(0, "variant", self.variant)
        if "replication" not in frame:  # a run-wide table, e.g. acceptance decisions
            return frame
        return frame.sort_values("replication", kind="stable").reset_index(drop=True)

    def summary(
        self, quantiles: Sequence[float] = (0.05, 0.5, 0.95), *, before_incentives: bool = False
    ) -> pd.DataFrame:
        """Per organisation, system, region and England, and year: surplus statistics.

        Columns: ``level``, ``name``, ``org_type``, ``fy``, ``surplus_mean``, a
        ``surplus_pNN`` per quantile, ``underlying_mean``, ``income_mean``,
        ``expenditure_mean``, ``p_deficit`` (probability of a deficit), ``incentive_mean``,
        ``net_subsidy_received_mean``, ``control_total`` and ``p_met_control_total`` (the
        surplus before incentives meets it; NaN where none is set). ``before_incentives=True``
        adds ``before_incentives_mean`` and a ``before_incentives_pNN`` per quantile: the
        surplus before incentive funding, the measure control totals are met on.

        One row per (``level``, ``name``, ``fy``), and each name in one level only, so a
        pivot by name cannot add or average two rows of one body. ``level`` is ``"org"``
        for each account, ``"system"`` and ``"region"`` for the sum over a system's or
        region's members and its own account, ``"england"`` for every account. A system's
        or region's own account (which holds, say, a top slice the region keeps, or the
        extra surplus given up to it) is an ``"org"`` row named ``"<id> (own account)"``:
        kept, not dropped, so that the ``"org"`` rows still add up to England, and named
        apart from the system or region total it is part of.

        Means are exact sums over replications (the same whatever the chunk size);
        quantiles are exact up to 20,000 replications and within 0.1% beyond (see
        :mod:`finsim.summaries`).
        """
        for q in quantiles:
            if not 0.0 <= q <= 1.0:
                raise ValueError(f"quantiles must be between 0 and 1, got {q!r}")
        return self._accumulator.frame(quantiles, before_incentives)

    def event_counts(self) -> pd.DataFrame:
        """How often each event happened, per year, body and kind of event: ``count`` (events)
        and ``replications`` (replications with at least one). Kept by every run."""
        if self._summarised is not None:
            return self._summarised.event_counts()
        return count_events(self.events)

    # -- export ------------------------------------------------------------------------------
    @property
    def kept_tables(self) -> list[str]:
        """The names of the tables :meth:`tables` gives, without building them."""
        names = ["positions"] if self.positions_kept else []
        names += ["flows"] if self._flows_kept else []
        names += ["events"] if self._events_kept else []
        names += ["event_counts", "summary", "subsidies", *self.table_names]
        names += ["monthly"] if self._monthly is not None else []
        names += ["journal"] if self._journals else []
        return names

    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (positions, flows, events, journal, monthly only when kept)."""
        out = {"positions": self.positions} if self.positions_kept else {}
        if self._flows_kept:
            out["flows"] = self.flows
        if self._events_kept:
            out["events"] = self.events
        out["event_counts"] = self.event_counts()
        out["summary"] = self.summary()
        out["subsidies"] = self.subsidies()
        for name in self.table_names:
            out[name] = self.table(name)
        if self.monthly is not None:
            out["monthly"] = self.monthly
        if self.journal is not None:
            out["journal"] = self.journal
        return out

    def metadata(self) -> dict[str, Any]:
        from finsim._version import __version__

        return {
            "scenario": self.scenario_name,
            "source": self.source,
            "variant": self.variant,
            "seed": self.seed,
            "replications": self.replications,
            "years": self.years,
            "units": "GBP million",
            "positions_kept": self.positions_kept,
            "summary": self._accumulator.describe(),
            "finsim_version": __version__,
        }

    def to_csv(self, directory: str | Path) -> list[Path]:
        """Write each table as ``<name>.csv`` (and ``metadata.json``), atomically."""
        return self._write(Path(directory), "csv")

    def to_parquet(self, directory: str | Path) -> list[Path]:
        """Write each table as ``<name>.parquet`` (and ``metadata.json``), atomically."""
        return self._write(Path(directory), "parquet")

    def _write(self, directory: Path, fmt: str) -> list[Path]:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for name, frame in self.tables().items():
            path = directory / f"{name}.{fmt}"
            atomic_write(path, lambda tmp, f=frame: _write_frame(f, tmp, fmt))
            written.append(path)
        meta = directory / "metadata.json"
        atomic_write(meta, lambda tmp: tmp.write_text(json.dumps(self.metadata(), indent=2)))
        written.append(meta)
        return written

    def to_excel(self, path: str | Path, *, tables: Sequence[str] | None = None) -> Path:
        """Write the tables to one Excel workbook (needs the 'excel' extra), with a README
        sheet, GBP m number formats and frozen headers; see :func:`finsim.export.to_excel`."""
        from finsim.export import to_excel

        return to_excel(self, path, tables=tables)

    def _repr_html_(self) -> str:
        from finsim.export import results_html

        return results_html(self)

    def __repr__(self) -> str:
        return (
            f"<finsim.Results {self.scenario_name!r} variant={self.variant!r} "
            f"replications={self.replications} years={self.years[0]}..{self.years[-1]}>"
        )


def count_events(events: pd.DataFrame) -> pd.DataFrame:
    """Events counted per (fy, org, event): ``count`` and ``replications`` with one or more."""
    counter = EventCounter()
    counter.add(events)
    return counter.frame()
