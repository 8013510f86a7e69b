"""Every example's positions, flows and events are the same bits as when last captured.

The digests in tests/golden/examples.json were captured by tests/golden/capture.py before
a refactoring that must not change behaviour (issue 15: a System instance, declared state,
decisions in their own module, smaller modules). A failure here means some figure moved.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("golden_capture", HERE / "golden" / "capture.py")
assert _spec and _spec.loader
capture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(capture)

EXPECTED: dict[str, str] = json.loads((HERE / "golden" / "examples.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def measured() -> dict[str, str]:
    return capture.digests()


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_example_table_is_unchanged_to_the_bit(measured, key):
    """The table's digest equals the one captured before the refactoring."""
    assert measured[key] == EXPECTED[key], (
        f"{key} changed; if the change is meant to move figures, re-capture with "
        "`python tests/golden/capture.py` and say so in the commit"
    )


def test_every_captured_table_is_still_produced(measured):
    """No example or table has disappeared from the capture."""
    assert sorted(measured) == sorted(EXPECTED)


def test_the_digest_sees_a_change_in_the_last_bit():
    """A float moved by one ulp changes the digest."""
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"x": [0.1, 2.0]})
    moved = frame.assign(x=[np.nextafter(0.1, 1.0), 2.0])
    assert capture.digest(frame) != capture.digest(moved)
    assert capture.digest(frame) == capture.digest(frame.copy())
