"""Reading one chunk of a results folder back: arrays checked from their headers before they
are loaded (never with pickle), tables, and the chunk's record checked against its run."""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from finsim.engine import ChunkOutput
from finsim.errors import ResultsError
from finsim.manifest import (
    CHUNK_FILE,
    EVENT_COLUMNS,
    FLOW_KEY_COLUMNS,
    ChunkLayout,
    _bad,
    _span,
)

if TYPE_CHECKING:
    from finsim.store import ChunkStore


#: Anything reading a damaged file may raise (pyarrow's errors are subclasses of these, or of
#: its ArrowException).
_READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    KeyError,
    TypeError,
    IndexError,
    NotImplementedError,
    MemoryError,
    RecursionError,
    EOFError,
)
try:
    import pyarrow

    _READ_ERRORS += (pyarrow.ArrowException,)
except ImportError:  # pragma: no cover - pandas needs pyarrow for parquet anyway
    pass


def read_chunk(folder: Path, store: ChunkStore | None = None) -> ChunkOutput:
    """Load a chunk written by :meth:`ChunkStore.write` (arrays loaded without pickle).

    With ``store`` (the run's), the chunk must carry the run's identity and hold exactly the
    files its record lists, each of the dtype and shape the run's layout gives; without, only
    what the chunk says of itself is checked. Raises :class:`ResultsError` for a chunk that is
    damaged, another run's, or not what its name says.
    """
    first, last = _span(folder.name)
    record: dict[str, Any] | None = None
    if store is not None:
        record = store.check_identity(folder)
    try:
        chunk = _read_chunk(folder, first, last, record, store)
    except ResultsError:
        raise
    except _READ_ERRORS as exc:
        detail = str(exc)
        detail = detail if len(detail) <= 200 else detail[:197] + "..."
        raise ResultsError(
            f"{folder}: this chunk of results cannot be read ({type(exc).__name__}: {detail}); "
            "delete the folder and finish the run with --resume to run it again"
        ) from None
    if not np.array_equal(chunk.replications, np.arange(first, last + 1)):
        raise ResultsError(
            f"{folder}: this chunk holds replications other than its name says; delete the "
            "folder and finish the run with --resume to run it again"
        )
    return chunk


def _read_chunk(
    folder: Path,
    first: int,
    last: int,
    record: dict[str, Any] | None,
    store: ChunkStore | None,
) -> ChunkOutput:
    n = last - first + 1
    present = {p.name: p for p in folder.iterdir()}
    if record is not None:
        listed = record["files"]
        missing = sorted(set(listed) - set(present))
        extra = sorted(set(present) - set(listed) - {CHUNK_FILE})
        if missing:
            raise _bad(folder, f"{_names(missing)} missing")
        if extra:
            raise _bad(folder, f"it holds {_names(extra)} that finsim did not write there")
    for name, path in present.items():
        if path.is_symlink() or not path.is_file():
            raise _bad(folder, f"{name!r} is not a plain file")
    layout = store.layout if store is not None else None
    F, T, A = layout if layout is not None else (None, None, None)

    def load(name: str, dtype: Any, *shape: int | None) -> np.ndarray:
        """An array whose header is checked first: nothing is allocated for a header claiming
        more than the file holds, or another dtype or shape than the run's."""
        return _load_array(folder, name, np.dtype(dtype), shape, record)

    def table(name: str, columns: tuple[str, ...] = ()) -> pd.DataFrame:
        frame = pd.read_parquet(folder / name)
        lacking = [c for c in columns if c not in frame.columns]
        if lacking:
            raise _bad(folder, f"its table {name!r} has no column {lacking[0]!r}")
        if record is not None and len(frame) != record["files"][name].get("rows"):
            raise _bad(folder, f"its table {name!r} holds another number of rows than written")
        return frame

    replications = load("replications.npy", np.int64, n)
    flow_keys = table("flow_keys.parquet", FLOW_KEY_COLUMNS)
    if list(flow_keys.columns) != list(FLOW_KEY_COLUMNS):
        raise _bad(folder, f"its flow keys have the columns {list(flow_keys.columns)}")
    _check_codes(folder, flow_keys, layout)
    flow_amounts = load("flow_amounts.npy", np.float64, n, len(flow_keys))
    events = (
        table("events.parquet", EVENT_COLUMNS) if "events.parquet" in present else pd.DataFrame()
    )
    if len(events) and not events["replication"].between(first, last).all():
        raise _bad(folder, "its events name replications other than its own")
    journal = table("journal.parquet") if "journal.parquet" in present else None
    extras = {}
    for name in sorted(present):
        if name.startswith("extra.") and name.endswith(".npy"):
            header = _header(folder, name)[1]
            shape = (F, A) if len(header) == 2 else (n, F, A)
            extras[name[len("extra.") : -len(".npy")]] = load(name, np.float64, *shape)
    tables = {
        name[len("table.") : -len(".parquet")]: table(name)
        for name in sorted(present)
        if name.startswith("table.") and name.endswith(".parquet")
    }
    totals = {
        name[len("total.") : -len(".npy")]: load(name, np.float64, n, F, A)
        for name in sorted(present)
        if name.startswith("total.") and name.endswith(".npy")
    }
    expected_totals = _total_names()
    # besides the core totals, one per category with a role (received_<name>, net_<name>)
    unknown = sorted(
        n for n in set(totals) - expected_totals if not n.startswith(("received_", "net_"))
    )
    if record is not None and (unknown or not expected_totals <= set(totals)):
        lacking = unknown or sorted(expected_totals - set(totals))
        raise _bad(folder, f"its totals are not a run's (the total {lacking[0]!r})")
    monthly = load("monthly.npy", np.float64, n, T, A) if "monthly.npy" in present else None
    if store is not None and store.manifest.get("keep_monthly") is True and monthly is None:
        raise _bad(folder, "'monthly.npy' missing")
    monthly_cash = (
        load("monthly_cash.npy", np.float64, n, T, A) if "monthly_cash.npy" in present else None
    )
    if (monthly is None) != (monthly_cash is None):
        raise _bad(folder, "it holds one of 'monthly.npy' and 'monthly_cash.npy' without the other")
    with open(folder / "flows_kept", "rb") as handle:
        kept = handle.read(16).strip()
    if kept not in (b"0", b"1"):
        raise _bad(folder, "its 'flows_kept' is neither 0 nor 1")
    return ChunkOutput(
        replications=replications,
        flow_keys=flow_keys,
        flow_amounts=flow_amounts,
        events=events,
        journal=journal,
        extras=extras,
        tables=tables,
        monthly=monthly,
        totals=totals,
        flows_kept=kept == b"1",
        monthly_cash=monthly_cash,
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")


@functools.cache
def _total_names() -> frozenset[str]:
    """The totals every chunk holds (:func:`finsim.positions.account_totals`' names with no
    category given a role)."""
    from finsim.positions import account_totals

    keys = pd.DataFrame({c: np.empty(0, np.int64) for c in FLOW_KEY_COLUMNS})
    return frozenset(account_totals(keys, np.zeros((1, 0)), 1, 1, ()))


def _check_codes(folder: Path, keys: pd.DataFrame, layout: ChunkLayout | None) -> None:
    """Every flow key is an integer code in its range (the run's years and accounts)."""
    from finsim.ledger import KINDS, MAX_CATEGORIES, RECURRENCE

    sizes: dict[str, int | None] = {
        "fy": layout.years if layout else None,
        "source": layout.accounts if layout else None,
        "target": layout.accounts if layout else None,
        "category": MAX_CATEGORIES,
        "recurrence": len(RECURRENCE),
        "kind": len(KINDS),
    }
    for column, size in sizes.items():
        values = keys[column]
        if not pd.api.types.is_integer_dtype(values.dtype):
            raise _bad(folder, f"its flow keys' {column!r} are not whole numbers")
        if len(values) and (values.min() < 0 or (size is not None and values.max() >= size)):
            raise _bad(folder, f"its flow keys' {column!r} fall outside the run's")


def _header(folder: Path, name: str) -> tuple[np.dtype[Any], tuple[int, ...], int]:
    """(dtype, shape, where the data starts) of an ``.npy`` file, from its header alone."""
    with open(folder / name, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        else:
            raise _bad(folder, f"{name!r} is an array of a format finsim does not write")
        return dtype, tuple(shape), handle.tell()


def _load_array(
    folder: Path,
    name: str,
    dtype: np.dtype[Any],
    shape: tuple[int | None, ...],
    record: dict[str, Any] | None,
) -> np.ndarray:
    found, dims, start = _header(folder, name)
    if found.hasobject or found != dtype:
        raise _bad(folder, f"{name!r} holds {found}, not {dtype} (as finsim writes it)")
    if len(dims) != len(shape) or any(
        s is not None and d != s for d, s in zip(dims, shape, strict=True)
    ):
        wanted = tuple("any" if s is None else s for s in shape)
        raise _bad(folder, f"{name!r} has the shape {dims}, not {wanted}")
    if record is not None:
        written = record["files"].get(name, {})
        if written.get("shape") != list(dims) or written.get("dtype") != found.str:
            raise _bad(folder, f"{name!r} is not the array written there")
    size = math.prod(dims) * found.itemsize
    if (folder / name).stat().st_size != start + size:
        raise _bad(folder, f"{name!r} holds another number of bytes than its header says")
    return np.load(folder / name, allow_pickle=False)
