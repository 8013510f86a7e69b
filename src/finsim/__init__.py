"""finsim: a discrete scenario simulation of the money of the English NHS.

>>> import finsim
>>> sc = finsim.load_scenario("examples/two_systems.yaml")   # doctest: +SKIP
>>> res = finsim.run(sc, replications=100, seed=7)            # doctest: +SKIP
>>> res.summary()                                             # doctest: +SKIP

Reading scenarios imports no mechanism: the engine, the results and the built-in
mechanisms (:class:`System`) are imported when first used (``finsim.run``, ``finsim.System``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from finsim._version import __version__
from finsim.errors import Problem, ScenarioError
from finsim.registry import register_mechanism  # noqa: F401  (removed: raises TypeError)
from finsim.scenario import Scenario, load_scenario, loads_scenario

if TYPE_CHECKING:
    from finsim.results import Results
    from finsim.runner import Keep, UsageError, run
    from finsim.sensitivity import SensitivityResults, model_function, sensitivity
    from finsim.stress import StressResults, stress
    from finsim.system import System

#: Names imported on first use, by the module that holds them.
_LAZY = {
    "Keep": "finsim.runner",
    "Results": "finsim.results",
    "UsageError": "finsim.runner",
    "run": "finsim.runner",
    "SensitivityResults": "finsim.sensitivity",
    "model_function": "finsim.sensitivity",
    "sensitivity": "finsim.sensitivity",
    "StressResults": "finsim.stress",
    "stress": "finsim.stress",
    "System": "finsim.system",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'finsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


class _Finsim(types.ModuleType):
    """``finsim.stress`` and ``finsim.sensitivity`` are the functions, as they always were,
    though submodules of the same names exist: importing a submodule sets the package's
    attribute to the module, which these properties ignore."""

    @property
    def stress(self) -> Any:
        return importlib.import_module("finsim.stress").stress

    @stress.setter
    def stress(self, value: Any) -> None:
        pass

    @property
    def sensitivity(self) -> Any:
        return importlib.import_module("finsim.sensitivity").sensitivity

    @sensitivity.setter
    def sensitivity(self, value: Any) -> None:
        pass


sys.modules[__name__].__class__ = _Finsim


__all__ = [
    "Keep",
    "Problem",
    "Results",
    "Scenario",
    "ScenarioError",
    "System",
    "UsageError",
    "__version__",
    "load_scenario",
    "loads_scenario",
    "run",
    "stress",
    "StressResults",
    "sensitivity",
    "SensitivityResults",
    "model_function",
]
