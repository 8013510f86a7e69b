"""A run's arrays from its chunks: the chunks' arrays joined in replication order when first
asked for (:class:`RunArrays`), flows merged across chunks (:func:`merge_chunks`) and each
body's position arrays (:func:`position_arrays`), from which :class:`finsim.Results` builds
its tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finsim.economy import Economy
from finsim.engine import ChunkOutput
from finsim.ledger import KINDS, MAX_CATEGORIES, RECURRENCE
from finsim.positions import SUBSIDY_PREFIX, PositionView, subsidy_components

if TYPE_CHECKING:
    from finsim.mechanisms.base import Mechanism

#: A run whose positions are kept summarises them in batches of at least this many replications.
SUMMARY_BATCH = 128


def _encode(keys: pd.DataFrame, n_accounts: int) -> np.ndarray:
    code = keys["fy"].to_numpy(np.int64)
    for column, size in (
        ("source", n_accounts),
        ("target", n_accounts),
        ("category", MAX_CATEGORIES),
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
    base: dict[str, np.ndarray],
    extras: dict[str, np.ndarray],
    economy: Economy,
    mechanisms: Iterable[type[Mechanism]],
) -> dict[str, np.ndarray]:
    """Each body's position arrays, ``(R, F, A)``, from its totals (:func:`account_totals`)
    and the mechanisms' outputs: the core columns (:data:`finsim.positions.CORE_COLUMNS`),
    then what each mechanism adds (:meth:`Mechanism.positions`, by ``order``), then
    ``net_subsidy``, the sum of the subsidy components."""
    arrays = dict(base)
    income, expenditure = arrays["income"], arrays["expenditure"]
    surplus = income - expenditure
    arrays["surplus"] = surplus
    arrays["underlying_surplus"] = (
        surplus - arrays["nonrecurrent_income"] + arrays["nonrecurrent_expenditure"]
    )
    arrays["surplus_before_incentives"] = surplus - arrays["incentive_earned"]
    view = PositionView(arrays, extras, economy)
    for cls in sorted(mechanisms, key=lambda c: c.order):
        cls.positions(view)
        missing = [c.name for c in cls.columns if c.name not in arrays]
        if missing:
            raise RuntimeError(
                f"mechanism {cls.__name__} declares columns {missing} it did not fill"
            )
    components = subsidy_components(arrays)
    net = np.zeros_like(surplus)
    for component in components:
        net = net + arrays[f"{SUBSIDY_PREFIX}{component}"]
    arrays["net_subsidy"] = net
    return arrays


class RunArrays:
    """A run's per-replication arrays as its chunks hold them, joined in replication order
    when first asked for: a run's summary folds them a batch of chunks at a time
    (:meth:`fold`), so a run that is only summarised never joins them at all. Once joined,
    the chunks' own copies are let go."""

    def __init__(self, chunks: Sequence[ChunkOutput], n_accounts: int) -> None:
        self.n_accounts = n_accounts
        reps = np.concatenate([c.replications for c in chunks]) if chunks else np.empty(0, int)
        order = np.argsort(reps, kind="stable")
        #: where each replication's row is among the chunks' rows (None: in order already)
        self.order = None if np.array_equal(order, np.arange(order.size)) else order
        self.replication_ids = reps if self.order is None else reps[self.order]
        self._flows: tuple[np.ndarray, pd.DataFrame, np.ndarray] | list[ChunkOutput] = [
            ChunkOutput(c.replications, c.flow_keys, c.flow_amounts, None, None, {}, {}, None, {})
            for c in chunks
        ]
        #: each chunk's totals and outputs, until joined (then the joined arrays)
        self._parts: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] | None = [
            (c.totals, c.extras) for c in chunks
        ]
        self._joined: tuple[dict[str, np.ndarray], dict[str, np.ndarray]] | None = None
        self.monthly = self._stacked_or_none([c.monthly for c in chunks])
        cash = [c.monthly_cash for c in chunks]
        self.monthly_cash = None if self.monthly is None else self._stacked_or_none(cash)

    def stacked(self, parts: list[np.ndarray]) -> np.ndarray:
        """The chunks' rows of one array (one part per chunk), in replication order."""
        whole = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if self.order is not None:
            return whole[self.order]
        return whole.copy() if len(parts) == 1 else whole

    def _stacked_or_none(self, parts: list[np.ndarray | None]) -> np.ndarray | None:
        if not parts or any(p is None for p in parts):
            return None
        return self.stacked(parts)  # type: ignore[arg-type]

    def flows(self) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
        """(replications, flow keys, ``(R, K)`` amounts): :func:`merge_chunks`, once."""
        if isinstance(self._flows, list):
            self._flows = merge_chunks(self._flows, self.n_accounts)
        return self._flows

    def joined(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Each body's totals (:func:`finsim.positions.account_totals`) and the mechanisms'
        outputs, ``(R, F, A)`` each (static outputs ``(F, A)``), in replication order."""
        if self._joined is None:
            parts = self._parts or []
            totals = (
                {n: self.stacked([t[n] for t, _ in parts]) for n in parts[0][0]} if parts else {}
            )
            extras: dict[str, np.ndarray] = {}
            for name, first in parts[0][1].items() if parts else ():
                # static (F, A) outputs are the same in every replication
                extras[name] = (
                    first if first.ndim == 2 else self.stacked([e[name] for _, e in parts])
                )
            self._joined, self._parts = (totals, extras), None
        return self._joined

    def fold(
        self, accumulator: Any, economy: Economy, mechanisms: Iterable[type[Mechanism]]
    ) -> None:
        """Fold the run's positions into a summary (a :class:`finsim.summaries.SummaryAccumulator`)
        a batch of at least :data:`SUMMARY_BATCH` replications at a time, as a streamed run
        does (the same figures to the bit: its sums are exact and its quantiles are of the
        same values): arrays of a few MB that stay in the processor's caches, where the
        positions of every replication at once are hundreds of MB of new memory."""
        mechanisms = list(mechanisms)
        for totals, extras in self._batches(SUMMARY_BATCH):
            accumulator.add(position_arrays(totals, extras, economy, mechanisms))

    def _batches(self, size: int) -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
        if self._parts is None:  # joined already: rows of the joined arrays
            totals, extras = self.joined()
            rows = len(self.replication_ids)
            for start in range(0, rows, size):
                cut = slice(start, min(start + size, rows))
                yield (
                    {n: v[cut] for n, v in totals.items()},
                    {n: v if v.ndim == 2 else v[cut] for n, v in extras.items()},
                )
            return
        batch: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = []
        rows = 0
        for i, part in enumerate(self._parts):
            batch.append(part)
            rows += len(next(iter(part[0].values()))) if part[0] else 0
            if rows >= size or i == len(self._parts) - 1:
                yield _joined(batch)
                batch, rows = [], 0


def _joined(
    batch: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The totals and outputs of consecutive chunks as one chunk's."""
    if len(batch) == 1:
        return batch[0]
    first_totals, first_extras = batch[0]
    totals = {n: np.concatenate([t[n] for t, _ in batch]) for n in first_totals}
    extras = {
        n: v if v.ndim == 2 else np.concatenate([e[n] for _, e in batch])
        for n, v in first_extras.items()
    }
    return totals, extras
