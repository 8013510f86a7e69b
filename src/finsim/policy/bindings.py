"""Which setting of a scenario each national rule of the policy tree fills.

A :class:`Binding` ties a field of the scenario file (``cquin.share``) to the parameters of
the policy tree that give it (``cquin.share``), and says when it applies (a scenario with no
contracts has no CQUIN to fill), for which years (a growth rate moves a value *into* each
year, so the first simulated year needs none), whether the scenario's field holds a value
per year or one value, and how a rule is turned into the setting (the tree's 70% marginal
rate is the scenario's ``rate: 0.7``; a rule no longer in force pays emergency activity in
full, ``rate: 1``). :mod:`finsim.scenario.policy_fill` applies them.

Several parameters may give one setting, the first in force in a year winning: the
incentive fund's phasing is the STF's in 2017/18 and the PSF's from 2018/19. Money (the size
of a national fund) is filled only when the scenario says what share of England it models
(``policy: {name: england, scale: 0.05}``): a fund of £2.45bn means nothing to ten systems.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

#: Provider kinds without an A&E department (the PSF's finance share for them was 100%).
NON_AE_KINDS = ("community", "mental_health", "specialist", "ambulance", "other")


def _section(name: str) -> Callable[[dict[str, Any]], bool]:
    def applies(doc: dict[str, Any]) -> bool:  # (an empty section is there, to be filled)
        return isinstance(doc.get(name), dict | list)

    applies.__doc__ = f"the scenario has a '{name}' section"
    return applies


def _has_contracts(doc: dict[str, Any]) -> bool:
    """the scenario has contracts"""
    return isinstance(doc.get("contracts"), list) and bool(doc["contracts"])


def _emergency_priced(doc: dict[str, Any]) -> bool:
    """the tariff prices non_elective activity"""
    tariff = doc.get("tariff")
    prices = tariff.get("prices") if isinstance(tariff, dict) else None
    marginal = tariff.get("emergency_marginal_rate") if isinstance(tariff, dict) else None
    return isinstance(marginal, dict) or (isinstance(prices, dict) and "non_elective" in prices)


def _loans(doc: dict[str, Any]) -> bool:
    """the scenario's interventions may lend"""
    interventions = doc.get("interventions")
    return isinstance(interventions, dict) and "loans" in (interventions.get("order") or [])


def _from_start(section: str) -> Callable[[dict[str, Any], list[str]], list[str]]:
    """The years from the section's ``start`` (default: the first simulated year) on."""

    def years(doc: dict[str, Any], labels: list[str]) -> list[str]:
        start = (doc.get(section) or {}).get("start") or labels[0]
        return [y for y in labels if y >= str(start)]

    return years


def _covid_years(doc: dict[str, Any], labels: list[str]) -> list[str]:
    """The years run under the Covid regime (``covid.years``)."""
    return [str(y) for y in (doc.get("covid") or {}).get("years") or []]


def _covid_elective_years(doc: dict[str, Any], labels: list[str]) -> list[str]:
    """The years the Covid elective incentive runs (its ``years``: default the first)."""
    scheme = ((doc.get("covid") or {}).get("elective_incentive")) or {}
    years = scheme.get("years") or _covid_years(doc, labels)[:1]
    return [str(y) for y in years]


def _covid_elective(doc: dict[str, Any]) -> bool:
    """the Covid section has an elective incentive scheme"""
    covid = doc.get("covid")
    return isinstance(covid, dict) and isinstance(covid.get("elective_incentive"), dict)


def _boolean_share(value: Any) -> float:
    """A rule that is on or off as a share of it applied: enforced is 1, not enforced 0."""
    return 1.0 if value else 0.0


def _capped_at_estimate(value: Any) -> float:
    """The Q4 cap's rule in words, as the share of activity above the estimate the fund pays."""
    if "capped" in str(value).lower() and "estimate" in str(value).lower():
        return 0.0
    raise ValueError(f"no scenario setting matches the rule {value!r}")


def _cquin_base(value: Any) -> str:
    text = str(value).lower()
    if "fixed element" in text:
        return "plan"
    if "actual" in text or "outturn" in text:
        return "actual"
    raise ValueError(f"no scenario setting matches the rule {value!r}")


def _non_ae(value: Any) -> dict[str, Any]:
    return {kind: value for kind in NON_AE_KINDS}


def _list(value: Any) -> list[Any]:
    return list(value)


@dataclass(frozen=True)
class Binding:
    """A scenario field (``path``) filled from the policy tree's ``parameters``."""

    path: tuple[str, ...]
    parameters: tuple[str, ...]
    applies: Callable[[dict[str, Any]], bool]
    #: "all": every simulated year; "after_first": a growth rate, from the second year; or
    #: the years the mechanism runs, from the document and the simulated years
    years: Literal["all", "after_first"] | Callable[[dict[str, Any], list[str]], list[str]] = "all"
    #: "by_year": the field takes a value per year; "one": one value for the whole run
    form: Literal["by_year", "one"] = "by_year"
    #: turns the tree's value into the setting (default: as it is)
    convert: Callable[[Any], Any] | None = None
    #: the setting in a year when no parameter is in force (None: the policy is silent)
    absent: Any = None
    #: a sum of money, filled only with the scenario's ``scale``
    money: bool = False

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


BINDINGS: tuple[Binding, ...] = (
    Binding(("tariff", "cost_uplift"), ("tariff.cost_uplift",), _section("tariff"), "after_first"),
    Binding(("tariff", "efficiency"), ("tariff.efficiency",), _section("tariff"), "after_first"),
    Binding(
        ("tariff", "emergency_marginal_rate", "rate"),
        ("marginal_rate.rate",),
        _emergency_priced,
        absent=1.0,
    ),
    Binding(("cquin", "share"), ("cquin.share",), _has_contracts),
    Binding(("cquin", "base"), ("cquin.base",), _has_contracts, form="one", convert=_cquin_base),
    Binding(
        ("incentives", "phasing"),
        ("provider_funds.stf.phasing", "provider_funds.psf.phasing"),
        _section("incentives"),
        form="one",
        convert=_list,
    ),
    Binding(
        ("incentives", "finance_share"),
        ("provider_funds.stf.finance_weight", "provider_funds.psf.finance_weight"),
        _section("incentives"),
    ),
    Binding(
        ("incentives", "finance_share_by_kind"),
        ("provider_funds.psf.finance_weight_without_ae",),
        _section("incentives"),
        form="one",
        convert=_non_ae,
    ),
    Binding(
        ("incentives", "bonus_ratio"),
        ("provider_funds.stf.incentive_rate", "provider_funds.psf.incentive_rate"),
        _section("incentives"),
    ),
    Binding(
        ("incentives", "fund"),
        ("provider_funds.stf.size", "provider_funds.psf.size"),
        _section("incentives"),
        money=True,
    ),
    Binding(("pdc", "dividend_rate"), ("loans_pdc.pdc_dividend",), _section("pdc"), form="one"),
    # the Financial Recovery Fund and the commissioners' funds and reserves
    # (the FRF as it was: suspended with the Covid regime in 2020/21, so nothing then; the
    # pre-Covid plan for 2020/21, provider_funds.frf.planned_size, never ran: a policy file
    # of its own, or the scenario, can state it)
    Binding(
        ("recovery_fund", "fund"),
        ("provider_funds.frf.size",),
        _section("recovery_fund"),
        money=True,
        absent=0.0,
    ),
    Binding(
        ("recovery_fund", "extra_efficiency"),
        ("tariff.deficit_trust_extra_efficiency",),
        _section("recovery_fund"),
        absent=0.0,
    ),
    Binding(
        ("recovery_fund", "system_share"),
        ("system.frf_share",),
        _section("recovery_fund"),
        absent=0.0,
    ),
    Binding(
        ("commissioner_reserves", "share"),
        ("commissioner.risk_reserve",),
        _section("commissioner_reserves"),
        absent=0.0,
    ),
    Binding(
        ("commissioner_reserves", "non_recurrent_share"),
        ("commissioner.non_recurrent_spend",),
        _section("commissioner_reserves"),
        absent=0.0,
    ),
    Binding(
        ("commissioner_sustainability_fund", "fund"),
        ("commissioner.csf.size",),
        _section("commissioner_sustainability_fund"),
        money=True,
    ),
    Binding(
        ("commissioner_sustainability_fund", "improvement"),
        ("commissioner.overspender_improvement",),
        _section("commissioner_sustainability_fund"),
    ),
    # the Covid regime, in its years
    Binding(
        ("covid", "blocks", "growth"), ("covid.block.growth",), _section("covid"), _covid_years
    ),
    Binding(
        ("covid", "blocks", "efficiency_first_half"),
        ("covid.block.efficiency", "covid.efficiency.first_half"),
        _section("covid"),
        _covid_years,
    ),
    Binding(
        ("covid", "blocks", "efficiency_second_half"),
        ("covid.block.efficiency", "covid.efficiency.second_half"),
        _section("covid"),
        _covid_years,
    ),
    Binding(
        ("covid", "envelopes", "second_half_extra"),
        ("covid.h2_extra_funding",),
        _section("covid"),
        _covid_years,
        money=True,
        absent=0.0,
    ),
    *(
        Binding(
            ("covid", "elective_incentive", name),
            (f"covid.elective_incentive.{name}",),
            _covid_elective,
            _covid_elective_years,
        )
        for name in ("threshold", "shortfall_charge", "excess_payment")
    ),
    # aligned payment and incentive with the elective recovery fund, from its start
    Binding(
        ("erf", "fund"), ("api_erf.erf_size",), _section("erf"), _from_start("erf"), money=True
    ),
    Binding(("erf", "target"), ("api_erf.elective_target",), _section("erf"), _from_start("erf")),
    Binding(
        ("erf", "variable_rate"), ("api_erf.variable_rate",), _section("erf"), _from_start("erf")
    ),
    Binding(
        ("erf", "downward_floor"), ("api_erf.downward_floor",), _section("erf"), _from_start("erf")
    ),
    Binding(
        ("erf", "clawback"),
        ("api_erf.clawback_enforced",),
        _section("erf"),
        _from_start("erf"),
        convert=_boolean_share,
    ),
    Binding(("erf", "cap"), ("api_erf.erf_cap",), _section("erf"), _from_start("erf"), absent=0.0),
    Binding(
        ("erf", "q4_cap"),
        ("api_erf.q4_cap",),
        _section("erf"),
        _from_start("erf"),
        convert=_capped_at_estimate,
        absent=1.0,
    ),
    Binding(
        ("erf", "additional"),
        ("api_erf.target_cut_funding",),
        _section("erf"),
        _from_start("erf"),
        money=True,
        absent=0.0,
    ),
    Binding(
        ("interventions", "loans", "rate"),
        ("loans_pdc.interest.longer_term",),
        _loans,
        form="one",
    ),
)
