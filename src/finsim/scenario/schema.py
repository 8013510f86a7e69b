"""The pydantic model of a whole scenario file: the settings, the organisations and a section
per mechanism of a :class:`finsim.system.System` (built once per System, see ``System.schema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field, create_model

from finsim.scenario.models import BaseScenarioModel


def build_scenario_model(mechanisms: Mapping[str, type]) -> type[BaseModel]:
    """The model of a scenario file with a section per mechanism class (by section)."""
    fields: dict[str, Any] = {
        section: (cls.Config | None, Field(default=None, description=_section_words(cls)))  # type: ignore[attr-defined]
        for section, cls in mechanisms.items()
    }
    return create_model(  # type: ignore[call-overload,no-any-return]
        "Scenario", __base__=BaseScenarioModel, **fields
    )


def _section_words(cls: type) -> str:
    """What a mechanism's section holds: the first line of the mechanism's docstring."""
    doc = cls.__dict__.get("__doc__") or ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split()) or f"the section read by the mechanism {cls.__name__}"
