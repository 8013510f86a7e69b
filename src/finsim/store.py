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

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsim.chunks import read_chunk
from finsim.engine import ChunkOutput
from finsim.errors import ResultsError
from finsim.manifest import (  # noqa: F401  (re-exported)
    CHUNK_FILE,
    CHUNK_NAME,
    EVENT_COLUMNS,
    FLOW_KEY_COLUMNS,
    FORMAT,
    MANIFEST,
    MAX_JSON_BYTES,
    RUN_KEYS,
    ChunkLayout,
    RunManifest,
    _bad,
    _error,
    _shown,
    _span,
    _why,
    identity,
    read_json,
    read_manifest,
    scenario_hash,
    write_json,
)


class ChunkStore:
    """The chunks folder of a results directory.

    ``layout`` (the run's years, months and accounts), when given, is checked against every
    array a chunk holds as it is read.
    """

    def __init__(
        self,
        directory: Path,
        manifest: RunManifest | dict[str, Any],
        layout: ChunkLayout | None = None,
    ) -> None:
        self.directory = directory
        self.chunks = directory / "chunks"
        #: the manifest as JSON (read back from a folder, it may be any JSON object)
        self.manifest = manifest.to_json() if isinstance(manifest, RunManifest) else manifest
        self.layout = layout

    @classmethod
    def open(
        cls,
        directory: Path,
        manifest: RunManifest | dict[str, Any],
        resume: bool,
        force: bool = False,
        layout: ChunkLayout | None = None,
    ) -> ChunkStore:
        """Start (or, with ``resume``, continue) a run writing into ``directory``."""
        if isinstance(manifest, RunManifest):
            manifest = manifest.to_json()
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
            if chunk.monthly_cash is not None:
                array("monthly_cash.npy", chunk.monthly_cash)
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
