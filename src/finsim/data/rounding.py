"""Rounding as NHS England's allocation tools (and Excel) do it: halves away from zero."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd

_Values = TypeVar("_Values", pd.Series, pd.DataFrame, np.ndarray)


# --- need indices ----------------------------------------------------------


@overload
def round_half_up(values: float, decimals: int = 0) -> float: ...
@overload
def round_half_up(values: _Values, decimals: int = 0) -> _Values: ...
@overload
def round_half_up(values: Sequence[float], decimals: int = 0) -> np.ndarray: ...
def round_half_up(values: Any, decimals: int = 0) -> Any:
    """Round to ``decimals`` places with halves away from zero, as Excel's ROUND does.

    Python's ``round`` and numpy's ``round`` send halves to the even
    neighbour (banker's rounding); NHS England's allocation tools round halves
    up, as Excel does:

    >>> round_half_up([0.5, 1.5, 2.5, -2.5]).tolist(), [round(x) for x in (0.5, 1.5, 2.5, -2.5)]
    ([1.0, 2.0, 3.0, -3.0], [0, 2, 2, -2])
    >>> round_half_up(2.675, 2), round(2.675, 2)
    (2.68, 2.67)
    >>> round_half_up(1234.5, -1)
    1230.0

    Binary floats: 2.675 is stored as 2.67499999999999982236431605997495353221893310546875,
    which ``round`` faithfully rounds down. This function rounds the decimal a
    person reads instead: the shortest decimal that identifies the float
    (``repr(2.675) == '2.675'``), exactly as NHS England's tool does with
    ``Decimal(str(x))``. For every number written with up to 15 significant
    digits (all that Excel keeps) that is the number as written, so the result
    is Excel's. A computed value whose shortest decimal needs 16 or 17 digits
    and lies within about 1e-15 of a half-way point rounds as that decimal
    reads, where Excel, which keeps 15 digits, may round the other way: the
    float just below 1.0005 reads ``1.0004999999999997`` and rounds to 1.0 at 3
    places here (and in NHS England's tool), 1.0005 to 15 digits and so 1.001
    in Excel. Such values are about one in 10**12 of indices computed from
    data. Values too large to carry ``decimals`` places, infinities and NaN
    come back unchanged.

    Accepts a number (returns a float), a Series or DataFrame (returns the same
    shape and labels) or anything array-like (returns an ndarray). Vectorised:
    only values within a hair of a half-way point are settled with ``Decimal``.
    """
    if not isinstance(decimals, int | np.integer) or abs(decimals) > 15:
        raise ValueError(f"decimals must be a whole number from -15 to 15, got {decimals!r}")
    array = np.asarray(values, dtype=float)
    flat = array.reshape(-1)
    scale = 10.0 ** abs(int(decimals))
    magnitude = np.abs(flat)
    scaled = magnitude * scale if decimals >= 0 else magnitude / scale
    with np.errstate(invalid="ignore"):
        whole = np.floor(scaled + 0.5)
        # Beyond 2**52 a float holds no fraction; NaN fails the comparison too.
        fits = scaled < 2.0**52
        off_half = np.abs(scaled - np.floor(scaled) - 0.5)
    near_half = fits & (off_half <= 1e-9 * np.maximum(1.0, scaled))
    if near_half.any():
        quantum = Decimal(1).scaleb(-int(decimals))
        with localcontext() as context:
            context.prec = 60
            whole[near_half] = [
                float(Decimal(repr(float(m))).quantize(quantum, ROUND_HALF_UP).scaleb(decimals))
                for m in magnitude[near_half]
            ]
    rounded = whole / scale if decimals >= 0 else whole * scale
    # Adding 0.0 turns -0.0 (from rounding -0.4) into 0.0, as Excel shows it.
    result = np.where(fits, np.copysign(rounded, flat) + 0.0, flat).reshape(array.shape)
    if isinstance(values, pd.DataFrame):
        return pd.DataFrame(result, index=values.index, columns=values.columns)
    if isinstance(values, pd.Series):
        return pd.Series(result, index=values.index, name=values.name)
    if result.ndim == 0 and not isinstance(values, np.ndarray):
        return float(result)
    return result
