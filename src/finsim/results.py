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

import json
import os
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
    ) -> None:
        self._need = list(need)  # (commissioner, weighted population, population)
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
        self._journals = [c.journal for c in chunks if c.journal is not None]
        self._tables: dict[str, list[pd.DataFrame]] = {}
        for value in (prepared or {}).values():  # run-wide tables, e.g. acceptance decisions
            if isinstance(value, dict):
                for name, frame in value.get("tables", {}).items():
                    self._tables[name] = [frame]
        for chunk in chunks:
            for name, frame in chunk.tables.items():
                self._tables.setdefault(name, []).append(frame)
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
    def years(self) -> list[str]:
        return self.economy.calendar.labels

    # -- arrays ------------------------------------------------------------------------------
    def _key(self, column: str) -> np.ndarray:
        return self._keys[column].to_numpy() if len(self._keys) else np.empty(0, np.int64)

    @cached_property
    def _position_arrays(self) -> dict[str, np.ndarray]:
        arrays = dict(self._base)  # finsim.positions.account_totals, per replication
        income, expenditure = arrays["income"], arrays["expenditure"]
        surplus = income - expenditure
        arrays["surplus"] = surplus
        arrays["underlying_surplus"] = (
            surplus - arrays["nonrecurrent_income"] + arrays["nonrecurrent_expenditure"]
        )
        arrays["surplus_before_incentives"] = surplus - arrays["incentive_earned"]
        raised = self._extras.get("control_total_raised")
        arrays["extra_surplus_asked"] = np.zeros_like(surplus) if raised is None else raised
        # what bodies give up in extra surplus, their region receives towards its total
        region_receives = np.zeros_like(surplus)
        if raised is not None:
            to_region = np.asarray(
                raised.reshape(-1, surplus.shape[2]) @ self.economy.membership("region")
            )
            is_region = self.economy.org_type == ORG_TYPES.index("region")
            region_receives = np.where(is_region, to_region.reshape(surplus.shape), 0.0)
        arrays["extra_surplus_received"] = region_receives
        shape = surplus.shape
        for name in (
            "control_total",
            "system_control_total",
            "region_control_total",
            "accepted_control_total",
        ):
            value = self._extras.get(name)
            arrays[name] = (
                np.full(shape, np.nan) if value is None else np.broadcast_to(value, shape)
            )
        if raised is not None:  # extra surplus asked in the year raises the body's total
            arrays["control_total"] = arrays["control_total"] + raised
            # ... and its system's; the regional total it serves stays where it was
            system_raised = np.asarray(
                raised.reshape(-1, shape[2]) @ self.economy.membership("system")
            ).reshape(shape)
            arrays["system_control_total"] = arrays["system_control_total"] + system_raised
        # each body's system and region: their summed position before incentives
        for level in ("system", "region"):
            summed = np.asarray(
                arrays["surplus_before_incentives"].reshape(-1, shape[2])
                @ self.economy.membership(level)
            ).reshape(shape)
            parent = self.economy.system if level == "system" else self.economy.region
            own = self.economy.org_type == ORG_TYPES.index(level)
            column = np.where(own, np.arange(shape[2]), parent)
            valid = column >= 0
            arrays[f"{level}_surplus_before_incentives"] = np.where(
                valid, summed[:, :, np.maximum(column, 0)], np.nan
            )
            totals = arrays[f"{level}_control_total"]
            arrays[f"{level}_control_total"] = np.where(
                valid, totals[:, :, np.maximum(column, 0)], np.nan
            )
        return arrays

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
                "above 1,000 replications): run with keep_flows=True for the flows table"
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
        arrays = self._position_arrays
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
            mean = arrays[f"net_{category}"][:, :, bodies].mean(axis=0)
            out[category] = mean.reshape(-1)
            total += mean
        asked = arrays["extra_surplus_asked"][:, :, bodies].mean(axis=0)
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

    def summary(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Per organisation, system, region and England, and year: surplus statistics.

        Columns: ``level``, ``name``, ``fy``, ``surplus_mean``, a ``surplus_pNN`` per quantile,
        ``underlying_mean``, ``income_mean``, ``expenditure_mean``, ``incentive_mean``,
        ``p_deficit`` (probability of a deficit), ``control_total`` and
        ``p_met_control_total`` (the surplus before incentives meets it; NaN where none is set).
        A system's or region's figures are the sums over its members and its own account.
        """
        arrays = self._position_arrays
        economy = self.economy
        not_external = economy.org_type != ORG_TYPES.index("external")
        types = np.array(ORG_TYPES, dtype=object)[economy.org_type]
        frames = []
        levels: list[tuple[str, np.ndarray, Any]] = [("org", np.flatnonzero(not_external), None)]
        for level in ("system", "region"):
            members = economy.membership(level)
            groups = np.flatnonzero(economy.org_type == ORG_TYPES.index(level))
            levels.append((level, groups, members))
        arrays = {
            **arrays,
            "net_subsidy": sum(arrays[f"net_{c}"] for c in SUBSIDY_CATEGORIES)
            - arrays["extra_surplus_asked"]
            + arrays["extra_surplus_received"],
        }
        summable = (
            "income",
            "expenditure",
            "surplus",
            "underlying_surplus",
            "incentive_earned",
            "net_subsidy",
        )
        for level, columns, matrix in levels:
            agg = {}
            for name in summable:
                values = arrays[name]
                if matrix is None:
                    agg[name] = values[:, :, columns]
                else:
                    summed = np.asarray(values.reshape(-1, values.shape[2]) @ matrix)
                    agg[name] = summed.reshape(*values.shape[:2], -1)[:, :, columns]
            prefix = "" if matrix is None else f"{level}_"
            agg["control_total"] = arrays[f"{prefix}control_total"][:, :, columns]
            agg["before_incentives"] = arrays[f"{prefix}surplus_before_incentives"][:, :, columns]
            frames.append(self._stats(level, economy.ids, columns, types, agg, quantiles))
        england = {
            name: arrays[name][:, :, not_external].sum(axis=2, keepdims=True) for name in summable
        }
        england["control_total"] = np.full(england["surplus"].shape, np.nan)
        england["before_incentives"] = england["surplus"] - england["incentive_earned"]
        frames.append(
            self._stats(
                "england",
                ("England",),
                np.array([0]),
                np.array(["england"], dtype=object),
                england,
                quantiles,
            )
        )
        return pd.concat(frames, ignore_index=True)

    def _stats(
        self,
        level: str,
        ids: Sequence[str],
        columns: np.ndarray,
        types: np.ndarray,
        agg: dict[str, np.ndarray],
        quantiles: Sequence[float],
    ) -> pd.DataFrame:
        surplus = agg["surplus"]  # (R, F, n)
        F, n = surplus.shape[1], surplus.shape[2]
        out = pd.DataFrame(
            {
                "level": level,
                "name": np.tile(np.array(ids, dtype=object)[columns], F),
                "org_type": np.tile(types[columns], F),
                "fy": np.repeat(np.array(self.years, dtype=object), n),
                "surplus_mean": surplus.mean(axis=0).reshape(-1),
            }
        )
        for q in quantiles:
            out[f"surplus_p{round(q * 100):02d}"] = np.quantile(surplus, q, axis=0).reshape(-1)
        out["underlying_mean"] = agg["underlying_surplus"].mean(axis=0).reshape(-1)
        out["income_mean"] = agg["income"].mean(axis=0).reshape(-1)
        out["expenditure_mean"] = agg["expenditure"].mean(axis=0).reshape(-1)
        out["p_deficit"] = (surplus < -1e-9).mean(axis=0).reshape(-1)
        out["incentive_mean"] = agg["incentive_earned"].mean(axis=0).reshape(-1)
        out["net_subsidy_received_mean"] = agg["net_subsidy"].mean(axis=0).reshape(-1)
        ct = agg["control_total"]
        has = ~np.isnan(ct)
        met = (agg["before_incentives"] >= np.where(has, ct, 0.0) - 1e-9) & has
        count = has.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_met = np.where(count > 0, met.sum(axis=0) / np.maximum(count, 1), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):  # a total raised in the year varies
            out["control_total"] = np.where(
                count > 0, np.where(has, ct, 0.0).sum(axis=0) / np.maximum(count, 1), np.nan
            ).reshape(-1)
        out["p_met_control_total"] = p_met.reshape(-1)
        return out

    # -- export ------------------------------------------------------------------------------
    def tables(self) -> dict[str, pd.DataFrame]:
        """Every table by name (journal only when kept)."""
        out = {"positions": self.positions}
        if self._flows_kept:
            out["flows"] = self.flows
        out["events"] = self.events
        out["summary"] = self.summary()
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

    def __repr__(self) -> str:
        return (
            f"<finsim.Results {self.scenario_name!r} variant={self.variant!r} "
            f"replications={self.replications} years={self.years[0]}..{self.years[-1]}>"
        )


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


def atomic_write(path: Path, write: Any) -> None:
    """Write ``path`` by writing a temporary file beside it, then renaming it into place.

    A reader never sees a half-written file; an interrupted write leaves none behind.
    """
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
