"""Sums whose bits do not depend on how many replications share an array.

``np.sum`` adds pairwise, with SIMD lanes whose grouping depends on the array's
shape and on where it starts in memory; the same row can then sum to different
last bits in a chunk of 1 and in a chunk of 256. A replication must give the
same result whatever chunk it runs in, so the mechanisms total across
organisations with :func:`row_sum`, which adds left to right.
"""

from __future__ import annotations

import numpy as np


def row_sum(values: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """Sum over the last axis, strictly left to right (vectorised over the other axes)."""
    values = np.asarray(values, dtype=np.float64)
    if values.shape[-1] == 0:
        out = np.zeros(values.shape[:-1])
    else:
        out = np.add.accumulate(values, axis=-1)[..., -1]
    return out[..., None] if keepdims else out
