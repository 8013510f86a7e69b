"""Declared state: mechanisms say what they provide and require; the order follows from it."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from finsim import engine
from finsim.mechanisms.base import Context, Mechanism
from finsim.state import (
    SharedState,
    Slot,
    StateError,
    later,
    optional,
    order,
    providers,
    provides_of,
    requires_of,
)

HERE = Path(__file__).resolve().parent


def builtins() -> list[type[Mechanism]]:
    from finsim.system import BUILTIN_MECHANISMS

    return list(BUILTIN_MECHANISMS)


def make(name: str, provides=(), requires=(), rank: int = 100) -> type[Mechanism]:
    return type(
        name,
        (Mechanism,),
        {"section": name.lower(), "order": rank, "provides": provides, "requires": requires},
    )


def test_the_declared_order_of_the_builtins_is_the_order_they_always_had():
    """Every declared need is consistent with the old ``order`` numbers, so the derived order
    is today's: results do not move."""
    classes = builtins()
    assert order(classes) == sorted(classes, key=lambda c: c.order)
    assert order(reversed(classes)) == sorted(classes, key=lambda c: c.order)


def test_every_builtin_slot_is_read_and_every_need_has_a_provider():
    """No slot is written and never read (outputs go to the engine), and every name a built-in
    requires is some built-in's slot."""
    classes = builtins()
    provided = providers(classes)
    read = {need.name for cls in classes for need in requires_of(cls)}
    unread = {n for n in provided if not n.startswith("output.")} - read
    assert not unread
    assert read <= set(provided)
    for cls in classes:
        for slot in provides_of(cls):
            assert slot.name.startswith((cls.section + ".", "output.")), slot
            assert slot.shape and slot.meaning


def test_a_provider_comes_first_whatever_its_order_number():
    a = make("A", requires=("b.x",), rank=1)
    b = make("B", provides=(Slot("b.x", "(R,)", "x"),), rank=99)
    c = make("C", rank=50)
    assert order([a, b, c]) == [c, b, a]


def test_a_later_need_orders_nothing_and_breaks_a_cycle():
    a = make("A", provides=(Slot("a.x", "(R,)", "x"),), requires=("b.y",), rank=2)
    b = make("B", provides=(Slot("b.y", "(R,)", "y"),), requires=("a.x",), rank=1)
    with pytest.raises(StateError, match="cycle: .*A.*B|cycle: .*B.*A"):
        order([a, b])
    b_later = make("B", provides=(Slot("b.y", "(R,)", "y"),), requires=(later("a.x"),), rank=1)
    assert order([a, b_later]) == [b_later, a]


def test_a_missing_provider_is_named_and_an_optional_one_is_not_needed():
    a = make("A", requires=("contracts.activity_valu",))
    b = make("B", provides=(Slot("contracts.activity_value", "(R, C)", "v"),))
    with pytest.raises(StateError, match=r"A requires ctx.state\['contracts.activity_valu'\].*"):
        order([a, b])
    with pytest.raises(StateError, match="no active mechanism provides"):
        order([make("A", requires=("x.y",))])
    assert order([make("A", requires=(optional("x.y"), later("x.z", optional=True)))])


def test_a_slot_has_one_provider():
    a = make("A", provides=(Slot("s.x", "(R,)", "x"),))
    b = make("B", provides=(Slot("s.x", "(R,)", "x"),))
    with pytest.raises(StateError, match="provided by both A and B"):
        order([a, b])


def test_declarations_are_checked():
    with pytest.raises(TypeError, match="expected finsim.state.Slot"):
        order([make("A", provides=("a.x",))])
    with pytest.raises(TypeError, match="requires holds"):
        order([make("A", requires=(3,))])


def test_shared_state_takes_only_declared_names_and_never_falls_back():
    a = make("A", provides=(Slot("a.x", "(R,)", "x"), Slot("a.y", "(R,)", "y")))
    state = SharedState.of([a])
    state["a.x"] = np.zeros(2)
    state["prepared.a"] = {"done": True}  # what A.prepare returned: the engine writes it
    assert "a.x" in state and "a.y" not in state
    with pytest.raises(StateError, match=r"not a declared slot \(did you mean 'a\.[xy]'\?\)"):
        state["a.z"] = 1
    with pytest.raises(StateError, match="read before A wrote it"):
        state["a.y"]
    with pytest.raises(StateError, match="no active mechanism provides it"):
        state["b.x"]
    with pytest.raises(TypeError, match="test 'a.x' in ctx.state"):
        state.get("a.x", None)
    assert state.slot("a.x") == Slot("a.x", "(R,)", "x")
    assert not isinstance(StateError("x"), KeyError)  # nothing catches it as a missing key
    state.clear()
    assert len(state) == 0
    open_ = SharedState()  # before the engine declares the mechanisms: any name
    open_["anything"] = 1
    with pytest.raises(StateError, match="has not been written"):
        open_["other"]


def test_context_declare_returns_the_order_and_makes_the_state_strict():
    a = make("A", requires=("b.x",), rank=1)
    b = make("B", provides=(Slot("b.x", "(R,)", "x"),), rank=2)
    ctx = Context.__new__(Context)
    ctx.state = SharedState()
    assert ctx.declare([a, b]) == [b, a]
    assert ctx.state.declared
    with pytest.raises(StateError):
        ctx.state["c.y"] = 1


@pytest.fixture
def declared_engine(monkeypatch):
    """The engine as it will be wired: ctx.declare(active classes) orders the mechanisms and
    makes ctx.state strict."""
    made: list[list[str]] = []

    class Declared(Context):
        def __init__(self, scenario, *args, **kwargs):
            super().__init__(scenario, *args, **kwargs)
            system = getattr(scenario, "system", None)
            if system is not None:
                classes = system.mechanisms
            else:  # (before the System instance)
                from finsim.registry import mechanisms

                classes = mechanisms()
            active = [
                cls
                for section, cls in classes.items()
                if getattr(scenario.model, section, None) is not None
            ]
            made.append([c.__name__ for c in self.declare(active)])

    monkeypatch.setattr(engine, "Context", Declared)
    return made


def test_every_example_runs_to_the_same_bits_on_declared_state(declared_engine):
    """With the strict state and the derived order, every golden digest is unchanged."""
    spec = importlib.util.spec_from_file_location("golden_capture", HERE / "golden" / "capture.py")
    assert spec and spec.loader
    capture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(capture)
    expected = json.loads((HERE / "golden" / "examples.json").read_text("utf-8"))
    assert capture.digests() == expected
    assert declared_engine  # the declared context was used
