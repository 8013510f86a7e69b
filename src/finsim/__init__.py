"""finsim: a discrete scenario simulation of the money of the English NHS.

>>> import finsim
>>> sc = finsim.load_scenario("examples/two_systems.yaml")   # doctest: +SKIP
>>> res = finsim.run(sc, replications=100, seed=7)            # doctest: +SKIP
>>> res.summary()                                             # doctest: +SKIP
"""

from finsim.errors import Problem, ScenarioError
from finsim.registry import register_mechanism
from finsim.results import Results
from finsim.runner import UsageError, run
from finsim.scenario import Scenario, load_scenario, loads_scenario
from finsim.sensitivity import SensitivityResults, model_function, sensitivity
from finsim.stress import StressResults, stress

__version__ = "0.1.0"

__all__ = [
    "Problem",
    "Results",
    "Scenario",
    "ScenarioError",
    "UsageError",
    "__version__",
    "load_scenario",
    "loads_scenario",
    "register_mechanism",
    "run",
    "stress",
    "StressResults",
    "sensitivity",
    "SensitivityResults",
    "model_function",
]
