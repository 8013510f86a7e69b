"""A run's arrays from its chunks: flows merged across chunks (:func:`merge_chunks`) and each
body's position arrays (:func:`position_arrays`), from which :class:`finsim.Results` builds
its tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from finsim.economy import ORG_TYPES, Economy
from finsim.engine import ChunkOutput
from finsim.ledger import KINDS, MAX_CATEGORIES, RECURRENCE
from finsim.positions import SUBSIDY_CATEGORIES


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
