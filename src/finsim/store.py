"""A results folder that fills chunk by chunk, so a long run loses nothing and can resume.

``finsim run FILE --out DIR`` writes each finished chunk of replications to
``DIR/chunks/<first>-<last>/`` as plain arrays (``.npy``) and tables
(``.parquet``): never pickles, so a folder copied from elsewhere cannot run
code. A chunk is written to a temporary folder and renamed into place, so a
chunk folder is either complete or absent. ``manifest.json`` records what the
run is (scenario, variant, seed, replications, chunk size, a hash of the
scenario); ``--resume`` checks it matches and runs only the missing chunks.

Each chunk carries its run's identity and the list of what it holds (``chunk.json``,
written last): a chunk copied from another run (another seed, scenario or chunking),
a ``chunks/`` folder linked to another run's, or a chunk whose files were removed,
added, reshaped or given another type is a :class:`ResultsError` naming the chunk and
what does not match, never a run mixing two runs or a traceback. Arrays are checked
from their headers before they are loaded: a header claiming a huge shape allocates
nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from finsim.engine import ChunkOutput
from finsim.errors import ResultsError, ScenarioError

MANIFEST = "manifest.json"
#: The format of a results folder: 2 since each chunk carries its run's identity.
FORMAT = 2
#: How a chunk folder is named: its first and last replication.
CHUNK_NAME = re.compile(r"^\d{9}-\d{9}$")
#: Each chunk's identity and contents, written last.
CHUNK_FILE = "chunk.json"
#: The manifest's fields that say which run a folder holds: a run resumed must ask for the
#: same, and every chunk must carry the same.
RUN_KEYS = (
    "format",
    "scenario_hash",
    "variant",
    "seed",
    "replications",
    "chunk_size",
    "antithetic",
    "keep_monthly",
    "keep_tables",
    "keep_flows",
    "finsim_version",
)
#: Largest manifest or chunk.json read (a finsim one is a few KB).
MAX_JSON_BYTES = 1_000_000
#: The columns of a chunk's flow keys, each an integer code.
FLOW_KEY_COLUMNS = ("fy", "source", "target", "category", "recurrence", "kind")
#: The columns every chunk's events table has.
EVENT_COLUMNS = ("replication", "fy", "month", "org", "event", "detail", "amount")


class ChunkLayout(NamedTuple):
    """The sizes a run's arrays have besides replications: years, months and accounts."""

    years: int
    months: int
    accounts: int


def scenario_hash(data: dict[str, Any]) -> str:
    """A fingerprint of a scenario document (sorted JSON, sha256)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _error(path: Path, message: str) -> ScenarioError:
    from finsim.scenario.yamlio import shown_path

    return ScenarioError.single("--out", message, shown_path(path))


def read_json(path: Path, what: str = "manifest") -> Any:
    """A small JSON file of a results folder (the manifest, or a chunk's ``chunk.json``).

    Raises :class:`ResultsError` naming the file for one that is missing, not a regular file,
    larger than :data:`MAX_JSON_BYTES`, not JSON or nested too deep to read.
    """
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ResultsError(f"{path}: cannot read the {what}: not a regular file")
        if info.st_size > MAX_JSON_BYTES:
            raise ResultsError(
                f"{path}: cannot read the {what}: {info.st_size:,} bytes, more than a finsim "
                f"{what} ever holds ({MAX_JSON_BYTES:,})"
            )
        with open(path, "rb") as handle:
            text = handle.read(MAX_JSON_BYTES + 1).decode("utf-8")
        return json.loads(text)
    except ResultsError:
        raise
    except RecursionError:
        raise ResultsError(f"{path}: cannot read the {what}: nested too deep") from None
    except (OSError, ValueError) as exc:  # (UnicodeDecodeError and JSONDecodeError among them)
        reason = _why(exc) if isinstance(exc, OSError) else str(exc)
        raise ResultsError(f"{path}: cannot read the {what} ({reason})") from None


def read_manifest(path: Path) -> Any:
    """A results folder's manifest as JSON (see :func:`read_json`)."""
    return read_json(path, "manifest")


def identity(manifest: dict[str, Any], first: int, last: int) -> dict[str, Any]:
    """What a chunk of the run ``manifest`` describes must carry: the run's fields
    (:data:`RUN_KEYS`) and its first and last replication."""
    return {**{key: manifest.get(key) for key in RUN_KEYS}, "first": first, "last": last}


def _span(name: str) -> tuple[int, int]:
    first, last = (int(part) for part in name.split("-"))
    return first, last


class ChunkStore:
    """The chunks folder of a results directory.

    ``layout`` (the run's years, months and accounts), when given, is checked against every
    array a chunk holds as it is read.
    """

    def __init__(
        self, directory: Path, manifest: dict[str, Any], layout: ChunkLayout | None = None
    ) -> None:
        self.directory = directory
        self.chunks = directory / "chunks"
        self.manifest = manifest
        self.layout = layout

    @classmethod
    def open(
        cls,
        directory: Path,
        manifest: dict[str, Any],
        resume: bool,
        force: bool = False,
        layout: ChunkLayout | None = None,
    ) -> ChunkStore:
        """Start (or, with ``resume``, continue) a run writing into ``directory``."""
        try:
            return cls._open(directory, manifest, resume, force, layout)
        except (OSError, ValueError) as exc:  # a path too long, through a file, holding a NUL...
            from finsim.scenario.yamlio import NUL_IN_PATH, os_problem

            why = os_problem(exc) if isinstance(exc, OSError) else NUL_IN_PATH
            raise _error(directory, f"cannot use the results folder: {why}") from None

    @classmethod
    def _open(
        cls,
        directory: Path,
        manifest: dict[str, Any],
        resume: bool,
        force: bool,
        layout: ChunkLayout | None,
    ) -> ChunkStore:
        path = directory / MANIFEST
        if directory.exists() and not directory.is_dir():
            raise _error(directory, "exists and is not a folder")
        store = cls(directory, manifest, layout)
        if path.exists() or path.is_symlink():
            try:
                existing = read_manifest(path)
            except ResultsError as exc:
                raise _error(path, str(exc).removeprefix(f"{path}: ")) from None
            if not isinstance(existing, dict):
                raise _error(path, "is not a finsim manifest (expected a JSON object)")
            if not resume:
                if not force:
                    raise _error(
                        directory,
                        "already holds a finsim run: use --resume to finish it, or --force to start again",
                    )
                if store.chunks.is_symlink():  # (rmtree would refuse it, and leave it there)
                    store.chunks.unlink()
                shutil.rmtree(store.chunks, ignore_errors=True)
            else:
                different = [k for k in RUN_KEYS if existing.get(k) != manifest.get(k)]
                if different:
                    raise _error(
                        path,
                        "the run in this folder differs from the one asked for in "
                        + ", ".join(
                            f"{k} ({_shown(existing.get(k))} there, {_shown(manifest.get(k))} now)"
                            for k in different
                        ),
                    )
                # every chunk kept must be this run's: checked before anything runs
                for name in sorted(store.done()):
                    if store.fits(name):
                        store.check_identity(store.chunks / name)
        elif resume:
            raise _error(directory, "has no run to resume (no manifest.json)")
        elif directory.exists() and any(directory.iterdir()) and not force:
            raise _error(
                directory,
                "is not empty and is not a finsim results folder: choose another, or use --force",
            )
        elif store.chunks.is_symlink():  # (--force over a folder that holds something else)
            store.chunks.unlink()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            write_json(path, manifest)
            store.chunks.mkdir(exist_ok=True)
        except OSError as exc:  # a read-only or full disk, a path through a file...
            raise _error(directory, f"cannot write the results folder: {_why(exc)}") from None
        return store

    # -- chunks ------------------------------------------------------------------------------
    @staticmethod
    def name(replications: np.ndarray) -> str:
        return f"{int(replications[0]):09d}-{int(replications[-1]):09d}"

    def done(self) -> set[str]:
        """Names of the chunks already written: folders named as :meth:`name` names them
        (anything else, such as a temporary folder left by a crash, is not a chunk).

        Raises :class:`ResultsError` if ``chunks/`` is a symbolic link (to another run's
        chunks?): a results folder's chunks are its own.
        """
        if self.chunks.is_symlink():
            raise ResultsError(
                f"{self.chunks}: is a symbolic link (to another run's chunks?), not this run's "
                "own folder of chunks: remove the link, and finish the run with --resume"
            )
        if not self.chunks.is_dir():
            return set()
        return {
            p.name
            for p in self.chunks.iterdir()
            if CHUNK_NAME.match(p.name) and p.is_dir() and not p.is_symlink()
        }

    def fits(self, name: str) -> bool:
        """Whether a chunk folder's name is one of this run's chunks (by the manifest's
        replications and chunk size): a folder of another chunking is never read."""
        total, size = self.manifest.get("replications"), self.manifest.get("chunk_size")
        if not (isinstance(total, int) and isinstance(size, int) and size > 0):
            return True
        first, last = _span(name)
        return not (first % size or first >= total or last != min(first + size, total) - 1)

    def write(self, chunk: ChunkOutput) -> None:
        """Write a chunk atomically (temporary folder, then rename), its identity and the list
        of its files last."""
        tmp: Path | None = None
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.chunks))
            files: dict[str, Any] = {}

            def array(name: str, value: np.ndarray) -> None:
                np.save(tmp / name, value)
                files[name] = {"dtype": value.dtype.str, "shape": list(value.shape)}

            def table(name: str, frame: pd.DataFrame) -> None:
                frame.to_parquet(tmp / name, index=False)
                files[name] = {"rows": len(frame), "columns": [str(c) for c in frame.columns]}

            array("replications.npy", chunk.replications)
            array("flow_amounts.npy", chunk.flow_amounts)
            table("flow_keys.parquet", chunk.flow_keys)
            if len(chunk.events):
                table("events.parquet", chunk.events)
            if chunk.journal is not None and len(chunk.journal):
                table("journal.parquet", chunk.journal)
            if chunk.monthly is not None:
                array("monthly.npy", chunk.monthly)
            for name, value in chunk.extras.items():
                array(f"extra.{name}.npy", value)
            for name, frame in chunk.tables.items():
                table(f"table.{name}.parquet", frame)
            for name, value in chunk.totals.items():
                array(f"total.{name}.npy", value)
            (tmp / "flows_kept").write_text("1" if chunk.flows_kept else "0")
            files["flows_kept"] = {}
            first, last = int(chunk.replications[0]), int(chunk.replications[-1])
            record = {"identity": identity(self.manifest, first, last), "files": files}
            (tmp / CHUNK_FILE).write_text(json.dumps(record, indent=1, default=str))
            os.replace(tmp, self.chunks / self.name(chunk.replications))
        except OSError as exc:  # a full disk, a folder made read-only during the run...
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise _error(
                self.directory,
                f"cannot write a chunk of results: {_why(exc)}. The chunks finished before it "
                "are kept: make room (or fix the folder) and finish the run with --resume "
                "(resume=True)",
            ) from None
        except BaseException:
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
            raise

    def check_identity(self, folder: Path) -> dict[str, Any]:
        """The record (``chunk.json``) of a chunk folder, checked to be this run's and this
        chunk's; raises :class:`ResultsError` naming the chunk and what does not match."""
        try:
            record = read_json(folder / CHUNK_FILE, "chunk's record")
        except ResultsError as exc:
            missing = not (folder / CHUNK_FILE).exists()
            raise _bad(
                folder,
                "it has no chunk.json, so it cannot be told to be this run's (written by an "
                "older finsim, or damaged)"
                if missing
                else str(exc).removeprefix(f"{folder / CHUNK_FILE}: "),
            ) from None
        if not (
            isinstance(record, dict)
            and isinstance(record.get("identity"), dict)
            and isinstance(record.get("files"), dict)
        ):
            raise _bad(folder, "its chunk.json is not a finsim chunk's record")
        first, last = _span(folder.name)
        expected = identity(self.manifest, first, last)
        found = record["identity"]
        if (found.get("first"), found.get("last")) != (first, last):
            raise _bad(
                folder,
                f"it holds replications other than its name says ({_shown(found.get('first'))} "
                f"to {_shown(found.get('last'))}, copied from another chunk?)",
            )
        different = [k for k in expected if found.get(k) != expected[k]]
        if different:
            shown = ", ".join(
                f"{k} {_shown(found.get(k))} in the chunk, {_shown(expected[k])} in the run"
                for k in different
            )
            raise _bad(folder, f"it is not a chunk of this run ({shown})")
        return record

    def read_all(self) -> list[ChunkOutput]:
        """Every written chunk, in replication order."""
        return list(self.read_each())

    def read_each(self) -> Iterator[ChunkOutput]:
        """Every written chunk of this run, one at a time, in replication order (a chunk folder
        that does not fit the manifest's chunking is not read: it cannot double a replication).

        Each is checked to be this run's, whole and of the run's shape (see
        :func:`read_chunk`); all must hold the same mechanisms' outputs."""
        first_extras: dict[str, int] | None = None
        for name in sorted(self.done()):
            if not self.fits(name):
                continue
            folder = self.chunks / name
            chunk = read_chunk(folder, self)
            extras = {key: value.ndim for key, value in chunk.extras.items()}
            if first_extras is None:
                first_extras = extras
            elif extras != first_extras:
                raise _bad(
                    folder,
                    f"it holds the outputs {sorted(extras)}, other chunks of the run "
                    f"{sorted(first_extras)}",
                )
            yield chunk


def _bad(folder: Path, what: str) -> ResultsError:
    return ResultsError(
        f"{folder}: this chunk of results cannot be read: {what}; delete the folder and finish "
        "the run with --resume to run it again"
    )


def _shown(value: Any, most: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


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
    if record is not None and set(totals) != expected_totals:
        lacking = sorted(expected_totals - set(totals)) or sorted(set(totals) - expected_totals)
        raise _bad(folder, f"its totals are not a run's (the total {lacking[0]!r})")
    monthly = load("monthly.npy", np.float64, n, T, A) if "monthly.npy" in present else None
    if store is not None and store.manifest.get("keep_monthly") is True and monthly is None:
        raise _bad(folder, "'monthly.npy' missing")
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
    )


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:3])
    return shown + (f" and {len(names) - 3:,} more" if len(names) > 3 else "")


@functools.cache
def _total_names() -> frozenset[str]:
    """The totals every chunk holds (:func:`finsim.positions.account_totals`' names)."""
    from finsim.positions import account_totals

    keys = pd.DataFrame({c: np.empty(0, np.int64) for c in FLOW_KEY_COLUMNS})
    return frozenset(account_totals(keys, np.zeros((1, 0)), 1, 1))


def _check_codes(folder: Path, keys: pd.DataFrame, layout: ChunkLayout | None) -> None:
    """Every flow key is an integer code in its range (the run's years and accounts)."""
    from finsim.ledger import CATEGORIES, KINDS, RECURRENCE

    sizes: dict[str, int | None] = {
        "fy": layout.years if layout else None,
        "source": layout.accounts if layout else None,
        "target": layout.accounts if layout else None,
        "category": len(CATEGORIES),
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


def _why(exc: OSError) -> str:
    from finsim.scenario.yamlio import shown_path

    reason = exc.strerror or str(exc)
    return f"{reason} ({shown_path(exc.filename)})" if exc.filename else reason


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically."""
    from finsim.results import atomic_write

    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str)))
