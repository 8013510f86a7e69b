"""Scenario files: YAML, validated by typed models, with ``extends:`` and ``variants:``."""

from finsim.scenario.loader import BASELINE, Scenario, load_scenario, loads_scenario

__all__ = ["BASELINE", "Scenario", "load_scenario", "loads_scenario"]
