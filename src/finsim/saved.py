"""Runs saved with ``finsim run FILE --out DIR``: :func:`load_results` rebuilds their
results from the chunks without recomputing any, and :func:`load_run` finds (or runs)
what a saved folder needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from finsim.errors import ResultsError
from finsim.results import Results

if TYPE_CHECKING:
    from finsim.scenario.loader import Scenario


def load_results(directory: str | Path, scenario: Scenario | None = None) -> Results:
    """The Results of a run saved with ``finsim run FILE --out DIR``, rebuilt from its chunks.

    The scenario is read again from the file the manifest names (or pass ``scenario``) and
    must be unchanged since the run; no chunk is recomputed, and an unfinished run is
    refused with the command that finishes it.
    """
    return load_run(directory, scenario)[1]


#: The most replications a saved run can hold: chunk folders are named by their first and
#: last replication in nine digits (``finsim.store.CHUNK_NAME``).
MAX_SAVED_REPLICATIONS = 10**9


def _checked_manifest(path: Path, manifest: Any) -> tuple[str, int, int, int]:
    """The source, replications, seed and chunk size a saved run's manifest records, each
    checked: a manifest edited by hand (or tampered with) gets an error naming the field,
    never a run of 10^11 replications or a list of that many chunks."""
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: not a finsim manifest (expected a JSON object)")

    def bad(key: str, expected: str) -> ResultsError:
        shown = repr(manifest[key]) if key in manifest else "nothing"
        if len(shown) > 40:
            shown = shown[:37] + "..."
        return ResultsError(
            f"{path}: cannot read the manifest: field '{key}': expected {expected}, got {shown}"
        )

    def whole(key: str, low: int, high: int | None = None) -> int:
        value = manifest.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            if value >= low and (high is None or value <= high):
                return value
        span = f"from {low} to {high:,}" if high is not None else f">= {low}"
        raise bad(key, f"a whole number {span}")

    if not isinstance(manifest.get("source"), str):
        raise bad("source", "the path of the scenario file (text)")
    replications = whole("replications", 1, MAX_SAVED_REPLICATIONS)
    seed = whole("seed", 0)
    chunk = whole("chunk_size", 1, MAX_SAVED_REPLICATIONS)
    if manifest.get("variant") is not None and not isinstance(manifest["variant"], str):
        raise bad("variant", "a variant's name (text)")
    for key in ("antithetic", "keep_monthly", "keep_tables", "keep_flows", "keep_positions"):
        if key in manifest and not isinstance(manifest[key], bool):
            raise bad(key, "true or false")
    return manifest["source"], replications, seed, chunk


def _fits(name: str, replications: int, chunk: int) -> bool:
    """Whether a chunk folder's name is one of the chunks of ``replications`` cut by ``chunk``."""
    first, last = (int(part) for part in name.split("-"))
    return (
        first % chunk == 0 and first < replications and last == min(first + chunk, replications) - 1
    )


def load_run(directory: str | Path, scenario: Scenario | None = None) -> tuple[Scenario, Results]:
    """The scenario (with the run's variant) and the Results of a saved run: see
    :func:`load_results`."""
    from finsim.runner import run
    from finsim.scenario import load_scenario
    from finsim.store import MANIFEST, ChunkStore, read_manifest

    folder = Path(directory)
    try:
        is_folder = folder.is_dir()
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{folder}: cannot read the results folder ({exc})") from None
    if not is_folder:
        raise ResultsError(f"{folder}: no such results folder")
    path = folder / MANIFEST
    if not path.exists():
        raise ResultsError(
            f"{folder}: not a finsim results folder (no {MANIFEST}); "
            f"write one with: finsim run FILE --out {folder}"
        )
    manifest = read_manifest(path)
    source, replications, seed, chunk = _checked_manifest(path, manifest)
    if scenario is None:
        if not Path(source).is_file():
            raise ResultsError(
                f"{path}: the scenario file it was run from, '{source}', is not found from "
                "here: run from the folder the run started in, or name the file with --scenario"
            )
        scenario = load_scenario(source)
    scenario = scenario.with_variant(str(manifest.get("variant") or scenario.variant))
    # counted, not listed: the chunks the manifest asks for are only listed (by ``run``
    # below) once every one of them is there as a folder
    n_chunks = -(-replications // chunk)
    done = ChunkStore(folder, manifest).done()
    finished = sum(_fits(name, replications, chunk) for name in done)
    if finished < n_chunks:
        raise ResultsError(
            f"{folder}: the run is unfinished ({finished:,} of {n_chunks:,} chunks); "
            f"finish it with: finsim run {source} --replications {replications} --seed {seed}"
            + (f" --variant {scenario.variant}" if manifest.get("variant") != "baseline" else "")
            + f" --chunk-size {chunk} --out {folder} --resume"
        )
    keep = {
        key: manifest[key]
        for key in ("keep_monthly", "keep_tables", "keep_flows", "keep_positions")
        if key in manifest
    }
    results = run(
        scenario,
        replications=replications,
        seed=seed,
        chunk_size=chunk,
        antithetic=bool(manifest.get("antithetic", False)),
        out=folder,
        resume=True,
        progress=False,
        **keep,
    )
    if "keep_tables" in manifest:  # what the run was asked to keep, not inferred from chunks
        results.tables_kept = bool(manifest["keep_tables"])
    return scenario, results
