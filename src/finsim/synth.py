"""Synthetic economies of England's shape, for national runs and benchmarks.

:func:`england` builds a scenario document (plain data, as read from YAML) with
every mechanism switched on: allocations in streams with pace of change and a
running-cost allowance, the national tariff with the emergency marginal rate,
activity-based, blended and block contracts with CQUIN, coding drift and
disputes, cost improvement and QIPP programmes, control totals with a
sustainability fund resting partly on systems, and regional monitoring with
interventions. Its sizes are parameters (England: 7 regions, 42 systems, 106
commissioners, 220 providers, 1,500 contracts, 5 years).

Given NHS England's weighted populations (``from_data=``: an edition packaged
with finsim, ``"2024/25"`` or ``"2025/26"``, or the path of a file you
downloaded), regions, systems and commissioners, with their populations and
weighted populations by formula component, are England's own
(:mod:`finsim.data`); providers and contracts are synthesised around them.
Without it (the default, used by the benchmarks and
``examples/england_synthetic.yaml``) every body is synthetic.

The generator's own draws come from a ``numpy.random.Generator`` seeded by
``seed``: the same arguments always give the same document. Figures are
illustrative orders of magnitude, not any organisation's accounts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from finsim.calendar import fy_label, parse_fy

PODS = {  # GBP per unit, and units per 1,000 population a year for a main acute contract
    "elective": (3600.0, 14.0),
    "day_case": (850.0, 60.0),
    "non_elective": (1750.0, 95.0),
    "outpatient_first": (165.0, 330.0),
    "outpatient_follow_up": (95.0, 600.0),
    "ae": (150.0, 320.0),
    "critical_care": (1300.0, 6.0),
}
KINDS = ("acute", "community", "mental_health", "ambulance")
RUNNING_COST_PER_HEAD = 22.0  # GBP
CQUIN_SHARE = 0.0125
PSF_SHARE = 0.02
CIP_SHARE = 0.02


def _split(total: int, parts: int, rng: np.random.Generator) -> np.ndarray:
    """``total`` items into ``parts`` groups of at least one, sizes varying."""
    if parts > total:
        raise ValueError(f"cannot split {total} into {parts} non-empty groups")
    weights = rng.uniform(0.6, 1.4, parts)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * total)).astype(int)
    while sizes.sum() > total:
        sizes[np.argmax(sizes)] -= 1
    while sizes.sum() < total:
        sizes[np.argmin(sizes)] += 1
    return sizes


def england(
    regions: int = 7,
    systems: int = 42,
    commissioners: int = 106,
    providers: int = 220,
    contracts: int = 1500,
    years: int = 5,
    start: str = "2019/20",
    seed: int = 0,
    from_data: str | Path | None = None,
) -> dict[str, Any]:
    """A scenario document of England's shape (see the module docstring)."""
    rng = np.random.default_rng(seed)
    start_year = parse_fy(start)
    labels = [fy_label(start_year + i) for i in range(years)]
    if from_data is not None:
        from finsim.data import (
            EDITIONS,
            read_weighted_populations,
            scenario_organisations,
            weighted_populations,
        )

        practices = (
            weighted_populations(from_data)
            if isinstance(from_data, str) and from_data in EDITIONS
            else read_weighted_populations(from_data)
        )
        organisations: dict[str, Any] = dict(scenario_organisations(practices))
        region_ids = [r["id"] for r in organisations["regions"]]
        system_rows = organisations["systems"]
        commissioner_rows = organisations["commissioners"]
    else:
        region_ids = [f"region_{i + 1}" for i in range(regions)]
        per_region = _split(systems, regions, rng)
        region_of_system = np.repeat(np.arange(regions), per_region)
        system_rows = [
            {"id": f"system_{i + 1:02d}", "name": f"System {i + 1}", "region": region_ids[r]}
            for i, r in enumerate(region_of_system)
        ]
        per_system = _split(commissioners, len(system_rows), rng)
        commissioner_rows = []
        for s, n in zip(system_rows, per_system, strict=True):
            for _ in range(n):
                population = float(rng.uniform(250_000, 900_000))
                need = rng.uniform(0.85, 1.2)
                commissioner_rows.append(
                    {
                        "id": f"ccg_{len(commissioner_rows) + 1:03d}",
                        "name": f"Commissioner {len(commissioner_rows) + 1}",
                        "system": s["id"],
                        "population": round(population),
                        "weighted_population": round(population * need),
                        "deprivation_quintile": int(
                            min(5, max(1, round(6 - 4 * (need - 0.85) / 0.35)))
                        ),
                    }
                )
        organisations = {
            "regions": [{"id": r, "name": r.replace("_", " ").title()} for r in region_ids]
        }
    organisations["centre"] = {"id": "nhs_england", "name": "NHS England"}
    organisations["systems"] = system_rows
    organisations["commissioners"] = commissioner_rows

    # providers: every system has at least one acute trust; the rest spread by size
    n_systems = len(system_rows)
    if providers < n_systems:
        raise ValueError(f"need at least one provider per system ({n_systems})")
    kinds = ["acute"] * n_systems
    rest = providers - n_systems
    kinds += list(rng.choice(KINDS, size=rest, p=[0.5, 0.2, 0.2, 0.1]))
    provider_system = list(range(n_systems)) + list(rng.integers(0, n_systems, size=rest))
    provider_rows = []
    for i, (kind, s) in enumerate(zip(kinds, provider_system, strict=True)):
        provider_rows.append(
            {
                "id": f"trust_{i + 1:03d}",
                "name": f"Trust {i + 1} ({kind.replace('_', ' ')})",
                "system": system_rows[s]["id"],
                "kind": str(kind),
                "teaching": bool(kind == "acute" and rng.random() < 0.15),
                "market_forces_factor": round(float(rng.uniform(0.95, 1.15)), 3),
            }
        )
    organisations["providers"] = provider_rows

    # contracts: each commissioner's main acute trust, the other providers of its system,
    # and providers elsewhere, until there are ``contracts`` of them
    by_system: dict[str, list[int]] = {}
    for i, p in enumerate(provider_rows):
        by_system.setdefault(p["system"], []).append(i)
    pairs: list[tuple[int, int]] = []
    for ci, crow in enumerate(commissioner_rows):
        for pi in by_system[crow["system"]]:
            pairs.append((ci, pi))
    seen = set(pairs)
    while len(pairs) < contracts:
        pair = (int(rng.integers(len(commissioner_rows))), int(rng.integers(len(provider_rows))))
        if pair not in seen:
            seen.add(pair)
            pairs.append(pair)
    pairs = pairs[:contracts] if len(pairs) > contracts else pairs
    contract_rows = []
    commissioner_spend = np.zeros(len(commissioner_rows))
    provider_income = np.zeros(len(provider_rows))
    for k, (ci, pi) in enumerate(pairs):
        crow, prow = commissioner_rows[ci], provider_rows[pi]
        local = prow["system"] == crow["system"]
        scale = (
            crow["population"]
            / 1000
            * (1.0 if local else 0.08)
            * (1.0 if prow["kind"] == "acute" else 0.4)
        )
        scale /= (
            max(1, sum(provider_rows[q]["kind"] == "acute" for q in by_system[crow["system"]]))
            if prow["kind"] == "acute" and local
            else 1
        )
        plan = {
            pod: max(1, round(rate * scale * rng.uniform(0.8, 1.2)))
            for pod, (_, rate) in PODS.items()
        }
        value = (
            sum(PODS[pod][0] * units for pod, units in plan.items())
            / 1e6
            * prow["market_forces_factor"]
        )
        contract: dict[str, Any] = {
            "id": f"k{k + 1:04d}",
            "commissioner": crow["id"],
            "provider": prow["id"],
            "plan": plan,
        }
        if prow["kind"] in ("community", "mental_health"):
            contract.update(type="block", value=round(value, 2))
        elif prow["kind"] == "ambulance" or k % 5 == 0:
            contract.update(type="blended", variable_rate=0.2)
        contract_rows.append(contract)
        commissioner_spend[ci] += value
        provider_income[pi] += value

    opening = {}
    other_spend = {}
    for ci, crow in enumerate(commissioner_rows):
        allocation = commissioner_spend[ci] / 0.55  # contracts are ~55% of a commissioner's budget
        opening[crow["id"]] = round(allocation * rng.uniform(0.97, 1.03), 2)
        running_costs = RUNNING_COST_PER_HEAD * crow["population"] / 1e6
        other_spend[crow["id"]] = {"other_spend": round(allocation * 0.45 + running_costs, 2)}
    provider_costs = {}
    control_totals = {}
    allocation_psf = {}
    for pi, prow in enumerate(provider_rows):
        income = provider_income[pi] if provider_income[pi] > 0 else 20.0
        margin = rng.normal(-0.01, 0.02)
        variable = 0.45 if prow["kind"] != "community" else 0.0
        other_income = round(income * 0.12, 2)
        # plans count on CQUIN, sustainability funding and a delivered CIP: the cost base
        # carries them, so that the expected outturn is the planned margin
        expected_extra = income * (CQUIN_SHARE * 0.85 + PSF_SHARE) + CIP_SHARE * 0.75 * income
        fixed = income + other_income - variable * income - margin * income + expected_extra
        provider_costs[prow["id"]] = {
            "fixed": round(fixed, 2),
            "variable": variable,
            "other_income": other_income,
        }
        allocation_psf[prow["id"]] = round(income * PSF_SHARE, 2)
        # a control total is tested before sustainability funding (the quarterly
        # year-to-date total excluding STF, F2, F3): the planned margin, which counts on
        # the fund, less the fund's allocation, set a little above or below it
        control_totals[prow["id"]] = round(
            float(margin * income + rng.normal(0.0, 0.01) * income) - allocation_psf[prow["id"]],
            2,
        )
    for crow in commissioner_rows:
        control_totals[crow["id"]] = 0.0

    drifting = [p["id"] for p in provider_rows if p["kind"] == "acute"][:: max(1, n_systems // 8)]
    growth = {labels[0]: 0.0, **{y: round(float(rng.uniform(0.02, 0.04)), 4) for y in labels[1:]}}
    return _plain(
        {
            "scenario": {
                "name": "England (synthetic)",
                "description": f"{len(region_ids)} regions, {n_systems} systems, {len(commissioner_rows)} "
                f"commissioners, {len(provider_rows)} providers, {len(contract_rows)} contracts, {years} years; "
                "every mechanism on",
                "start": start,
                "years": years,
            },
            "organisations": organisations,
            "allocations": {
                "streams": {
                    "core": {
                        "holder": "commissioners",
                        "opening": opening,
                        "growth": {y: round(g + 0.005, 4) for y, g in growth.items()},
                        "pace": {"convergence": 0.3, "floor": 0.01, "cap": 0.06},
                    },
                    "running_costs": {
                        "holder": "commissioners",
                        "per_head": 22.0,
                        "need": "population",
                    },
                }
            },
            "tariff": {
                "prices": {pod: price for pod, (price, _) in PODS.items()},
                "cost_uplift": 0.028,
                "efficiency": 0.011,
                "emergency_marginal_rate": {"rate": 0.7, "pods": ["non_elective"]},
            },
            "contracts": contract_rows,
            "activity": {
                "growth": growth,
                "shock_sd": 0.02,
                "correlation": 0.5,
                "monthly_sd": 0.02,
                "case_mix": {
                    pid: {labels[0]: 0.015, labels[min(1, years - 1)]: 0.0} for pid in drifting
                },
            },
            "cquin": {"share": CQUIN_SHARE, "achievement": {"mean": 0.85, "sd": 0.08}},
            "disputes": {
                "review_month": 10,
                "threshold": 0.01,
                "negotiation": {"months": 1, "settle_chance": 0.3, "settle_share": 0.5},
                "mediation": {"months": 1, "settle_chance": 0.3, "settle_share": 0.5, "fee": 0.02},
                "expert_determination": {"months": 2, "provider_wins": 0.5, "fee": 0.1},
            },
            "costs": {
                "inflation": {labels[0]: 0.0, **{y: 0.03 for y in labels[1:]}},
                "providers": provider_costs,
                "commissioners": other_spend,
            },
            "savings": {
                "programmes": [
                    {
                        "id": "cip",
                        "who": "providers",
                        "share_of_costs": CIP_SHARE,
                        "delivery": {"mean": 0.75, "sd": 0.15},
                        "recurrent_share": 0.6,
                    },
                    {
                        "id": "qipp",
                        "who": "commissioners",
                        "share_of_costs": 0.01,
                        "delivery": {"mean": 0.7, "sd": 0.15},
                        "recurrent_share": 0.5,
                    },
                ]
            },
            "control_totals": {"organisations": control_totals, "acceptance": {"rule": "always"}},
            "incentives": {
                "fund": round(sum(allocation_psf.values()), 2),
                "allocation": allocation_psf,
                "finance_share": 0.7,
                "performance_chance": 0.9,
                "system_share": 0.25,
                "unearned": ["general_distribution"],
            },
            "interventions": {
                "months": [6, 9],
                "order": ["extra_surplus", "rapid_savings"],
                "extra_surplus": {
                    "select": "largest_headroom",
                    "share_of_gap": 0.5,
                    "delivery": {"mean": 0.8, "sd": 0.1},
                },
                "rapid_savings": {"share_of_gap": 0.5, "delivery": {"mean": 0.5, "sd": 0.2}},
            },
        }
    )


def _plain(value: Any) -> Any:
    """The document as plain Python data (numpy numbers become int and float), as YAML holds it."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value
