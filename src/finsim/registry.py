"""Deprecated: process-wide registration of mechanisms and incentive schemes.

Use a :class:`finsim.system.System` instead: ``System.default().with_mechanism(Levy)`` is a
new System holding your mechanism, passed to ``finsim.load_scenario(..., system=)``; an
installed package declares its plug-ins in the ``finsim.plugins`` entry points.

:func:`register_mechanism` still works: it adds the class to what ``System.default()``
returns in this process (undo with :func:`unregister_mechanism`). It is kept for old code;
a process pool or Dask worker started before the call does not see it, a System does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from finsim import _registered

if TYPE_CHECKING:
    from finsim.mechanisms.base import Mechanism

M = TypeVar("M", bound="type[Mechanism]")
S = TypeVar("S", bound=type)

_MECHANISMS: dict[str, type[Mechanism]] = _registered.MECHANISMS
_SCHEMES: dict[str, type] = _registered.SCHEMES
_RESERVED_SECTIONS = {"extends", "scenario", "organisations", "variants"}


def register_mechanism(cls: M) -> M:
    """Add a mechanism class to ``System.default()`` in this process (usable as a decorator).

    Deprecated: prefer ``System.default().with_mechanism(cls)``. The class's ``section``
    names the key of the scenario file it owns; registering a class for a built-in's section
    replaces the built-in.
    """
    section = getattr(cls, "section", None)
    if not isinstance(section, str) or not section.isidentifier():
        raise TypeError(f"{cls.__name__}.section must be an identifier, got {section!r}")
    if section in _RESERVED_SECTIONS:
        raise TypeError(f"{cls.__name__}.section {section!r} is reserved for the scenario itself")
    _MECHANISMS[section] = cls
    return cls


def unregister_mechanism(section: str) -> None:
    """Undo :func:`register_mechanism` for ``section``."""
    _MECHANISMS.pop(section, None)


def register_scheme(cls: S) -> S:
    """Add an incentive scheme to ``System.default()`` in this process (deprecated: prefer
    ``System.default().with_scheme(cls)``)."""
    _SCHEMES[cls.name] = cls  # type: ignore[attr-defined]
    return cls


def unregister_scheme(name: str) -> None:
    """Undo :func:`register_scheme` for ``name``."""
    _SCHEMES.pop(name, None)


def registered_mechanisms() -> list[type[Mechanism]]:
    """The classes :func:`register_mechanism` added, in the order added."""
    return list(_MECHANISMS.values())


def registered_schemes() -> list[type]:
    """The schemes :func:`register_scheme` added, in the order added."""
    return list(_SCHEMES.values())


def mechanisms() -> dict[str, type[Mechanism]]:
    """The mechanism classes of ``System.default()`` by section, in the order they act.

    Deprecated: a scenario's own mechanisms are ``scenario.system.mechanisms``.
    """
    from finsim.system import System

    return System.default().mechanisms
