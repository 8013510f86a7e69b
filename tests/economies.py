"""Hypothesis strategies for random but valid economies (scenario documents)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

PODS = ("elective", "day_case", "non_elective", "outpatient_first")


@st.composite
def economies(draw: st.DrawFn, max_systems: int = 3, max_years: int = 3) -> dict[str, Any]:
    """A scenario document with 1-2 regions, systems, commissioners, providers and contracts."""
    n_regions = draw(st.integers(1, 2))
    n_systems = draw(st.integers(1, max_systems))
    regions = [{"id": f"r{i}"} for i in range(n_regions)]
    systems = [{"id": f"s{i}", "region": f"r{i % n_regions}"} for i in range(n_systems)]
    n_comm = draw(st.integers(1, 4))
    n_prov = draw(st.integers(1, 4))
    money = st.floats(0, 500, allow_nan=False, allow_infinity=False)
    rate = st.floats(-0.05, 0.1, allow_nan=False, allow_infinity=False)
    commissioners = [
        {
            "id": f"c{i}",
            "system": f"s{draw(st.integers(0, n_systems - 1))}",
            "population": draw(money) * 1000,
        }
        for i in range(n_comm)
    ]
    providers = [
        {
            "id": f"p{i}",
            "system": f"s{draw(st.integers(0, n_systems - 1))}",
            "market_forces_factor": draw(st.floats(0.8, 1.3)),
        }
        for i in range(n_prov)
    ]
    years = draw(st.integers(1, max_years))
    contracts = []
    for k in range(draw(st.integers(0, 6))):
        block = draw(st.booleans())
        contract: dict[str, Any] = {
            "id": f"k{k}",
            "commissioner": f"c{draw(st.integers(0, n_comm - 1))}",
            "provider": f"p{draw(st.integers(0, n_prov - 1))}",
        }
        if block:
            contract.update(type="block", value=draw(money))
        else:
            pods = draw(st.lists(st.sampled_from(PODS), min_size=1, max_size=4, unique=True))
            contract["plan"] = {p: draw(st.floats(0, 50_000)) for p in pods}
        contracts.append(contract)
    return {
        "scenario": {"name": "generated", "start": "2018/19", "years": years},
        "organisations": {
            "regions": regions,
            "systems": systems,
            "commissioners": commissioners,
            "providers": providers,
        },
        "allocations": {
            "opening": {c["id"]: draw(money) for c in commissioners},
            "uplift": draw(rate),
            "central_reserve": draw(st.floats(0, 50)),
        },
        "tariff": {
            "prices": {p: draw(st.floats(0, 5000)) for p in PODS},
            "cost_uplift": draw(rate),
            "efficiency": draw(st.floats(0, 0.05)),
        },
        "contracts": contracts,
        "activity": {
            "growth": draw(rate),
            "shock_sd": draw(st.floats(0, 0.3)),
            "monthly_sd": draw(st.floats(0, 0.3)),
        },
        "costs": {
            "inflation": draw(rate),
            "providers": {
                p["id"]: {
                    "fixed": draw(money),
                    "variable": draw(st.floats(0, 1)),
                    "other_income": draw(money),
                }
                for p in providers
            },
            "commissioners": {c["id"]: {"other_spend": draw(money)} for c in commissioners},
        },
    }
