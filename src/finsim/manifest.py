"""A results folder's manifest (``manifest.json``: which run the folder holds) and the small
pieces every part of the folder shares: names, the run's identity, JSON read and written
safely."""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from pathlib import Path
from typing import Any, NamedTuple

from pydantic import BaseModel, ConfigDict

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


class RunManifest(BaseModel):
    """What ``manifest.json`` records of a run: enough to resume it, read it again and tell
    its chunks from another run's (the fields of :data:`RUN_KEYS`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: int = FORMAT
    scenario: str
    source: str
    scenario_hash: str
    variant: str
    seed: int
    replications: int
    chunk_size: int
    antithetic: bool
    keep_monthly: bool
    keep_tables: bool
    keep_flows: bool
    keep_positions: bool
    finsim_version: str

    def to_json(self) -> dict[str, Any]:
        """The manifest as the JSON object written to ``manifest.json``."""
        return self.model_dump()


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


def _bad(folder: Path, what: str) -> ResultsError:
    return ResultsError(
        f"{folder}: this chunk of results cannot be read: {what}; delete the folder and finish "
        "the run with --resume to run it again"
    )


def _shown(value: Any, most: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def _why(exc: OSError) -> str:
    from finsim.scenario.yamlio import shown_path

    reason = exc.strerror or str(exc)
    return f"{reason} ({shown_path(exc.filename)})" if exc.filename else reason


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically."""
    from finsim.results_io import atomic_write

    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=2, default=str)))
