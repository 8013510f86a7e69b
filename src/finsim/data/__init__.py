"""NHS England's GP-practice weighted populations: packaged, read, aggregated, indexed.

NHS England allocates each commissioning stream by target share: a body's
need-weighted population divided by the national weighted population. The
weighted populations are published per GP practice (with the practice's
sub-ICB location, ICB, region and local authority district), and the ICB
place-based allocation tool turns them into need indices for places inside an
ICB.

- :func:`weighted_populations` returns an edition packaged with finsim
  (``"2024/25"`` or ``"2025/26"``); :func:`read_weighted_populations` reads a
  file you downloaded (any later edition using the same column names). Both
  give one tidy frame, one row per practice (columns in :mod:`finsim.data.read`).
- :func:`aggregate` sums practices to sub-ICB locations, ICBs or regions;
  :func:`need_index` gives the place-based need indices of NHS England's tool;
  :func:`round_half_up` rounds as that tool (and Excel) does;
  :func:`scenario_organisations` builds a scenario's ``organisations``.

Contains public sector information licensed under the Open Government Licence
v3.0 (NHS England). The packaged files, their sources and checksums are
described in ``finsim/data/nhse/README.md``.
"""

from finsim.data.england import (
    LEVELS,
    DataWarning,
    Level,
    aggregate,
    need_index,
    scenario_organisations,
    split_bodies,
)
from finsim.data.packaged import ATTRIBUTION, EDITIONS, Edition, weighted_populations
from finsim.data.read import COMPONENTS, read_weighted_populations
from finsim.data.rounding import round_half_up

__all__ = [
    "ATTRIBUTION",
    "COMPONENTS",
    "EDITIONS",
    "LEVELS",
    "DataWarning",
    "Edition",
    "Level",
    "aggregate",
    "need_index",
    "read_weighted_populations",
    "round_half_up",
    "scenario_organisations",
    "split_bodies",
    "weighted_populations",
]
