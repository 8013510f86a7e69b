"""The shapes mechanisms rely on, as typing Protocols (OpenFisca's pattern).

A mechanism module imports these for its type hints instead of the classes that implement
them (``finsim.scenario.references.References``, ``finsim.scenario.loader.Scenario``,
``finsim.system.System``), so mechanisms never import the scenario layer's validation code
and the scenario layer never imports a mechanism: no import cycle. This module imports
nothing of finsim, so it is safe to import at run time or under ``TYPE_CHECKING``.

.. code-block:: python

    from finsim.types import ReferencesLike

    class Levy(Mechanism):
        @classmethod
        def check(cls, config: LevyConfig, refs: ReferencesLike) -> None:
            refs.org(("levy", "payer"), config.payer, ("provider",))
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

#: A path into a scenario document: keys and list positions.
PathKey = tuple[str | int, ...]


@runtime_checkable
class SystemLike(Protocol):
    """What a mechanism may read of the :class:`finsim.system.System` it runs in."""

    @property
    def mechanisms(self) -> dict[str, type]:
        """The mechanism classes by section, in the order they act."""
        ...

    @property
    def schemes(self) -> dict[str, type]:
        """The incentive schemes by name."""
        ...


@runtime_checkable
class ReferencesLike(Protocol):
    """What a mechanism's ``check`` receives: the validated scenario and a place to record
    problems (implemented by ``finsim.scenario.references.References``)."""

    model: Any  # the validated pydantic model of the whole scenario
    start_year: int  # calendar year in which the first simulated financial year starts
    n_years: int  # number of simulated years
    org_type: dict[str, str]  # organisation id -> kind ("provider", "system", ...)
    region_of_system: dict[str, str]

    @property
    def system(self) -> SystemLike:
        """The System the scenario is read with (its mechanisms, its incentive schemes)."""
        ...

    def add(self, path: PathKey, message: str, suggestion: str | None = None) -> None:
        """Record a problem at ``path``."""
        ...

    def ids(self, *kinds: str) -> list[str]:
        """The ids of organisations of the given kinds (all kinds if none given)."""
        ...

    def org(self, path: PathKey, org_id: str, kinds: tuple[str, ...]) -> bool:
        """Check that ``org_id`` names an organisation of one of ``kinds``; record a problem
        if not."""
        ...


@runtime_checkable
class ScenarioLike(Protocol):
    """What a mechanism may read of a scenario (``prepare`` receives one; ``ctx.scenario``)."""

    model: Any
    variant: str

    @property
    def system(self) -> SystemLike: ...

    @property
    def name(self) -> str: ...

    @property
    def source(self) -> str: ...

    @property
    def calendar(self) -> Any: ...

    def to_data(self) -> dict[str, Any]:
        """The merged document (with the variant applied), as plain data."""
        ...

    def with_variant(self, name: str) -> ScenarioLike: ...


@runtime_checkable
class SchemeClass(Protocol):
    """An incentive scheme class: a ``name`` and a constructor ``(config, ctx)``."""

    name: str

    def __call__(self, config: Any, ctx: Any) -> Any: ...


#: Mapping of section to mechanism class, as ``System.mechanisms`` returns.
Mechanisms = Mapping[str, type]

__all__ = ["Mechanisms", "PathKey", "ReferencesLike", "ScenarioLike", "SchemeClass", "SystemLike"]
