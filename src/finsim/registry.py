"""Which mechanisms exist, and which section of a scenario file each owns.

The registry knows nothing about what a mechanism does: the scenario layer asks
it which sections a file may hold, and the engine asks it which classes to run.
Register your own with :func:`register_mechanism`; no engine code changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from finsim.mechanisms.base import Mechanism

M = TypeVar("M", bound="type[Mechanism]")

_MECHANISMS: dict[str, type[Mechanism]] = {}
_RESERVED_SECTIONS = {"extends", "scenario", "organisations", "variants"}


def register_mechanism(cls: M) -> M:
    """Register a mechanism class (usable as a decorator).

    The class's ``section`` names the key of the scenario file it owns; registering
    a second class for the same section replaces the first, so a user can swap in
    their own version of a built-in mechanism.
    """
    section = getattr(cls, "section", None)
    if not isinstance(section, str) or not section.isidentifier():
        raise TypeError(f"{cls.__name__}.section must be an identifier, got {section!r}")
    if section in _RESERVED_SECTIONS:
        raise TypeError(f"{cls.__name__}.section {section!r} is reserved for the scenario itself")
    _MECHANISMS[section] = cls
    return cls


def unregister_mechanism(section: str) -> None:
    """Remove the mechanism owning ``section`` (mostly for tests)."""
    _MECHANISMS.pop(section, None)


def mechanisms() -> dict[str, type[Mechanism]]:
    """The registered mechanism classes by section, in the order they act within a phase.

    That order is each class's ``order`` (built-ins 10-80, others 100 by default), then
    registration order.
    """
    import finsim.mechanisms  # noqa: F401  (registers the built-ins on first use)

    ranked = sorted(enumerate(_MECHANISMS.items()), key=lambda item: (item[1][1].order, item[0]))
    return {section: cls for _, (section, cls) in ranked}
