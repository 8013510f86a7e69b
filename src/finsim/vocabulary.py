"""The labels of the ledger's flows: categories (with their meaning and role), recurrence and
kind, and the vocabulary of a run (the built-in categories, then those its mechanisms declare).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class Category(NamedTuple):
    """A flow category a mechanism posts (``Mechanism.categories``): its name, meaning and role.

    ``role`` says how results read the category: ``"incentive"`` is incentive funding (summed
    in ``incentive_earned``, left out of the surplus before incentives that control totals
    are tested on), ``"subsidy"`` is money bodies move between one another (each such
    category is a column of ``Results.subsidies`` and part of ``net_subsidy``), ``""`` neither.
    """

    name: str
    meaning: str
    role: str = ""


#: The roles a category may have (see :class:`Category`).
ROLES = ("", "incentive", "subsidy")


#: The built-in categories of ``flows.category``, by integer code (codes never change; a
#: plug-in's declared categories are numbered after them: see :func:`vocabulary`).
CATEGORIES = (
    "funding",  # treasury -> centre
    "allocation",  # centre (or region) -> commissioner
    "top_slice",  # commissioner -> region / centre
    "reallocation",  # year-end re-allocation between bodies
    "capital_to_revenue",
    "teaching_uplift",
    "contract_payment",  # commissioner -> provider
    "cquin",
    "dispute_settlement",
    "dispute_costs",  # -> external
    "incentive_payment",
    "incentive_bonus",
    "general_distribution",
    "risk_share",
    "loan",
    "loan_repayment",
    "capital_allocation",
    "operating_cost",  # -> external: staff, suppliers
    "other_income",  # external -> provider / commissioner
    "savings",  # extra surplus asked of a body, moved to where it is needed
    "mret_reinvestment",  # commissioner -> provider / external: the marginal rate's retained price
    "loan_interest",  # borrower -> lender: interest on a loan (revenue)
    "pdc_conversion",  # borrower -> centre: a loan settled by conversion to PDC (capital)
    "pdc",  # centre -> provider: public dividend capital issued (capital)
    "pdc_dividend",  # provider -> centre: the dividend on its relevant net assets
    "depreciation",  # provider -> external: the year's depreciation of its assets
    "risk_reserve_release",  # commissioner -> provider / external: its released risk reserve
    "csf_payment",  # centre -> commissioner: Commissioner Sustainability Fund
    "csf_bonus",
    "csf_distribution",
    "covid_top_up",  # centre -> provider (or via the lead commissioner): Covid top-up
    "covid_allocation",  # a system envelope's fixed Covid allocation
    "covid_cost",  # provider -> external: marginal costs of Covid
    "elective_incentive",  # the Covid elective incentive's payment or charge
    "deficit_support",  # centre -> system / body: deficit support funding
    "erf_allocation",  # centre -> ICB: elective recovery fund
    "erf_payment",
    "erf_recovery",
    "erf_adjustment",
    "erf_payment_limit",
    "mhis_investment",  # commissioner -> mental health provider
    "frf_payment",  # centre -> provider: Financial Recovery Fund
    "frf_bonus",
    "frf_distribution",
    "risk_reserve_held",  # commissioner -> external, negative: spending held back as reserve
)
RECURRENCE = ("recurrent", "non_recurrent")
KINDS = ("revenue", "capital")

#: The categories of the ledger itself, posted by more than one mechanism (every other
#: category is declared by the mechanism that posts it, in ``Mechanism.categories``).
CORE_CATEGORIES = (
    Category("funding", "treasury to the centre"),
    Category("allocation", "centre (or region) to a commissioner"),
    Category("capital_allocation", "capital limits allocated"),
    Category("operating_cost", "a body's own costs, to external: staff, suppliers"),
    Category("other_income", "external to a provider or commissioner"),
)

#: The most categories a run may have (the integer codes' range): the built-ins and up to
#: 44 declared by plug-ins.
MAX_CATEGORIES = 64


def vocabulary(mechanisms: Iterable[type]) -> tuple[str, ...]:
    """The category names a run with these mechanism classes posts, by integer code: the
    built-in :data:`CATEGORIES` (their codes never change), then each name a mechanism declares
    in ``categories`` that is not among them, in the order the mechanisms come."""
    names = list(CATEGORIES)
    for cls in mechanisms:
        for category in getattr(cls, "categories", ()):
            name = category.name if isinstance(category, Category) else str(category)
            if name not in names:
                names.append(name)
    if len(names) > MAX_CATEGORIES:
        raise ValueError(f"a run may have at most {MAX_CATEGORIES} flow categories, got {names}")
    return tuple(names)


def with_role(mechanisms: Iterable[type], role: str) -> tuple[str, ...]:
    """The category names these mechanism classes declare with ``role``, in the order of
    :func:`vocabulary` (a category counts if any mechanism declaring it gives it the role)."""
    if role not in ROLES or not role:
        raise ValueError(f"unknown category role {role!r}; roles are {ROLES[1:]}")
    classes = list(mechanisms)
    tagged = {
        category.name
        for cls in classes
        for category in getattr(cls, "categories", ())
        if isinstance(category, Category) and category.role == role
    }
    return tuple(name for name in vocabulary(classes) if name in tagged)
