"""The built-in mechanisms, registered in the order they run within a phase.

Importing this package registers them; see :mod:`finsim.mechanisms.base` for the
interface and :func:`finsim.register_mechanism` to add your own. The order of the
imports below is the order in which mechanisms act within a phase.
"""

# ruff: noqa: I001, F401  (the import order is the registration order)
from finsim.mechanisms import allocations
from finsim.mechanisms import tariff
from finsim.mechanisms import activity
from finsim.mechanisms import contracts
from finsim.mechanisms import cquin
from finsim.mechanisms import disputes
from finsim.mechanisms import costs
from finsim.mechanisms import transfers
