"""A results folder that fills chunk by chunk, so a long run loses nothing and can resume.

``finsim run FILE --out DIR`` writes each finished chunk of replications to
``DIR/chunks/<first>-<last>/`` as plain arrays (``.npy``) and tables
(``.parquet``): never pickles, so a folder copied from elsewhere cannot run
code. A chunk is written to a temporary folder and renamed into place, so a
chunk folder is either complete or absent. ``manifest.json`` records what the
run is (scenario, variant, seed, replications, chunk size, a hash of the
scenario); ``--resume`` checks it matches and runs only the missing chunks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsim.engine import ChunkOutput
from finsim.errors import ResultsError, ScenarioError

MANIFEST = "manifest.json"
FORMAT = 1
#: How a chunk folder is named: its first and last replication.
CHUNK_NAME = re.compile(r"^\d{9}-\d{9}$")


def scenario_hash(data: dict[str, Any]) -> str:
    """A fingerprint of a scenario document (sorted JSON, sha256)."""
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _error(path: Path, message: str) -> ScenarioError:
    return ScenarioError.single("--out", message, str(path))


class ChunkStore:
    """The chunks folder of a results directory."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.directory = directory
        self.chunks = directory / "chunks"
        self.manifest = manifest

    @classmethod
    def open(
        cls, directory: Path, manifest: dict[str, Any], resume: bool, force: bool = False
    ) -> ChunkStore:
        """Start (or, with ``resume``, continue) a run writing into ``directory``."""
        path = directory / MANIFEST
        if directory.exists() and not directory.is_dir():
            raise _error(directory, "exists and is not a folder")
        if path.exists():
            try:
                existing = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise _error(path, f"cannot read the manifest: {exc}") from None
            if not isinstance(existing, dict):
                raise _error(path, "is not a finsim manifest (expected a JSON object)")
            if not resume:
                if not force:
                    raise _error(
                        directory,
                        "already holds a finsim run: use --resume to finish it, or --force to start again",
                    )
                shutil.rmtree(directory / "chunks", ignore_errors=True)
            else:
                keys = (
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
                different = [k for k in keys if existing.get(k) != manifest.get(k)]
                if different:
                    raise _error(
                        path,
                        "the run in this folder differs from the one asked for in "
                        + ", ".join(
                            f"{k} ({existing.get(k)!r} there, {manifest.get(k)!r} now)"
                            for k in different
                        ),
                    )
        elif resume:
            raise _error(directory, "has no run to resume (no manifest.json)")
        elif directory.exists() and any(directory.iterdir()) and not force:
            raise _error(
                directory,
                "is not empty and is not a finsim results folder: choose another, or use --force",
            )
        store = cls(directory, manifest)
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
        (anything else, such as a temporary folder left by a crash, is not a chunk)."""
        if not self.chunks.is_dir():
            return set()
        return {
            p.name
            for p in self.chunks.iterdir()
            if CHUNK_NAME.match(p.name) and p.is_dir() and not p.is_symlink()
        }

    def write(self, chunk: ChunkOutput) -> None:
        """Write a chunk atomically (temporary folder, then rename)."""
        tmp: Path | None = None
        try:
            tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.chunks))
            np.save(tmp / "replications.npy", chunk.replications)
            np.save(tmp / "flow_amounts.npy", chunk.flow_amounts)
            chunk.flow_keys.to_parquet(tmp / "flow_keys.parquet", index=False)
            if len(chunk.events):
                chunk.events.to_parquet(tmp / "events.parquet", index=False)
            if chunk.journal is not None and len(chunk.journal):
                chunk.journal.to_parquet(tmp / "journal.parquet", index=False)
            if chunk.monthly is not None:
                np.save(tmp / "monthly.npy", chunk.monthly)
            for name, value in chunk.extras.items():
                np.save(tmp / f"extra.{name}.npy", value)
            for name, frame in chunk.tables.items():
                frame.to_parquet(tmp / f"table.{name}.parquet", index=False)
            for name, value in chunk.totals.items():
                np.save(tmp / f"total.{name}.npy", value)
            (tmp / "flows_kept").write_text("1" if chunk.flows_kept else "0")
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

    def read_all(self) -> list[ChunkOutput]:
        """Every written chunk, in replication order."""
        return list(self.read_each())

    def read_each(self) -> Iterator[ChunkOutput]:
        """Every written chunk of this run, one at a time, in replication order (a chunk folder
        that does not fit the manifest's chunking is not read: it cannot double a replication)."""
        total, size = self.manifest.get("replications"), self.manifest.get("chunk_size")
        for name in sorted(self.done()):
            first, last = (int(part) for part in name.split("-"))
            if isinstance(total, int) and isinstance(size, int) and size > 0:
                if first % size or first >= total or last != min(first + size, total) - 1:
                    continue
            yield read_chunk(self.chunks / name)


def read_chunk(folder: Path) -> ChunkOutput:
    """Load a chunk written by :meth:`ChunkStore.write` (arrays loaded without pickle).

    Raises :class:`ResultsError` for a chunk that is damaged or not what its name says.
    """
    try:
        chunk = _read_chunk(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:  # (pyarrow's errors among them)
        raise ResultsError(
            f"{folder}: this chunk of results cannot be read ({type(exc).__name__}: {exc}); "
            "delete the folder and finish the run with --resume to run it again"
        ) from None
    first, last = (int(part) for part in folder.name.split("-"))
    if not np.array_equal(chunk.replications, np.arange(first, last + 1)):
        raise ResultsError(
            f"{folder}: this chunk holds replications other than its name says; delete the "
            "folder and finish the run with --resume to run it again"
        )
    return chunk


def _read_chunk(folder: Path) -> ChunkOutput:

    def load(name: str) -> np.ndarray:
        return np.load(folder / name, allow_pickle=False)

    events = (
        pd.read_parquet(folder / "events.parquet")
        if (folder / "events.parquet").exists()
        else pd.DataFrame()
    )
    journal = (
        pd.read_parquet(folder / "journal.parquet")
        if (folder / "journal.parquet").exists()
        else None
    )
    extras = {
        p.name[len("extra.") : -len(".npy")]: np.load(p, allow_pickle=False)
        for p in folder.glob("extra.*.npy")
    }
    tables = {
        p.name[len("table.") : -len(".parquet")]: pd.read_parquet(p)
        for p in folder.glob("table.*.parquet")
    }
    return ChunkOutput(
        replications=load("replications.npy"),
        flow_keys=pd.read_parquet(folder / "flow_keys.parquet"),
        flow_amounts=load("flow_amounts.npy"),
        events=events,
        journal=journal,
        extras=extras,
        tables=tables,
        monthly=load("monthly.npy") if (folder / "monthly.npy").exists() else None,
        totals={
            p.name[len("total.") : -len(".npy")]: np.load(p, allow_pickle=False)
            for p in folder.glob("total.*.npy")
        },
        flows_kept=(folder / "flows_kept").read_text().strip() == "1",
    )


def _why(exc: OSError) -> str:
    reason = exc.strerror or str(exc)
    return f"{reason} ({exc.filename})" if exc.filename else reason


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically."""
    from finsim.results import atomic_write

    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str)))
