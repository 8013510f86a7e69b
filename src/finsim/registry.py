"""Removed: process-wide registration of mechanisms and incentive schemes.

Registering never changes a process-global table any more. Use a :class:`finsim.system.System`:
``finsim.System.default().with_mechanism(Levy)`` (or ``.with_scheme(cls)``) is a new System
holding your plug-in, passed to ``finsim.load_scenario(..., system=)``; an installed package
declares its plug-ins in the ``finsim.plugins`` entry points. :func:`register_mechanism` and
:func:`register_scheme` remain only to raise a :class:`TypeError` saying so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from finsim.mechanisms.base import Mechanism


def register_mechanism(cls: type) -> NoReturn:
    """Removed: raises :class:`TypeError`; use ``finsim.System.default().with_mechanism(cls)``."""
    raise TypeError(
        f"finsim.register_mechanism({getattr(cls, '__name__', cls)!r}) was removed: registering "
        "no longer changes a process-wide table. Use a System: "
        "system = finsim.System.default().with_mechanism(cls), then "
        "finsim.load_scenario(path, system=system) (or declare the class in the "
        "'finsim.plugins' entry points of your package)"
    )


def register_scheme(cls: type) -> NoReturn:
    """Removed: raises :class:`TypeError`; use ``finsim.System.default().with_scheme(cls)``."""
    raise TypeError(
        f"register_scheme({getattr(cls, '__name__', cls)!r}) was removed: registering no "
        "longer changes a process-wide table. Use a System: "
        "system = finsim.System.default().with_scheme(cls), then "
        "finsim.load_scenario(path, system=system)"
    )


def mechanisms() -> dict[str, type[Mechanism]]:
    """The mechanism classes of ``System.default()`` by section, in the order they act.

    A scenario's own mechanisms are ``scenario.system.mechanisms``.
    """
    from finsim.system import System

    return System.default().mechanisms
