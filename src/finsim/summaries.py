"""Statistics over replications, folded in one chunk at a time.

A run's summary (means, quantiles, probability of a deficit, of meeting a control
total) is built by a :class:`SummaryAccumulator` that sees each chunk of
replications once and keeps a fixed amount of memory, however many replications
there are. The same accumulator serves a run that keeps every replication's
positions (fed all of them at once) and a run too large to keep them (fed each
chunk as it finishes), so the two report the same figures.

Two properties hold whatever the chunk size, the order in which chunks finish and
the backend:

* **Sums are exact.** Each value is held as a whole number of 2^-30 GBP m (about
  a thousandth of a penny) in two 64-bit integers, and integer addition does not
  depend on order. Means are these sums divided by the count.
* **Quantiles are exact** while there are at most :data:`EXACT_QUANTILES`
  replications: the surplus of every cell is kept (a few hundred bytes per
  replication). Beyond that they come from a log-binned histogram (the DDSketch
  idea: bins ``gamma^k`` apart) whose counts add like the sums, and are within
  :data:`RELATIVE_ACCURACY` of the exact quantile (values smaller than
  :data:`SMALLEST` GBP m count as zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from finsim.economy import Economy
from finsim.errors import ResultsError
from finsim.positions import SUBSIDY_PREFIX, subsidy_components
from finsim.summary_cells import OWN_ACCOUNT, SUMMABLE, Levels, level_cells

__all__ = [
    "EXACT_QUANTILES",
    "LARGEST",
    "MEASURES",
    "OWN_ACCOUNT",
    "POSITIONS_MAX_REPLICATIONS",
    "RELATIVE_ACCURACY",
    "SMALLEST",
    "SUMMABLE",
    "EventCounter",
    "ExactSum",
    "LogHistogram",
    "SummaryAccumulator",
    "level_cells",
]

#: Runs with at most this many replications keep every replication's positions and events
#: by default; larger ones keep a streaming summary (see :class:`SummaryAccumulator`).
POSITIONS_MAX_REPLICATIONS = 2000
#: Up to this many replications, quantiles are computed from every value.
EXACT_QUANTILES = 20_000
#: Relative accuracy of quantiles estimated beyond :data:`EXACT_QUANTILES`.
RELATIVE_ACCURACY = 0.001
#: Magnitudes (GBP m) below this count as zero in the quantile histogram; above
#: :data:`LARGEST` they count in the outermost bin.
SMALLEST = 1e-3
LARGEST = 1e7

#: What the summary gives quantiles of: the surplus, and the surplus before incentive funding.
MEASURES = ("surplus", "before_incentives")

_SCALE_BITS = 30  # values are held in units of 2^-30 GBP m
_LOW_BITS = 20  # ... split as high * 2^20 + low, 0 <= low < 2^20
_LIMIT = float(2**62)


class ExactSum:
    """A running sum of float arrays over replications, exact and independent of order."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.high = np.zeros(shape, np.int64)
        self.low = np.zeros(shape, np.int64)

    def add(self, values: np.ndarray) -> None:
        """Add ``values`` shaped ``(R, *shape)`` (NaN not allowed: mask it to zero first)."""
        units = np.ldexp(values, _SCALE_BITS)  # exact: a power of two
        np.floor(units, out=units)
        if not units.size:
            return
        top, bottom = units.max(), units.min()
        if not (top < _LIMIT and bottom > -_LIMIT):  # (a NaN fails this too)
            raise ResultsError(
                "a value too large (or not finite) to summarise: more than 4e9 GBP m in one cell"
            )
        whole = units.astype(np.int64)  # exact below 2^62
        if units.shape[0] * max(float(top), -float(bottom)) < _LIMIT:
            # the rows' sum cannot overflow: add it whole, then split it (the same exact sum,
            # so the same total, as splitting every value first)
            whole = whole.sum(axis=0)
        else:  # split first: high * 2^20 + low with 0 <= low < 2^20 (a shift floors)
            self.high += (whole >> _LOW_BITS).sum(axis=0)
            self.low += (whole & (2**_LOW_BITS - 1)).sum(axis=0)
            return
        self.high += whole >> _LOW_BITS
        self.low += whole & (2**_LOW_BITS - 1)

    def total(self) -> np.ndarray:
        """The sum as floats (one rounding of an exact whole number of units)."""
        carry, low = np.divmod(self.low, 2**_LOW_BITS)
        high = self.high + carry
        return np.ldexp(high.astype(np.float64), _LOW_BITS - _SCALE_BITS) + np.ldexp(
            low.astype(np.float64), -_SCALE_BITS
        )


class LogHistogram:
    """Counts of values in bins ``gamma^k`` apart, per cell: mergeable quantiles.

    Bin ``k`` of the positive side holds ``gamma^(k-1) < x <= gamma^k``, and the
    negative side mirrors it; one bin holds the values nearer zero than
    :data:`SMALLEST`. A bin's value is ``2 gamma^k / (gamma + 1)``, within
    ``RELATIVE_ACCURACY`` of everything in it.
    """

    def __init__(self, cells: int, accuracy: float = RELATIVE_ACCURACY) -> None:
        self.gamma = (1 + accuracy) / (1 - accuracy)
        self._log_gamma = np.log(self.gamma)
        self.k_min = int(np.floor(np.log(SMALLEST) / self._log_gamma))
        self.k_max = int(np.ceil(np.log(LARGEST) / self._log_gamma))
        self.side = self.k_max - self.k_min + 1
        self.bins = 2 * self.side + 1  # negative side (reversed), zero, positive side
        self.cells = cells
        self.counts = np.zeros(cells * self.bins, np.int64)

    def _bin(self, values: np.ndarray) -> np.ndarray:
        magnitude = np.abs(values)
        with np.errstate(divide="ignore"):
            k = np.ceil(np.log(np.maximum(magnitude, SMALLEST)) / self._log_gamma)
        offset = np.clip(k, self.k_min, self.k_max).astype(np.int64) - self.k_min
        return np.where(
            magnitude < SMALLEST,
            self.side,
            np.where(values > 0, self.side + 1 + offset, self.side - 1 - offset),
        )

    def add(self, values: np.ndarray) -> None:
        """Count ``values`` shaped ``(R, cells)``."""
        flat = (np.arange(self.cells) * self.bins + self._bin(values)).reshape(-1)
        where, count = np.unique(flat, return_counts=True)
        self.counts[where] += count

    def _value(self, bin_: np.ndarray) -> np.ndarray:
        k = np.abs(bin_ - self.side) - 1 + self.k_min
        value = 2 * self.gamma**k / (self.gamma + 1)
        return np.where(bin_ == self.side, 0.0, np.sign(bin_ - self.side) * value)

    def quantile(self, q: float, n: int) -> np.ndarray:
        """The ``q`` quantile of each cell (the value of rank ``q (n - 1)``, 0-based)."""
        counts = self.counts.reshape(self.cells, self.bins)
        rank = int(np.floor(q * (n - 1)))
        first = np.argmax(np.cumsum(counts, axis=1) > rank, axis=1)
        return self._value(first)


class EventCounter:
    """Counts events per (fy, org, event) over chunks, in bounded memory."""

    KEYS = ["fy", "org", "event"]

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def add(self, events: pd.DataFrame) -> None:
        """Count events (a frame with ``fy``, ``org``, ``event`` and ``replication``)."""
        if len(events):
            grouped = events.groupby(self.KEYS, sort=True)["replication"]
            self._parts.append(
                pd.DataFrame({"count": grouped.size(), "replications": grouped.nunique()})
            )
        if len(self._parts) > 64:  # fold the counts so far
            self._parts = [self._combined()]

    def _combined(self) -> pd.DataFrame:
        return pd.concat(self._parts).groupby(level=self.KEYS, sort=True).sum()

    def frame(self) -> pd.DataFrame:
        """``fy``, ``org``, ``event``, ``count`` (events) and ``replications`` (with one or
        more; chunks hold distinct replications, so these add up)."""
        if not self._parts:
            return pd.DataFrame(
                {
                    **{key: pd.Series(dtype=object) for key in self.KEYS},
                    "count": pd.Series(dtype=np.int64),
                    "replications": pd.Series(dtype=np.int64),
                }
            )
        return self._combined().reset_index()


class SummaryAccumulator:
    """Folds chunks of replications into a run's summary in bounded memory.

    ``add`` takes a chunk's position arrays (see :func:`finsim.results.position_arrays`);
    ``frame`` gives the table of :meth:`finsim.Results.summary`; ``body_mean`` the
    mean per body and year of each subsidy component (``net_<name>``, the names in
    :attr:`subsidy_components`).
    ``replications`` is the size of the whole run, which decides between exact and
    estimated quantiles before the first chunk arrives.
    """

    def __init__(self, economy: Economy, years: Sequence[str], replications: int) -> None:
        self.economy = economy
        self.years = list(years)
        self.exact_quantiles = replications <= EXACT_QUANTILES
        self.n = 0
        self.meta: pd.DataFrame | None = None
        self._sums: dict[str, ExactSum] = {}
        self._counts: dict[str, np.ndarray] = {}
        # every value of each cell (exact quantiles), or its histogram (estimated ones): of the
        # surplus, and of the surplus before incentive funding (what control totals measure)
        self._values: dict[str, list[np.ndarray]] = {m: [] for m in MEASURES}
        self._histograms: dict[str, LogHistogram] = {}
        self.events = EventCounter()
        self._levels: Levels | None = None
        #: The subsidy components of the position arrays (see :mod:`finsim.positions`).
        self.subsidy_components: list[str] = []

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        """Fold one chunk's position arrays, ``(R_chunk, F, A)`` each."""
        if self._levels is None:
            self._levels = Levels(self.economy)
        meta, cells = level_cells(arrays, self.economy, self._levels)
        R, F, N = cells["surplus"].shape
        if self.meta is None:
            self.meta = meta
            for name in (*SUMMABLE, "control_total", "before_incentives"):
                self._sums[name] = ExactSum((F, N))
            self.subsidy_components = subsidy_components(arrays)
            for name in self._body_means:
                self._sums[name] = ExactSum(arrays[name].shape[1:])
            for name in ("deficit", "has_total", "met"):
                self._counts[name] = np.zeros((F, N), np.int64)
            if not self.exact_quantiles:
                self._histograms = {m: LogHistogram(F * N) for m in MEASURES}
        self.n += R
        for name in (*SUMMABLE, "before_incentives"):
            self._sums[name].add(cells[name])
        total = cells["control_total"]
        has = ~np.isnan(total)
        total = np.where(has, total, 0.0)
        self._sums["control_total"].add(total)
        before = cells["before_incentives"]
        met = has & (before >= total - 1e-9)
        self._counts["has_total"] += has.sum(axis=0)
        self._counts["met"] += met.sum(axis=0)
        self._counts["deficit"] += (cells["surplus"] < -1e-9).sum(axis=0)
        for name in self._body_means:
            self._sums[name].add(arrays[name])
        for measure, values in (("surplus", cells["surplus"]), ("before_incentives", before)):
            if self._histograms:
                self._histograms[measure].add(values.reshape(R, F * N))
            else:
                self._values[measure].append(values)

    @property
    def _body_means(self) -> list[str]:
        return [f"{SUBSIDY_PREFIX}{c}" for c in self.subsidy_components]

    def add_events(self, events: pd.DataFrame) -> None:
        """Count a chunk's events (see :class:`EventCounter`)."""
        self.events.add(events)

    def event_counts(self) -> pd.DataFrame:
        return self.events.frame()

    def _mean(self, name: str) -> np.ndarray:
        return self._sums[name].total() / max(self.n, 1)

    def body_mean(self, name: str) -> np.ndarray:
        """The mean over replications of a per-body quantity, ``(F, A)``."""
        return self._mean(name)

    def quantile(self, q: float, measure: str = "surplus") -> np.ndarray:
        """The ``q`` quantile of each cell's surplus (``measure="surplus"``) or surplus before
        incentive funding (``"before_incentives"``), ``(F, cells)``."""
        if self._histograms:
            F = len(self.years)
            return self._histograms[measure].quantile(q, self.n).reshape(F, -1)
        return self._quantiles([q], measure)[0]

    def _quantiles(self, qs: Sequence[float], measure: str) -> list[np.ndarray]:
        """:meth:`quantile` of several ``qs`` at once: from every value, one partition of
        the values for all of them (each quantile is the same figure as alone: it is made
        of the same order statistics)."""
        if self._histograms or not qs:
            return [self.quantile(q, measure) for q in qs]
        values = self._values[measure]
        if len(values) > 1:  # the chunks' values joined once, for every quantile asked
            values[:] = [np.concatenate(values)]
        # kept only for their quantiles: partitioned in place, each cell's values stay the same
        found = np.quantile(values[0], list(qs), axis=0, overwrite_input=True)
        return list(found)

    def frame(self, quantiles: Sequence[float], before_incentives: bool = False) -> pd.DataFrame:
        """The summary table (see :meth:`finsim.Results.summary`)."""
        if self.meta is None:
            raise ResultsError("no replication has been summarised")
        meta, F = self.meta, len(self.years)
        N = len(meta)
        out = pd.DataFrame(
            {
                "level": np.tile(meta["level"].to_numpy(), F),
                "name": np.tile(meta["name"].to_numpy(), F),
                "org_type": np.tile(meta["org_type"].to_numpy(), F),
                "fy": np.repeat(np.array(self.years, dtype=object), N),
                "surplus_mean": self._mean("surplus").reshape(-1),
            }
        )
        for q, values in zip(quantiles, self._quantiles(quantiles, "surplus"), strict=True):
            out[f"surplus_p{round(q * 100):02d}"] = values.reshape(-1)
        out["underlying_mean"] = self._mean("underlying_surplus").reshape(-1)
        out["income_mean"] = self._mean("income").reshape(-1)
        out["expenditure_mean"] = self._mean("expenditure").reshape(-1)
        out["p_deficit"] = (self._counts["deficit"] / self.n).reshape(-1)
        out["incentive_mean"] = self._mean("incentive_earned").reshape(-1)
        out["net_subsidy_received_mean"] = self._mean("net_subsidy").reshape(-1)
        count = self._counts["has_total"]
        some = count > 0
        denominator = np.maximum(count, 1)
        # a total raised in the year varies by replication: its mean where it is set
        total = self._sums["control_total"].total() / denominator
        out["control_total"] = np.where(some, total, np.nan).reshape(-1)
        met = self._counts["met"] / denominator
        out["p_met_control_total"] = np.where(some, met, np.nan).reshape(-1)
        if before_incentives:
            out["before_incentives_mean"] = self._mean("before_incentives").reshape(-1)
            found = self._quantiles(quantiles, "before_incentives")
            for q, values in zip(quantiles, found, strict=True):
                out[f"before_incentives_p{round(q * 100):02d}"] = values.reshape(-1)
        return out

    @property
    def nbytes(self) -> int:
        """Memory held by the accumulator's arrays (not counting event counts)."""
        arrays = [a for exact in self._sums.values() for a in (exact.high, exact.low)]
        arrays += list(self._counts.values())
        arrays += [a for values in self._values.values() for a in values]
        arrays += [h.counts for h in self._histograms.values()]
        return sum(a.nbytes for a in arrays)

    def describe(self) -> dict[str, Any]:
        """How quantiles were computed, for a results folder's metadata."""
        return {
            "replications": self.n,
            "quantiles": "exact" if self.exact_quantiles else "log-binned histogram",
            "relative_accuracy": None if self.exact_quantiles else RELATIVE_ACCURACY,
        }
