"""The NHS financial rules by year: national finance and payment parameters, cited.

A *policy tree* holds the rules of the English NHS finance regime as dated parameters, in
the style of OpenFisca and PolicyEngine parameters but by financial year (April to March):
tariff cost uplift and efficiency, the emergency marginal rate, CQUIN, the provider incentive
funds (STF, PSF, FRF), commissioner reserves, system working, the Covid regime, API and the
elective recovery fund, deficit support, loans and PDC, capital, allocations and agency
caps. Every value cites its sources and carries a confidence mark: C official, S secondary,
U unconfirmed (a placeholder, never a fact).

>>> from finsim import policy
>>> tree = policy.load()                       # the shipped tree, "england"
>>> tree.at("2018/19").value("marginal_rate.rate")
0.7
>>> tree.parameter("cquin.share").at("2019/20").sources
('Q4',)

``policy.load_file(path)`` reads a policy file of your own in the same format; with
``extends: england`` it changes only the values it names (a proposed scheme).
``policy.render_markdown(tree)`` writes the tree as the reference page
``docs/reference/rules-by-year.md`` (``python -m finsim.policy``).
"""

from finsim.policy.loader import load, load_file, shipped_trees
from finsim.policy.render import format_value, render_markdown
from finsim.policy.tree import (
    Change,
    DatedValue,
    InForce,
    Parameter,
    PolicyTree,
    RulesInForce,
    Source,
)

__all__ = [
    "Change",
    "DatedValue",
    "InForce",
    "Parameter",
    "PolicyTree",
    "RulesInForce",
    "Source",
    "format_value",
    "load",
    "load_file",
    "render_markdown",
    "shipped_trees",
]
