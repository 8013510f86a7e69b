"""The editions of NHS England's weighted populations that ship inside finsim.

NHS England publishes its GP-practice weighted populations under the Open
Government Licence v3.0, which allows redistribution with attribution. finsim
carries two editions, gzip-compressed and byte-for-byte as published (the
uncompressed files' SHA-256 are in ``nhse/README.md`` beside them), so that a
bare clone and an installed wheel need no other folder. For a newer edition,
download it and read it with :func:`~finsim.data.read_weighted_populations`.

Contains public sector information licensed under the Open Government Licence
v3.0 (NHS England).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pandas as pd

from finsim.data.read import read_weighted_populations
from finsim.errors import did_you_mean

#: This module's package (by name, not imported: it imports this module).
_PACKAGE = __name__.rpartition(".")[0]

#: The attribution the Open Government Licence v3.0 asks for.
ATTRIBUTION = (
    "Contains public sector information licensed under the Open Government Licence v3.0 "
    "(NHS England)."
)


@dataclass(frozen=True)
class Edition:
    """One packaged edition: what it is and where NHS England published it."""

    label: str  #: the allocation year, e.g. "2024/25"
    file: str  #: the file's name inside ``finsim/data/nhse/``
    practices: int  #: rows (GP practices) in the file
    population_year: str  #: the year of the registered populations
    source: str  #: publisher, tool and file

    @property
    def path(self) -> Path:
        """The packaged file's path on disk (inside the installed package)."""
        return Path(str(resources.files(_PACKAGE).joinpath("nhse", self.file)))


#: The packaged editions, by allocation year.
EDITIONS: dict[str, Edition] = {
    "2024/25": Edition(
        "2024/25",
        "gp_practice_weighted_populations_2024_25.csv.gz",
        6553,
        "2022/23",
        "NHS England, AIF allocation tool (github.com/nhsx/AIF_Allocation_Tool, "
        "data/2024_2025.csv): GP-practice weighted populations for 2024/25",
    ),
    "2025/26": Edition(
        "2025/26",
        "gp_practice_weighted_populations_2025_26.csv.gz",
        6348,
        "2025/26",
        "NHS England, ICB place-based allocation tool "
        "(github.com/nhsengland/ICB_Allocation_Tool_update, data/2025_2026.csv): "
        "GP-practice weighted populations for 2025/26",
    ),
}


def weighted_populations(edition: str = "2024/25") -> pd.DataFrame:
    """NHS England's GP-practice weighted populations for ``edition``, as packaged with finsim.

    The same tidy frame as :func:`~finsim.data.read_weighted_populations`
    gives for the published CSV (one row per practice, standard columns; its
    ``attrs["source"]`` names the packaged file). Editions: ``"2024/25"``
    (6,553 practices, with sub-ICB locations) and ``"2025/26"`` (6,348
    practices, no sub-ICB column). Each call returns a fresh copy.

    >>> frame = weighted_populations("2024/25")
    >>> len(frame), frame["icb"].nunique(), frame["region"].nunique()
    (6553, 42, 7)
    """
    return _read(_edition(edition).label).copy(deep=True)


def _edition(label: str) -> Edition:
    try:
        return EDITIONS[label]
    except (KeyError, TypeError):
        guess = did_you_mean(str(label), list(EDITIONS))
        hint = f" (did you mean '{guess}'?)" if guess else ""
        raise ValueError(
            f"no packaged edition {label!r}{hint}: expected one of {', '.join(EDITIONS)}; "
            "for another year, read your own download with read_weighted_populations(path)"
        ) from None


@functools.lru_cache(maxsize=len(EDITIONS))
def _read(label: str) -> pd.DataFrame:
    edition = EDITIONS[label]
    with resources.as_file(resources.files(_PACKAGE).joinpath("nhse", edition.file)) as path:
        frame = read_weighted_populations(path)
    frame.attrs["edition"] = label
    return frame
