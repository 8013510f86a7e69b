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
"""

from __future__ import annotations

import errno
import json
import os
import stat
import tempfile
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsim.calendar import fy_label
from finsim.economy import ORG_TYPES, Economy
from finsim.engine import ChunkOutput
from finsim.errors import ResultsError
from finsim.ledger import CATEGORIES, KINDS, RECURRENCE
from finsim.positions import SUBSIDY_CATEGORIES
from finsim.summaries import POSITIONS_MAX_REPLICATIONS, EventCounter, SummaryAccumulator


def _encode(keys: pd.DataFrame, n_accounts: int) -> np.ndarray:
    code = keys["fy"].to_numpy(np.int64)
    for column, size in (
        ("source", n_accounts),
        ("target", n_accounts),
        ("category", len(CATEGORIES)),
        ("recurrence", len(RECURRENCE)),
        ("kind", len(KINDS)),
    ):
        code = code * size + keys[column].to_numpy(np.int64)
    return code


def merge_chunks(
    chunks: Sequence[ChunkOutput], n_accounts: int
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Stack chunks into (replications, flow keys, (R, K) amounts), ordered by replication.

    Chunks may have seen different flows (a dispute only in some replications):
    keys are united and missing flows are zero.
    """
    codes = [_encode(c.flow_keys, n_accounts) for c in chunks]
    all_codes = np.unique(np.concatenate(codes)) if codes else np.empty(0, np.int64)
    reps = np.concatenate([c.replications for c in chunks])
    amounts = np.zeros((reps.size, all_codes.size))
    row = 0
    for chunk, code in zip(chunks, codes, strict=True):
        n = chunk.replications.size
        amounts[row : row + n, np.searchsorted(all_codes, code)] = chunk.flow_amounts
        row += n
    order = np.argsort(reps, kind="stable")
    rows = chunks[0].flow_keys.iloc[0:0] if chunks else pd.DataFrame()
    keys = pd.concat([c.flow_keys for c in chunks], ignore_index=True) if chunks else rows
    if len(keys):
        keys = keys.assign(_code=np.concatenate(codes)).drop_duplicates("_code").set_index("_code")
        keys = keys.loc[all_codes].reset_index(drop=True)
    return reps[order], keys, amounts[order]


def position_arrays(
    base: dict[str, np.ndarray], extras: dict[str, np.ndarray], economy: Economy
) -> dict[str, np.ndarray]:
    """Each body's position arrays, ``(R, F, A)``, from its totals and the mechanisms' extras:
    surplus, underlying surplus, control totals at each level and the sums of each body's
    system and region before incentives."""
    arrays = dict(base)  # finsim.positions.account_totals, per replication
    income, expenditure = arrays["income"], arrays["expenditure"]
    surplus = income - expenditure
    arrays["surplus"] = surplus
    arrays["underlying_surplus"] = (
        surplus - arrays["nonrecurrent_income"] + arrays["nonrecurrent_expenditure"]
    )
    arrays["surplus_before_incentives"] = surplus - arrays["incentive_earned"]
    raised = extras.get("control_total_raised")
    arrays["extra_surplus_asked"] = np.zeros_like(surplus) if raised is None else raised
    # what bodies give up in extra surplus, their region receives towards its total
    region_receives = np.zeros_like(surplus)
    if raised is not None:
        to_region = np.asarray(raised.reshape(-1, surplus.shape[2]) @ economy.membership("region"))
        is_region = economy.org_type == ORG_TYPES.index("region")
        region_receives = np.where(is_region, to_region.reshape(surplus.shape), 0.0)
    arrays["extra_surplus_received"] = region_receives
    shape = surplus.shape
    for name in (
        "control_total",
        "system_control_total",
        "region_control_total",
        "accepted_control_total",
    ):
        value = extras.get(name)
        arrays[name] = np.full(shape, np.nan) if value is None else np.broadcast_to(value, shape)
    if raised is not None:  # extra surplus asked in the year raises the body's total
        arrays["control_total"] = arrays["control_total"] + raised
        # ... and its system's; the regional total it serves stays where it was
        system_raised = np.asarray(
            raised.reshape(-1, shape[2]) @ economy.membership("system")
        ).reshape(shape)
        arrays["system_control_total"] = arrays["system_control_total"] + system_raised
    # each body's system and region: their summed position before incentives
    for level in ("system", "region"):
        summed = np.asarray(
            arrays["surplus_before_incentives"].reshape(-1, shape[2]) @ economy.membership(level)
        ).reshape(shape)
        parent = economy.system if level == "system" else economy.region
        own = economy.org_type == ORG_TYPES.index(level)
        column = np.where(own, np.arange(shape[2]), parent)
        valid = column >= 0
        arrays[f"{level}_surplus_before_incentives"] = np.where(
            valid, summed[:, :, np.maximum(column, 0)], np.nan
        )
        totals = arrays[f"{level}_control_total"]
        arrays[f"{level}_control_total"] = np.where(
            valid, totals[:, :, np.maximum(column, 0)], np.nan
        )
    arrays["net_subsidy"] = (
        sum(arrays[f"net_{c}"] for c in SUBSIDY_CATEGORIES)
        - arrays["extra_surplus_asked"]
        + arrays["extra_surplus_received"]
    )
    return arrays


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
    ) -> None:
        self._need = list(need)  # (commissioner, weighted population, population)
        # a run too large to keep every replication's positions arrives summarised
        self._summarised = summarised
        self.economy = economy
        self.scenario_name = scenario_name
        self.variant = variant
        self.seed = seed
        self.source = source
        self.replication_ids, self._keys, self._amounts = merge_chunks(chunks, economy.n_accounts)
        order = np.argsort(np.concatenate([c.replications for c in chunks]), kind="stable")
        self._flows_kept = all(c.flows_kept for c in chunks)
        self._base = (
            {
                name: np.concatenate([c.totals[name] for c in chunks])[order]
                for name in chunks[0].totals
            }
            if chunks
            else {}
        )
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
        self._monthly = (
            np.concatenate([c.monthly for c in chunks])[order]
            if chunks and all(c.monthly is not None for c in chunks)
            else None
        )
        self._extras: dict[str, np.ndarray] = {}
        for name in chunks[0].extras if chunks else ():
            first = chunks[0].extras[name]
            if first.ndim == 2:  # static (F, A): the same in every replication
                self._extras[name] = first
            else:
                self._extras[name] = np.concatenate([c.extras[name] for c in chunks])[order]

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
        accumulator.add(self._position_arrays)
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
        return position_arrays(self._base, self._extras, self.economy)

    # -- tables ------------------------------------------------------------------------------
    @cached_property
    def positions(self) -> pd.DataFrame:
        """One row per (variant, replication, fy, org); money in GBP m."""
        arrays = self._position_arrays
        R, F, A = arrays["surplus"].shape
        orgs = np.flatnonzero(self.economy.org_type != ORG_TYPES.index("external"))
        table = self.economy.org_table().iloc[orgs]
        n = orgs.size
        frame = pd.DataFrame(
            {
                "variant": self.variant,
                "replication": np.repeat(self.replication_ids, F * n),
                "fy": np.tile(np.repeat(np.array(self.years, dtype=object), n), R),
                "org": np.tile(table["org"].to_numpy(), R * F),
                "org_type": np.tile(table["org_type"].to_numpy(), R * F),
                "system": np.tile(table["system"].to_numpy(), R * F),
                "region": np.tile(table["region"].to_numpy(), R * F),
            }
        )
        for name in (
            "income",
            "expenditure",
            "surplus",
            "underlying_surplus",
            "surplus_before_incentives",
            "control_total",
        ):
            frame[name] = arrays[name][:, :, orgs].reshape(-1)
        frame["met_control_total"] = _met(
            frame["surplus_before_incentives"], frame["control_total"]
        )
        accepted = pd.Series(arrays["accepted_control_total"][:, :, orgs].reshape(-1))
        frame["accepted_control_total"] = (accepted > 0.5).astype("boolean").mask(accepted.isna())
        for level in ("system", "region"):
            before = arrays[f"{level}_surplus_before_incentives"][:, :, orgs].reshape(-1)
            total = arrays[f"{level}_control_total"][:, :, orgs].reshape(-1)
            frame[f"{level}_control_total"] = total
            frame[f"met_{level}_control_total"] = _met(
                pd.Series(before), pd.Series(total)
            ).to_numpy()
        for name in (
            "incentive_earned",
            "nonrecurrent_income",
            "nonrecurrent_expenditure",
            "capital_income",
            "capital_expenditure",
        ):
            frame[name] = arrays[name][:, :, orgs].reshape(-1)
        return frame

    @cached_property
    def flows(self) -> pd.DataFrame:
        """Money moved, per replication and year; amounts in GBP m (zero flows omitted).

        Large runs keep only each body's totals; run with ``keep_flows=True`` for this table.
        """
        if not self._flows_kept:
            raise ResultsError(
                "this run kept each body's totals, not every flow (keep_flows=False, the default "
                "above 1,000 replications): run with keep_flows=True (finsim run --keep-flows) "
                "for the flows table"
            )
        K = len(self._keys)
        ids = np.array(self.economy.ids, dtype=object)
        r, k = np.nonzero(self._amounts) if K else (np.empty(0, int), np.empty(0, int))
        start = self.economy.calendar.start_year
        fy_labels = np.array(
            [fy_label(start + i) for i in range(self.economy.calendar.n_years)], dtype=object
        )
        return pd.DataFrame(
            {
                "variant": self.variant,
                "replication": self.replication_ids[r],
                "fy": fy_labels[self._key("fy")[k]],
                "source": ids[self._key("source")[k]],
                "target": ids[self._key("target")[k]],
                "category": np.array(CATEGORIES, dtype=object)[self._key("category")[k]],
                "recurrence": np.array(RECURRENCE, dtype=object)[self._key("recurrence")[k]],
                "kind": np.array(KINDS, dtype=object)[self._key("kind")[k]],
                "amount": self._amounts[r, k],
            }
        )

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
        if self._monthly is None:
            return None
        R, T, A = self._monthly.shape
        orgs = np.flatnonzero(self.economy.org_type != ORG_TYPES.index("external"))
        ids = np.array(self.economy.ids, dtype=object)[orgs]
        years = np.repeat(np.array(self.years, dtype=object), 12)
        months = np.tile(np.arange(1, 13), T // 12)
        n = orgs.size
        return pd.DataFrame(
            {
                "variant": self.variant,
                "replication": np.repeat(self.replication_ids, T * n),
                "fy": np.tile(np.repeat(years, n), R),
                "month": np.tile(np.repeat(months, n), R),
                "org": np.tile(ids, R * T),
                "surplus_ytd": self._monthly[:, :, orgs].reshape(-1),
            }
        )

    def subsidies(self) -> pd.DataFrame:
        """Who subsidises whom: per body and year, the mean net money received (+) or given (-)
        through top slices, risk shares, re-allocations and extra surpluses asked of it, with
        its deprivation quintile and need per head (weighted / registered population).

        An extra surplus asked of a body stays in its accounts but is given up to the
        regional total, so it counts as given.
        """
        mean = self._accumulator.body_mean
        economy = self.economy
        bodies = np.flatnonzero(
            np.isin(
                economy.org_type, [ORG_TYPES.index("commissioner"), ORG_TYPES.index("provider")]
            )
        )
        table = economy.org_table().iloc[bodies]
        F, n = len(self.years), bodies.size
        out = pd.DataFrame(
            {
                "fy": np.repeat(np.array(self.years, dtype=object), n),
                "org": np.tile(table["org"].to_numpy(), F),
                "org_type": np.tile(table["org_type"].to_numpy(), F),
                "system": np.tile(table["system"].to_numpy(), F),
                "region": np.tile(table["region"].to_numpy(), F),
                "deprivation_quintile": np.tile(table["deprivation_quintile"].to_numpy(), F),
                "need_per_head": np.tile(self._need_per_head()[bodies], F),
            }
        )
        total = np.zeros((F, n))
        for category in SUBSIDY_CATEGORIES:
            received = mean(f"net_{category}")[:, bodies]
            out[category] = received.reshape(-1)
            total += received
        asked = mean("extra_surplus_asked")[:, bodies]
        out["extra_surplus"] = -asked.reshape(-1)
        out["net_received"] = (total - asked).reshape(-1)
        return out

    def _need_per_head(self) -> np.ndarray:
        values = np.full(self.economy.n_accounts, np.nan)
        for org, weighted, population in self._need:
            if population > 0:
                values[self.economy.index(org)] = weighted / population
        return values

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
        from finsim import __version__

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


def _met(surplus: pd.Series, total: pd.Series) -> pd.Series:
    """Whether a surplus meets a control total; NA where there is no total."""
    met = surplus.to_numpy() >= total.to_numpy() - 1e-9
    return pd.Series(met, index=surplus.index).astype("boolean").mask(total.isna().to_numpy())


def _write_frame(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    for test, words in (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return words
    return "not a regular file"


def check_output_path(path: str | Path) -> Path:
    """``path`` if a file may be written there: a new path, or an existing regular file
    (or a link to one), which the write replaces whole.

    Anything else (a folder, a device such as ``/dev/null``, a named pipe, a socket) is
    refused with a :class:`FileExistsError` naming the path and what it is, before anything
    is written: finsim replaces files, never what is not one.
    """
    target = Path(path)
    try:
        mode = os.stat(target).st_mode  # follows a link: a link to a device is a device
    except FileNotFoundError:
        return target  # a new path (or a link to nothing yet)
    if not stat.S_ISREG(mode):
        raise FileExistsError(
            errno.EEXIST,
            f"exists and is {_kind(mode)}; finsim writes only to a new path or over a regular file",
            str(target),
        )
    return target


def atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` by writing a temporary file beside it, then renaming it into place.

    A reader never sees a half-written file; an interrupted write leaves none behind. Only a
    new path or a regular file is written (see :func:`check_output_path`): a device, a
    folder or a named pipe at ``path`` is refused, never replaced.
    """
    check_output_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are for sharing
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
