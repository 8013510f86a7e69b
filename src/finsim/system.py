"""A System: the mechanisms and incentive schemes a scenario is read and run with.

A :class:`System` is a value, like PolicyEngine's tax-benefit system or the plug-ins handed to
a Ciw simulation: it holds the mechanism classes by the section of the scenario file each owns,
and the incentive schemes by name. Nothing is registered into a process-wide table: two
Systems with different plug-ins live side by side in one process, each with its own schema.

.. code-block:: python

    import finsim
    from finsim.system import System

    system = System.default().with_mechanism(Levy)       # a new System; the default is unchanged
    sc = finsim.load_scenario("my.yaml", system=system)  # the file may hold a 'levy:' section
    res = finsim.run(sc, replications=100)               # the scenario carries its System

``System.default()`` is the built-in mechanisms (listed below, imported explicitly) and every
plug-in that an installed package declares in the entry-point group ``finsim.plugins``::

    [project.entry-points."finsim.plugins"]
    levy = "my_package.levy:Levy"            # a Mechanism class, an IncentiveScheme class,
    # or "my_package:register", a callable taking a System and returning the System to use

A Scenario keeps its System and pickles it; classes pickle by reference, so a plug-in defined
in an importable module works on Dask or process workers without being imported by hand.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from finsim.mechanisms.activity import Activity
from finsim.mechanisms.allocations import Allocations
from finsim.mechanisms.capital import Capital
from finsim.mechanisms.commissioner_funds import (
    CommissionerReserves,
    CommissionerSustainabilityFund,
)
from finsim.mechanisms.contracts import Contracts
from finsim.mechanisms.control_totals import ControlTotals
from finsim.mechanisms.costs import Costs
from finsim.mechanisms.covid import Covid
from finsim.mechanisms.cquin import Cquin
from finsim.mechanisms.deficit_support import DeficitSupport
from finsim.mechanisms.disputes import Disputes
from finsim.mechanisms.erf import Erf
from finsim.mechanisms.incentives import Incentives, IncentiveScheme
from finsim.mechanisms.interventions import Interventions
from finsim.mechanisms.mhis import Mhis
from finsim.mechanisms.pdc import Pdc
from finsim.mechanisms.recovery_fund import RecoveryFund
from finsim.mechanisms.risk_share import RiskShare
from finsim.mechanisms.savings import Savings
from finsim.mechanisms.tariff import Tariff
from finsim.mechanisms.transfers import Transfers
from finsim.positions import columns as position_columns

if TYPE_CHECKING:
    from pydantic import BaseModel

    from finsim.mechanisms.base import Mechanism

#: The built-in mechanisms, in the order they were always registered (ties of ``order``).
BUILTIN_MECHANISMS: tuple[type[Mechanism], ...] = (
    Activity,
    Allocations,
    Capital,
    CommissionerReserves,
    CommissionerSustainabilityFund,
    Contracts,
    ControlTotals,
    Costs,
    Covid,
    Cquin,
    DeficitSupport,
    Disputes,
    Erf,
    Incentives,
    Interventions,
    Mhis,
    Pdc,
    RecoveryFund,
    RiskShare,
    Savings,
    Tariff,
    Transfers,
)

#: The entry-point group third-party packages declare their plug-ins in.
ENTRY_POINT_GROUP = "finsim.plugins"

RESERVED_SECTIONS = frozenset({"extends", "scenario", "organisations", "variants"})


def builtin_schemes() -> dict[str, type]:
    """The built-in incentive schemes by name."""
    from finsim.mechanisms import incentives

    found = getattr(incentives, "BUILTIN_SCHEMES", None)
    return dict(found) if found else {IncentiveScheme.name: IncentiveScheme}


class System:
    """The mechanism classes (by section) and incentive schemes (by name) of a scenario.

    Immutable: :meth:`with_mechanism` and :meth:`with_scheme` return a new System. The
    pydantic model of a scenario file (:meth:`schema`) is built once per System.
    """

    __slots__ = ("_mechanisms", "_schemes", "_schema", "_ordered")

    _mechanisms: dict[str, type[Mechanism]]
    _schemes: dict[str, type]
    _schema: type[BaseModel] | None
    _ordered: dict[str, type[Mechanism]] | None

    def __init__(
        self,
        mechanisms: Iterable[type[Mechanism]] = (),
        schemes: Mapping[str, type] | None = None,
    ) -> None:
        table: dict[str, type[Mechanism]] = {}
        for cls in mechanisms:
            table[_section_of(cls)] = cls
        position_columns(table.values())  # each column declared once, categories' roles known
        object.__setattr__(self, "_mechanisms", table)
        object.__setattr__(self, "_schemes", dict(schemes or {}))
        object.__setattr__(self, "_schema", None)
        object.__setattr__(self, "_ordered", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a System cannot be changed; use with_mechanism (setting {name!r})")

    # -- building ----------------------------------------------------------------------------
    @classmethod
    def builtin(cls) -> System:
        """The built-in mechanisms and schemes only (no entry points, nothing registered)."""
        return _interned(BUILTIN_MECHANISMS, tuple(builtin_schemes().items()))

    @classmethod
    def default(cls) -> System:
        """The built-ins and every plug-in of the ``finsim.plugins`` entry points."""
        return _with_entry_points(cls.builtin())

    def with_mechanism(self, cls: type[Mechanism]) -> System:
        """A new System with ``cls`` owning its ``section`` (replacing a class that owned it)."""
        return System([*self._mechanisms.values(), cls], self._schemes)

    def without_mechanism(self, section: str) -> System:
        """A new System without the mechanism owning ``section``."""
        return System([c for s, c in self._mechanisms.items() if s != section], self._schemes)

    def with_scheme(self, cls: type) -> System:
        """A new System with the incentive scheme ``cls`` under its ``name``."""
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__name__}.name must be a scheme name, got {name!r}")
        return System(self._mechanisms.values(), {**self._schemes, name: cls})

    # add_* are the names of the sketch
    add_mechanism = with_mechanism
    add_scheme = with_scheme

    # -- reading ------------------------------------------------------------------------------
    @property
    def mechanisms(self) -> dict[str, type[Mechanism]]:
        """The mechanism classes by section, in the order they act within a phase: each
        class's ``order`` (built-ins 10-80, others 100 by default), then the order added."""
        if self._ordered is None:
            ranked = sorted(
                enumerate(self._mechanisms.items()), key=lambda item: (item[1][1].order, item[0])
            )
            object.__setattr__(self, "_ordered", {s: c for _, (s, c) in ranked})
        assert self._ordered is not None
        return dict(self._ordered)

    @property
    def schemes(self) -> dict[str, type]:
        """The incentive schemes by name."""
        return dict(self._schemes)

    def schema(self) -> type[BaseModel]:
        """The pydantic model of a whole scenario file, a section per mechanism (cached)."""
        if self._schema is None:
            from finsim.scenario.schema import build_scenario_model

            object.__setattr__(self, "_schema", build_scenario_model(self.mechanisms))
        assert self._schema is not None
        return self._schema

    # -- identity and pickling -----------------------------------------------------------------
    def _key(self) -> tuple[Any, ...]:
        return (tuple(self._mechanisms.items()), tuple(sorted(self._schemes.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, System) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[Any, ...]:
        # classes pickle by reference (module and name): a worker imports their modules itself
        return (_interned, (tuple(self._mechanisms.values()), tuple(self._schemes.items())))

    def __repr__(self) -> str:
        builtin = set(BUILTIN_MECHANISMS)
        extra = [c.__qualname__ for c in self._mechanisms.values() if c not in builtin]
        missing = [
            c.__qualname__ for c in BUILTIN_MECHANISMS if c not in set(self._mechanisms.values())
        ]
        parts = [f"{len(self._mechanisms)} mechanisms"]
        if extra:
            parts.append("plus " + ", ".join(extra))
        if missing:
            parts.append("without " + ", ".join(missing))
        parts.append("schemes " + ", ".join(self._schemes))
        return f"System({'; '.join(parts)})"


def _section_of(cls: type) -> str:
    section = getattr(cls, "section", None)
    if not isinstance(section, str) or not section.isidentifier():
        raise TypeError(f"{cls.__name__}.section must be an identifier, got {section!r}")
    if section in RESERVED_SECTIONS:
        raise TypeError(f"{cls.__name__}.section {section!r} is reserved for the scenario itself")
    return section


# Equal Systems share one instance (and so one schema): unpickling a scenario in a worker,
# or calling System.default() twice, does not build the pydantic model again. Systems are
# immutable, so sharing them changes nothing else.
_INTERNED: dict[tuple[Any, ...], System] = {}


def _interned(mechanisms: tuple[type, ...], schemes: tuple[tuple[str, type], ...]) -> System:
    system = System(mechanisms, dict(schemes))
    key = system._key()
    if key not in _INTERNED:
        if len(_INTERNED) > 64:
            _INTERNED.clear()
        _INTERNED[key] = system
    return _INTERNED[key]


@functools.cache
def entry_point_plugins() -> tuple[Any, ...]:
    """The plug-ins installed packages declare in the ``finsim.plugins`` entry points, loaded
    once per process (``entry_point_plugins.cache_clear()`` to look again)."""
    plugins = []
    for point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: p.name):
        try:
            plugins.append(point.load())
        except Exception as exc:  # a broken plug-in must not stop finsim from reading files
            warnings.warn(
                f"finsim plug-in {point.name!r} ({point.value}) could not be loaded: {exc}",
                UserWarning,
                stacklevel=2,
            )
    return tuple(plugins)


def _with_entry_points(system: System) -> System:
    """``system`` with every plug-in declared in the ``finsim.plugins`` entry points."""
    for plugin in entry_point_plugins():
        system = apply_plugin(system, plugin)
    return system


def apply_plugin(system: System, plugin: type | Callable[[System], System]) -> System:
    """``system`` with one plug-in: a Mechanism class, an IncentiveScheme class, or a
    callable ``register(system) -> System``."""
    if isinstance(plugin, type) and isinstance(getattr(plugin, "section", None), str):
        return system.with_mechanism(plugin)
    if isinstance(plugin, type) and isinstance(getattr(plugin, "name", None), str):
        return system.with_scheme(plugin)
    if callable(plugin):
        out = plugin(system)
        if not isinstance(out, System):
            raise TypeError(f"{plugin!r} should return a System, got {type(out).__name__}")
        return out
    raise TypeError(f"a finsim plug-in is a Mechanism class or register(system), got {plugin!r}")
