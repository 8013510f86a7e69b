"""The built-in mechanisms, registered in the order they run within a phase.

Importing this package registers them; see :mod:`finsim.mechanisms.base` for the
interface and :func:`finsim.register_mechanism` to add your own.
"""

from finsim.mechanisms import allocations, tariff, contracts, activity, costs, transfers  # noqa: F401, I001
