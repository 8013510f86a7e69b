"""What the deprecated process-wide registration (:mod:`finsim.registry`) added, read by
``System.default()``. A leaf module: it imports nothing of finsim."""

from __future__ import annotations

from typing import Any

#: Mechanism classes added by ``finsim.register_mechanism``, by section, in the order added.
MECHANISMS: dict[str, Any] = {}
#: Incentive schemes added by ``finsim.registry.register_scheme``, by name.
SCHEMES: dict[str, Any] = {}
