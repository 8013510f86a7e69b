"""The state mechanisms share, declared: what each provides and needs, and so the order they act.

Mechanisms talk to each other through ``ctx.state`` and only through it. Each declares
the slots it writes and the names it reads, as class attributes:

.. code-block:: python

    from finsim.state import Slot, later, optional

    class Contracts(Mechanism):
        provides = (
            Slot("contracts.activity_value", "(R, C)", "the month's activity at tariff, GBP m"),
            Slot("contracts.provider", "(C,)", "each contract's provider (account index)"),
        )
        requires = (
            optional("tariff.price"),             # read if a tariff is active
            later("disputes.challenged", optional=True),
        )

A requirement is one of three kinds:

* a name (``"contracts.provider"``): the scenario must have exactly one active mechanism
  providing it, and that mechanism is constructed, and acts within every phase, first;
* :func:`optional`: the same when a provider is active; without one the mechanism runs on,
  and it says so in its code by testing ``"name" in ctx.state`` (never by a ``.get``
  default, which :class:`SharedState` does not offer);
* :func:`later`: read only in a *later phase* than the one in which the provider writes it
  (or its constructor), so who goes first within a phase does not matter and no order is
  implied. This is how two mechanisms that need each other are written: disputes read the
  contracts' arrays (``requires`` the contracts, which act first) and contracts read, at
  their year-end reconciliation, the challenges disputes made at the review month's
  settlement phase (``later``).

:func:`order` checks the declarations of the active mechanisms (one provider per slot, a
provider for every requirement, no cycle) and sorts them so every provider comes before
what needs it (:class:`graphlib.TopologicalSorter`). Mechanisms with no dependency between
them keep the order of their ``order`` attribute, then the order given: the order the
built-ins always had, so results do not move. :class:`SharedState` is the mapping
``ctx.state`` is: it takes only declared names and says which mechanism should have
written a name that is missing.

The ledger is the other thing mechanisms share: one that reads year-to-date positions in a
phase sees the postings of those that acted before it in that phase (risk shares settle
before the incentives' year end, which sees their transfers). That order is the ``order``
tie-break, which the declared needs never contradict (``tests/test_state.py``).

Names ``prepared.<section>`` need no declaration: the engine writes there what each active
mechanism's :meth:`~finsim.mechanisms.base.Mechanism.prepare` returned. ``output.<name>``
slots are declared like any other; the engine collects every one into the chunk's extras.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from typing import Any

from finsim.errors import did_you_mean


def _hint(name: str, choices: Iterable[str]) -> str:
    close = did_you_mean(name, choices)
    return f" (did you mean {close!r}?)" if close else ""


#: Prefix of the slots the engine fills with each mechanism's ``prepare`` result.
PREPARED = "prepared."


@dataclass(frozen=True)
class Slot:
    """A named entry of ``ctx.state`` that one mechanism writes."""

    name: str  # "<section>.<what>"
    shape: str  # "(R, C)", "(F, A)", "callable", "dict fy -> (R, C)"...
    meaning: str  # what it holds, with its unit

    def __str__(self) -> str:
        return f"{self.name} {self.shape}: {self.meaning}"


@dataclass(frozen=True)
class Need:
    """A name of ``ctx.state`` a mechanism reads (see the module docstring)."""

    name: str
    optional: bool = False  # runs without a provider (tests ``name in ctx.state``)
    later: bool = False  # read in a later phase than it is written: no order implied


def optional(name: str) -> Need:
    """A name read when some active mechanism provides it; the reader tests ``name in ctx.state``."""
    return Need(name, optional=True)


def later(name: str, *, optional: bool = False) -> Need:
    """A name read only in a later phase than its provider writes it: no order between them."""
    return Need(name, optional=optional, later=True)


class StateError(LookupError):
    """A slot of ``ctx.state`` is undeclared, missing, provided twice, or the needs form a cycle.

    Not a ``KeyError``: nothing falls back silently on it.
    """

    def __str__(self) -> str:  # (a LookupError's message is not quoted like a KeyError's)
        return str(self.args[0]) if self.args else ""


def provides_of(cls: type) -> tuple[Slot, ...]:
    """The slots a mechanism class declares it writes."""
    slots = tuple(getattr(cls, "provides", ()) or ())
    for slot in slots:
        if not isinstance(slot, Slot):
            raise TypeError(f"{cls.__name__}.provides holds {slot!r}: expected finsim.state.Slot")
    return slots


def requires_of(cls: type) -> tuple[Need, ...]:
    """The names a mechanism class declares it reads, as :class:`Need`."""
    out = []
    for need in tuple(getattr(cls, "requires", ()) or ()):
        if isinstance(need, str):
            need = Need(need)
        if not isinstance(need, Need):
            raise TypeError(
                f"{cls.__name__}.requires holds {need!r}: expected a name, "
                "finsim.state.optional(name) or finsim.state.later(name)"
            )
        out.append(need)
    return tuple(out)


def providers(classes: Iterable[type]) -> dict[str, tuple[Slot, type]]:
    """Each declared slot with the class that provides it; two providers of one name is an error."""
    out: dict[str, tuple[Slot, type]] = {}
    for cls in classes:
        for slot in provides_of(cls):
            if slot.name in out and out[slot.name][1] is not cls:
                raise StateError(
                    f"ctx.state slot {slot.name!r} is provided by both "
                    f"{out[slot.name][1].__name__} and {cls.__name__}: each slot has one provider"
                )
            out[slot.name] = (slot, cls)
    return out


def order(classes: Iterable[type]) -> list[type]:
    """The active mechanism classes in the order they are constructed and act within a phase.

    Every requirement that is not :func:`optional` must have exactly one provider among
    ``classes``; a provider comes before the mechanisms that need it (unless the need is
    :func:`later`). Ties keep each class's ``order`` attribute, then the order given.
    Raises :class:`StateError` naming a missing provider or a cycle.
    """
    classes = list(dict.fromkeys(classes))
    provider = providers(classes)
    graph: dict[type, set[type]] = {cls: set() for cls in classes}
    for cls in classes:
        for need in requires_of(cls):
            found = provider.get(need.name)
            if found is None:
                if need.optional:
                    continue
                raise StateError(
                    f"{cls.__name__} requires ctx.state[{need.name!r}], which no active "
                    f"mechanism provides{_hint(need.name, provider)}: add the section of the "
                    "mechanism providing it, or declare the need optional(...) and test "
                    f"{need.name!r} in ctx.state"
                )
            source = found[1]
            if source is not cls and not need.later:
                graph[cls].add(source)
    sorter = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        cycle = exc.args[1]
        names = " -> ".join(c.__name__ for c in reversed(cycle))
        raise StateError(
            f"mechanisms need each other in a cycle: {names} (each needs the next to act first). "
            "Declare a need that is read only in a later phase than it is written with "
            "finsim.state.later(name)"
        ) from None
    rank = {cls: (getattr(cls, "order", 100), i) for i, cls in enumerate(classes)}
    index = {cls: i for i, cls in enumerate(classes)}
    ready: list[tuple[Any, int]] = []
    out: list[type] = []

    def push() -> None:
        for cls in sorter.get_ready():
            heapq.heappush(ready, (rank[cls], index[cls]))

    push()
    while ready:
        _, i = heapq.heappop(ready)
        out.append(classes[i])
        sorter.done(classes[i])
        push()
    return out


class SharedState(MutableMapping[str, Any]):
    """``ctx.state``: the arrays mechanisms share, by declared name.

    With ``slots`` (the slots of the active mechanisms, see :func:`providers`) it refuses to
    store a name no active mechanism declared; without (``SharedState()``) it stores any name.
    Either way reading a missing name raises a :class:`StateError` that says which mechanism
    should have written it, and there is no ``.get`` default: a mechanism that can run without
    an optional provider tests ``name in ctx.state``.
    """

    __slots__ = ("_values", "_slots", "_sections")

    def __init__(
        self,
        slots: Mapping[str, tuple[Slot, type]] | None = None,
        sections: Iterable[str] = (),
    ) -> None:
        self._values: dict[str, Any] = {}
        self._slots = dict(slots) if slots is not None else None
        self._sections = frozenset(sections)

    @classmethod
    def of(cls, classes: Iterable[type]) -> SharedState:
        """The state of a chunk run by ``classes``: their slots and ``prepared.<section>``."""
        classes = list(classes)
        return cls(providers(classes), [getattr(c, "section", "") for c in classes])

    @property
    def declared(self) -> bool:
        return self._slots is not None

    def slot(self, name: str) -> Slot | None:
        """The declaration of ``name`` (None if undeclared or the state is not declared)."""
        if self._slots is None or name not in self._slots:
            return None
        return self._slots[name][0]

    def _allowed(self, name: str) -> bool:
        if self._slots is None or name in self._slots:
            return True
        return name.startswith(PREPARED) and name.removeprefix(PREPARED) in self._sections

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            pass
        if self._slots is not None and name in self._slots:
            source = self._slots[name][1].__name__
            raise StateError(
                f"ctx.state[{name!r}] is read before {source} wrote it: a mechanism reading it "
                f"in the same phase (or its constructor) lists {name!r} in its requires, so it "
                f"acts after {source}"
            )
        if not self._allowed(name):
            raise StateError(
                f"ctx.state has no slot {name!r}: no active mechanism provides it"
                f"{_hint(name, self._slots or {})}. A mechanism that can run without it declares "
                f"optional({name!r}) and tests {name!r} in ctx.state"
            )
        raise StateError(f"ctx.state[{name!r}] has not been written")

    def __setitem__(self, name: str, value: Any) -> None:
        if not self._allowed(name):
            raise StateError(
                f"ctx.state[{name!r}] is not a declared slot{_hint(name, self._slots or {})}: "
                f"the mechanism writing it lists Slot({name!r}, shape, meaning) in its provides"
            )
        self._values[name] = value

    def __delitem__(self, name: str) -> None:
        del self._values[name]

    def __contains__(self, name: object) -> bool:
        return name in self._values

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, name: str, default: Any = None) -> Any:
        """Not offered: a missing slot must not fall back silently."""
        raise TypeError(
            f"ctx.state.get({name!r}, ...) is not offered: read ctx.state[{name!r}], and where a "
            f"mechanism can run without its provider, test {name!r} in ctx.state first"
        )

    def setdefault(self, name: str, default: Any = None) -> Any:
        if name not in self._values:
            self[name] = default
        return self._values[name]

    def clear(self) -> None:
        self._values.clear()

    def __repr__(self) -> str:
        kind = "declared" if self._slots is not None else "open"
        return f"SharedState({kind}: {', '.join(self._values)})"
