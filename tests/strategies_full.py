"""Hypothesis strategies and helpers for the reliability tests: economies with every mechanism
switched on, hostile YAML, and the settings of the normal suite and of ``make fuzz``.

``make fuzz`` loads the hypothesis profile "fuzz" (registered in tests/conftest.py); the tests
that use :func:`fuzz_settings` then run their long number of examples. The normal suite keeps
the short one, so that it stays quick.
"""

from __future__ import annotations

import math
import os
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from .economies import PODS, economies

#: True under ``--hypothesis-profile=fuzz`` (the profile is loaded before tests are imported).
FUZZ = settings.get_current_profile_name() == "fuzz"
#: Multiplies the examples of ``make fuzz`` (``FINSIM_FUZZ_SCALE=10 make fuzz``: ten times as
#: many, ten times as long). The default run takes about five minutes on two cores.
FUZZ_SCALE = float(os.environ.get("FINSIM_FUZZ_SCALE", "1"))


def fuzz_settings(normal: int, fuzz: int) -> settings:
    """``normal`` examples in the normal suite, ``fuzz`` (times FINSIM_FUZZ_SCALE) under
    ``make fuzz``; no deadline (how long a case takes is for benchmarks/, never a test's
    assertion), and no health check on slow or large data."""
    return settings(
        max_examples=max(1, round(fuzz * FUZZ_SCALE)) if FUZZ else normal,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


# -- hostile values ------------------------------------------------------------------------------

#: Numbers at the edges: zero and minus zero, subnormal, huge, non-finite, past float range.
EDGE_NUMBERS = (
    0,
    -0.0,
    -1,
    5e-324,
    1e-300,
    1e16,
    1e300,
    1.7976931348623157e308,
    -1e308,
    10**400,
    -(10**400),
    math.nan,
    math.inf,
    -math.inf,
)
#: Text a scenario writer (or an attacker) might put anywhere.
EDGE_TEXT = (
    "",
    " ",
    "2018/19",
    "2018/20",
    "centre",
    "treasury",
    "external",
    "baseline",
    "null",
    "<script>alert('x')</script>",
    "../../../etc/passwd",
    "\u202eevil",
    "\x00",
    "\ud800",
    "\U0001f3e5 NHS",
    "x" * 300,
)

numbers = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(EDGE_NUMBERS),
)
texts = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec="utf-8"), max_size=10),
    st.text(st.characters(categories=["Cs", "Cc", "Zl", "Zp"]), max_size=5),
    st.sampled_from(EDGE_TEXT),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, texts, st.dates(), st.binary(max_size=8))


def values(max_leaves: int = 20) -> st.SearchStrategy[Any]:
    """Any value YAML can hold: scalars, lists and mappings, nested."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(texts, st.integers()), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


# -- economies with every mechanism --------------------------------------------------------------


@st.composite
def full_economies(draw: st.DrawFn, max_years: int = 3) -> dict[str, Any]:
    """A random economy (tests/economies.py) with every built-in mechanism switched on:
    CQUIN, disputes, control totals with incentives and a risk share, regional interventions
    with loans, savings, capital bids, and recurrent and one-off transfers."""
    doc = draw(economies(max_systems=3, max_years=max_years))
    doc["scenario"]["years"] = years = max(doc["scenario"]["years"], 2)
    orgs = doc["organisations"]
    commissioners = [c["id"] for c in orgs["commissioners"]]
    providers = [p["id"] for p in orgs["providers"]]
    bodies = commissioners + providers
    systems = [s["id"] for s in orgs["systems"]]
    regions = [r["id"] for r in orgs["regions"]]
    labels = [f"{2018 + i}/{(19 + i) % 100:02d}" for i in range(years)]
    money = st.floats(0, 100, allow_nan=False, allow_infinity=False)
    share = st.floats(0, 1, allow_nan=False, allow_infinity=False)

    # at least one contract, with coding drift, so that disputes have something to dispute
    if not doc["contracts"]:
        doc["contracts"] = [
            {
                "id": "k0",
                "commissioner": commissioners[0],
                "provider": providers[0],
                "plan": {"elective": draw(st.floats(0, 50_000))},
            }
        ]
    for contract in doc["contracts"]:
        kind = draw(st.sampled_from(["activity", "block", "blended"]))
        if kind == "block":
            contract.pop("plan", None)
            contract.update(type="block", value=contract.get("value", draw(money)))
        else:
            contract.pop("value", None)
            contract.pop("type", None)
            contract.setdefault("plan", {"elective": draw(st.floats(0, 50_000))})
            if kind == "blended":
                contract.update(type="blended", variable_rate=draw(share))
    doc["activity"]["case_mix"] = {
        p: draw(st.floats(0, 0.1)) for p in draw(st.lists(st.sampled_from(providers), unique=True))
    }
    if draw(st.booleans()):
        doc["tariff"]["emergency_marginal_rate"] = {"rate": draw(share), "pods": ["non_elective"]}
    if draw(st.booleans()):
        doc["tariff"]["short_stay_emergency"] = {"share": draw(share), "reduction": draw(share)}
    doc["cquin"] = {
        "share": draw(st.floats(0, 0.05)),
        "achievement": draw(
            st.one_of(share, st.builds(lambda m: {"mean": m, "sd": 0.1 * min(m, 1 - m)}, share))
        ),
    }
    doc["disputes"] = {
        "basis": draw(st.sampled_from(["case_mix", "activity"])),
        "review_month": draw(st.integers(2, 12)),  # (M1: see test_edge_cases)
        "threshold": draw(st.floats(0, 0.05)),
        "negotiation": {
            "months": draw(st.integers(0, 3)),
            "settle_chance": draw(share),
            "settle_share": draw(share),
            "fee": draw(st.floats(0, 0.5)),
        },
        "mediation": {
            "months": draw(st.integers(0, 3)),
            "settle_chance": draw(share),
            "settle_share": draw(share),
            "fee": draw(st.floats(0, 0.5)),
        },
        "expert_determination": {
            "months": draw(st.integers(1, 4)),
            "provider_wins": draw(share),
            "fee": draw(st.floats(0, 0.5)),
        },
        "provider_share_of_fees": draw(share),
    }
    totals = {
        b: draw(st.floats(-20, 20))
        for b in draw(st.lists(st.sampled_from(bodies), min_size=1, unique=True))
    }
    doc["control_totals"] = {
        "organisations": totals,
        "regions": {r: draw(st.floats(-10, 30)) for r in regions if draw(st.booleans())},
        "acceptance": {
            "rule": draw(st.sampled_from(["always", "never", "rational"])),
            "level": draw(st.sampled_from(["organisation", "system"])),
            "pilot_replications": 10,
            "delivery": {"mean": 0.8, "sd": 0.1},
            "overrides": {
                b: draw(st.sampled_from(["accept", "reject"]))
                for b in draw(st.lists(st.sampled_from(list(totals)), unique=True))
            },
        },
    }
    fund = draw(st.floats(0, 100))
    # weights of zero or at least 0.01: a subnormal sum would make the scale infinite
    weights = [draw(st.one_of(st.just(0.0), st.floats(0.01, 1))) for _ in totals]
    scale = fund / (sum(weights) or 1.0) * 0.999
    doc["incentives"] = {
        "fund": fund,
        "allocation": {b: w * scale for b, w in zip(totals, weights, strict=True)},
        "finance_share": draw(share),
        "performance_chance": draw(share),
        "system_share": draw(share),
        "unearned": draw(st.lists(st.sampled_from(["bonus", "general_distribution"]), unique=True)),
    }
    system_of = {m["id"]: m["system"] for m in orgs["commissioners"] + orgs["providers"]}
    deals = []
    for system in systems:
        members = [b for b in totals if system_of[b] == system]
        if members and draw(st.booleans()):
            raw = [draw(st.floats(0.01, 1)) for _ in members]
            shares = [w / sum(raw) for w in raw]
            shares[-1] = 1.0 - sum(shares[:-1])
            deals.append({"system": system, "shares": dict(zip(members, shares, strict=True))})
    if deals:
        doc["risk_share"] = deals
    doc["interventions"] = {
        "months": draw(st.lists(st.integers(1, 12), min_size=1, max_size=3, unique=True)),
        "order": draw(st.permutations(["extra_surplus", "top_slice", "rapid_savings", "loans"])),
        "extra_surplus": {"select": draw(st.sampled_from(["largest_headroom", "pro_rata"]))},
        "top_slice": {"share": draw(st.floats(0, 0.05))},
        "loans": {"repay_years": draw(st.integers(1, 4))},
    }
    doc["savings"] = {
        "programmes": [
            {
                "id": "cip",
                "who": "providers",
                "share_of_costs": draw(st.floats(0, 0.05)),
                "delivery": {"mean": 0.7, "sd": 0.1},
                "recurrent_share": draw(share),
            },
            {
                "id": "qipp",
                "who": "commissioners",
                "share_of_costs": draw(st.floats(0, 0.05)),
                "recurrent_share": draw(share),
            },
        ]
    }
    doc["capital"] = {
        "envelope": draw(money),
        "bids": [
            {
                "id": f"bid{i}",
                "provider": draw(st.sampled_from(providers)),
                "fy": draw(st.sampled_from(labels)),
                "amount": draw(money),
                "score": draw(st.floats(0, 10)),
            }
            for i in range(draw(st.integers(0, 4)))
        ],
    }
    transfers = []
    for i in range(draw(st.integers(0, 4))):
        to_commissioner = draw(st.booleans())
        transfers.append(
            {
                "id": f"t{i}",
                # (M1 of the first year: see test_edge_cases)
                "at": {"fy": draw(st.sampled_from(labels)), "month": draw(st.integers(2, 12))},
                "from": "centre",
                "to": draw(st.sampled_from(commissioners if to_commissioner else providers)),
                "amount": draw(money),
                "recurrence": draw(st.sampled_from(["recurrent", "non_recurrent"])),
                "category": "reallocation" if to_commissioner else "teaching_uplift",
            }
        )
    if transfers:
        doc["transfers"] = transfers
    return doc


__all__ = ["PODS", "full_economies"]
