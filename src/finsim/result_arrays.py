"""A run's arrays from its chunks: flows merged across chunks (:func:`merge_chunks`) and each
body's position arrays (:func:`position_arrays`), from which :class:`finsim.Results` builds
its tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.economy import Economy
from finsim.engine import ChunkOutput
from finsim.ledger import KINDS, MAX_CATEGORIES, RECURRENCE
from finsim.positions import SUBSIDY_PREFIX, PositionView, subsidy_components

if TYPE_CHECKING:
    from finsim.mechanisms.base import Mechanism


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
