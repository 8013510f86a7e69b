"""The static shape of the modelled world as arrays and index maps.

Every organisation is an *account* in the ledger, numbered in a fixed order:
the external accounts ``treasury`` (0) and ``external`` (1), then the centre,
regions, systems, commissioners and providers in file order. Membership
(organisation -> system -> region) is held as index arrays, and aggregation up
the hierarchy is a sparse incidence-matrix product, never a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from finsim.calendar import Calendar

if TYPE_CHECKING:
    from finsim.scenario.loader import Scenario

ORG_TYPES = ("external", "centre", "region", "system", "commissioner", "provider")
TREASURY, EXTERNAL = 0, 1


@dataclass(frozen=True)
class Economy:
    """Organisations as accounts: ids, types, membership, and the simulated calendar."""

    calendar: Calendar
    ids: tuple[str, ...]
    names: tuple[str, ...]
    org_type: np.ndarray  # (A,) index into ORG_TYPES
    system: np.ndarray  # (A,) account index of the org's system, -1 if none
    region: np.ndarray  # (A,) account index of the org's region, -1 if none
    deprivation_quintile: np.ndarray  # (A,) 1-5, 0 where not given
    teaching: np.ndarray  # (A,) bool

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Economy:
        orgs = scenario.model.organisations  # type: ignore[attr-defined]
        rows: list[tuple[str, str | None, str, str | None, str | None, int, bool]] = [
            ("treasury", "HM Treasury", "external", None, None, 0, False),
            ("external", "Staff, suppliers and other bodies", "external", None, None, 0, False),
            (orgs.centre.id, orgs.centre.name, "centre", None, None, 0, False),
        ]
        rows += [(r.id, r.name, "region", None, None, 0, False) for r in orgs.regions]
        rows += [(s.id, s.name, "system", None, s.region, 0, False) for s in orgs.systems]
        rows += [
            (c.id, c.name, "commissioner", c.system, None, c.deprivation_quintile or 0, False)
            for c in orgs.commissioners
        ]
        rows += [
            (p.id, p.name, "provider", p.system, None, p.deprivation_quintile or 0, p.teaching)
            for p in orgs.providers
        ]
        ids = tuple(r[0] for r in rows)
        index = {org_id: i for i, org_id in enumerate(ids)}
        system = np.array([index[r[3]] if r[3] else -1 for r in rows], dtype=np.int64)
        region_of = {s.id: s.region for s in orgs.systems}
        region = np.array(
            [index[r[4]] if r[4] else (index[region_of[r[3]]] if r[3] else -1) for r in rows],
            dtype=np.int64,
        )
        return cls(
            calendar=scenario.calendar,
            ids=ids,
            names=tuple(r[1] or r[0] for r in rows),
            org_type=np.array([ORG_TYPES.index(r[2]) for r in rows], dtype=np.int64),
            system=system,
            region=region,
            deprivation_quintile=np.array([r[5] for r in rows], dtype=np.int64),
            teaching=np.array([r[6] for r in rows], dtype=bool),
        )

    @property
    def n_accounts(self) -> int:
        return len(self.ids)

    def index(self, org_id: str) -> int:
        """The account index of an organisation id."""
        return self.ids.index(org_id)

    def indices(self, org_ids: list[str] | tuple[str, ...]) -> np.ndarray:
        """Account indices of several ids, as an int array."""
        lookup = {org_id: i for i, org_id in enumerate(self.ids)}
        return np.array([lookup[o] for o in org_ids], dtype=np.int64)

    def of_type(self, kind: str) -> np.ndarray:
        """Account indices of every organisation of a type, in file order."""
        return np.flatnonzero(self.org_type == ORG_TYPES.index(kind))

    def membership(self, level: str) -> sp.csr_matrix:
        """Incidence matrix (A x G) mapping each account to its system or region (G = all accounts).

        Aggregating an (R, A) array to systems is ``values @ economy.membership("system")``.
        An account that *is* a system or region counts towards itself.
        """
        parent = self.system if level == "system" else self.region
        own = self.org_type == ORG_TYPES.index(level)
        target = np.where(own, np.arange(self.n_accounts), parent)
        rows = np.flatnonzero(target >= 0)
        data = np.ones(len(rows))
        return sp.csr_matrix((data, (rows, target[rows])), shape=(self.n_accounts, self.n_accounts))

    def org_table(self) -> pd.DataFrame:
        """One row per account: id, name, type, system, region, deprivation quintile, teaching."""
        ids = np.array(self.ids, dtype=object)
        return pd.DataFrame(
            {
                "org": ids,
                "name": np.array(self.names, dtype=object),
                "org_type": np.array(ORG_TYPES, dtype=object)[self.org_type],
                "system": np.where(self.system >= 0, ids[self.system], None),
                "region": np.where(self.region >= 0, ids[self.region], None),
                "deprivation_quintile": self.deprivation_quintile,
                "teaching": self.teaching,
            }
        )
