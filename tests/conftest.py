"""Shared fixtures: the flagship example and scenario files written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture
def example_path() -> Path:
    """The flagship example scenario, examples/two_systems.yaml."""
    return EXAMPLES / "two_systems.yaml"


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[..., Path]:
    """Write YAML text to a file in tmp_path (default name scenario.yaml) and return its path."""

    def write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


# The long profile of ``make fuzz`` (--hypothesis-profile=fuzz): the fuzzing, invariant and
# edge-case tests run many more examples (tests/strategies_full.py: fuzz_settings), with no
# deadline. The normal suite does not load it.
settings.register_profile(
    "fuzz", max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck)
)

# The normal suite draws the same hypothesis examples on every run (derandomize), so that a
# test run, and CI, is repeatable; `make fuzz` explores new examples every time.
settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.load_profile("repeatable")
