"""Shared fixtures: the flagship example and scenario files written on the fly."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

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
