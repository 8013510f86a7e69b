"""Fit the behavioural decision model to what NHS boards actually did.

The behavioural rule (:mod:`finsim.behaviour`) has parameters no document states: how much
boards disliked risk (``risk_aversion``) and losses against the status quo
(``loss_aversion``). This module fits them to published counts (packaged with their
sources: :func:`published`): trusts accepting their control totals in 2016/17 (214 of 238),
2017/18 (212 of 234) and 2018/19 (201 of 227), and the ten first-wave ICSs of 2018/19, most
of which took neither system option.

The population is finsim's England-shaped synthetic economy (:func:`finsim.synth.england`),
one year per target with that year's scheme (fund, finance share, bonus or general
distribution); its sizes, margins and control totals are invented, so the fit says which
parameters make *such* a population decide as England's trusts did, not what any real
trust weighed. Each target's pilot (every body rejecting) is run once; the decisions for a
parameter value are then pure arithmetic, so the whole grid is cheap. The likelihood is
binomial for the counts (the synthetic share accepting as the probability) and, for the
ICSs, the probability that at most 4 of 10 take an option. The result is the grid's
log-likelihood, its best point and the 95% likelihood-ratio region (chi-squared, one
degree of freedom per parameter), whose projections are the parameters' intervals.

    from finsim import calibrate
    fit = calibrate.fit(calibrate.populations())   # about 20 s on two cores
    print(fit.best, fit.intervals)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from typing import Any

import numpy as np
import yaml
from scipy import stats

from finsim.decisions import Pilot, behavioural, pilot
from finsim.scenario.loader import Scenario


def lr_threshold(parameters: int, level: float = 0.95) -> float:
    """The drop in log-likelihood bounding the likelihood-ratio region: chi-squared with one
    degree of freedom per parameter fitted, at ``level``, halved."""
    return float(stats.chi2.ppf(level, parameters) / 2)


#: The default grid of the parameters fitted (the others at their scenario's values).
GRID = {
    "risk_aversion": tuple(float(x) for x in np.round(np.linspace(0.0, 3.0, 13), 2)),
    "loss_aversion": tuple(float(x) for x in np.round(np.linspace(1.0, 7.0, 25), 2)),
}


def published() -> dict[str, Any]:
    """The packaged targets: control-total acceptance counts, the ICS system options and
    back-tests, each with its source and confidence mark."""
    text = resources.files("finsim.data").joinpath("targets/acceptance.yaml").read_text("utf-8")
    return dict(yaml.safe_load(text))


@dataclass
class Population:
    """One target's pilot: who decides, how the count is read, and the data it is fitted to."""

    name: str
    scenario: Scenario
    run: Pilot
    #: "providers": the share of providers with a total accepting their own; "systems": the
    #: share of systems taking the scenario's system option
    counts: str
    observed: int
    of: int
    at_most: bool = False
    variants: dict[str, Scenario] = field(default_factory=dict)

    def share(self, params: dict[str, float]) -> float:
        """The share deciding yes at ``params`` (the mean over the variants, for systems)."""
        scenarios = list(self.variants.values()) or [self.scenario]
        shares = [self._share(s, params) for s in scenarios]
        return float(np.mean(shares))

    def _share(self, scenario: Scenario, params: dict[str, float]) -> float:
        config = scenario.model.control_totals  # type: ignore[attr-defined]
        acceptance = config.acceptance.model_copy(update=params)
        config = config.model_copy(update={"acceptance": acceptance})
        economy, before, delivered, improvement = self.run
        out = behavioural(config, scenario, economy, before, delivered, improvement)
        table = out["tables"]["acceptance"].join(self._orgs, on="org")
        if self.counts == "providers":
            rows = table[table["org_type"] == "provider"]
            return float(rows["accepted"].mean()) if len(rows) else 0.0
        return float(table.groupby("system")["on_option"].all().mean())

    @cached_property
    def _orgs(self) -> Any:
        """Each account's type and system (a body without a system is its own)."""
        orgs = self.run.economy.org_table().set_index("org")[["org_type", "system"]]
        return orgs.assign(system=orgs["system"].where(orgs["system"].notna(), orgs.index))

    def log_likelihood(self, params: dict[str, float]) -> float:
        p = float(np.clip(self.share(params), 1e-6, 1 - 1e-6))
        if self.at_most:
            return float(stats.binom.logcdf(self.observed, self.of, p))
        return float(stats.binom.logpmf(self.observed, self.of, p))


def england_year(
    fy: str, scheme: dict[str, Any], size: dict[str, int] | None = None
) -> dict[str, Any]:
    """The synthetic England for one year ``fy`` under ``scheme`` (fund GBP m, finance
    share, bonus ratio, how unearned money returns), own control totals only, decided by
    the behavioural rule."""
    from finsim.synth import england

    doc = england(start=fy, years=1, **(size or {}))  # type: ignore[arg-type]
    incentives = doc["incentives"]
    scale = scheme["fund"] / incentives["fund"]
    incentives["allocation"] = {k: v * scale for k, v in incentives["allocation"].items()}
    incentives.update(
        fund=scheme["fund"],
        finance_share=scheme["finance_share"],
        bonus_ratio=scheme["bonus_ratio"],
        unearned=list(scheme["unearned"]),
        system_share=0.0,
    )
    doc["control_totals"]["acceptance"] = {
        "rule": "behavioural",
        "pilot_replications": 50,
        "delivery": {"mean": 0.7, "sd": 0.15},
    }
    doc.pop("interventions", None)
    return doc


def populations(
    size: dict[str, int] | None = None,
    ics: str | None = "examples/ics_control_totals_2018.yaml",
    simulate: Callable[..., Any] | None = None,
) -> list[Population]:
    """The published targets as populations: a synthetic England year per acceptance count
    and, with ``ics`` (a scenario file with variants ``interim`` and ``fully_system``), the
    ICS options. Runs each pilot once."""
    from finsim.runner import simulate_pilot

    simulate = simulate or simulate_pilot
    targets = published()
    out = []
    for target in targets["control_total_acceptance"]:
        scenario = Scenario.from_dict(england_year(target["fy"], target["scheme"], size))
        config = scenario.model.control_totals  # type: ignore[attr-defined]
        run = pilot(config, scenario, 0, simulate)
        name = f"control totals {target['fy']}"
        out.append(Population(name, scenario, run, "providers", target["accepted"], target["of"]))
    if ics is not None:
        from finsim.scenario.loader import load_scenario

        base = load_scenario(ics)
        for target in targets["system_options"]:
            variants = {v: base.with_variant(v) for v in target["options"]}
            first = next(iter(variants.values()))
            config = first.model.control_totals  # type: ignore[attr-defined]
            run = pilot(config, first, 0, simulate)
            out.append(
                Population(
                    f"ICS options {target['fy']}",
                    first,
                    run,
                    "systems",
                    target["at_most"],
                    target["of"],
                    at_most=True,
                    variants=variants,
                )
            )
    return out


@dataclass
class Fit:
    """A calibration: the grid's log-likelihood, its best point and the 95% region."""

    names: tuple[str, ...]
    grid: list[dict[str, float]]
    log_likelihood: np.ndarray
    shares: dict[str, np.ndarray]

    @property
    def best(self) -> dict[str, float]:
        return self.grid[int(np.argmax(self.log_likelihood))]

    @property
    def region(self) -> list[dict[str, float]]:
        """The grid points inside the 95% likelihood-ratio region."""
        floor = self.log_likelihood.max() - lr_threshold(len(self.names))
        return [g for g, ll in zip(self.grid, self.log_likelihood, strict=True) if ll >= floor]

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """Each parameter's range over the 95% region (the grid's resolution limits it)."""
        region = self.region
        return {n: (min(g[n] for g in region), max(g[n] for g in region)) for n in self.names}


def fit(
    pops: Sequence[Population],
    grid: dict[str, Iterable[float]] | None = None,
    fixed: dict[str, float] | None = None,
) -> Fit:
    """Maximise the joint log-likelihood of ``pops`` over ``grid`` (default :data:`GRID`),
    with the other behavioural parameters at ``fixed``."""
    grid = {k: tuple(v) for k, v in (grid or GRID).items()}
    names = tuple(grid)
    points = [dict(zip(names, values, strict=True)) for values in itertools.product(*grid.values())]
    ll = np.zeros(len(points))
    shares = {p.name: np.zeros(len(points)) for p in pops}
    for i, point in enumerate(points):
        params = {**(fixed or {}), **point}
        for pop in pops:
            ll[i] += pop.log_likelihood(params)
            shares[pop.name][i] = pop.share(params)
    return Fit(names, points, ll, shares)


def simulated_counts(
    pops: Sequence[Population], params: dict[str, float], seed: int
) -> list[Population]:
    """The populations with counts drawn from the model at ``params`` (binomial, each
    population's own size): data to check that :func:`fit` recovers what made them."""
    rng = np.random.default_rng(seed)
    out = []
    for pop in pops:
        k = int(rng.binomial(pop.of, pop.share(params)))
        out.append(
            Population(
                pop.name, pop.scenario, pop.run, pop.counts, k, pop.of, pop.at_most, pop.variants
            )
        )
    return out


def back_tests(
    params: dict[str, float],
    replications: int = 100,
    seed: int = 1,
    size: dict[str, int] | None = None,
) -> Any:
    """The model at ``params`` beside published outcomes it was not fitted to
    (``published()["back_tests"]``), each year's synthetic England run under that year's
    scheme: the share of funded trusts passing the finance test at Q2 of 2016/17, the share
    of the 2017/18 fund paid out (and by general distribution), the share of 2018/19's Q1
    money withheld. Shares, not sums: the synthetic economy is England-shaped, not England.
    Returns a table: what, published, model, confidence, note."""
    import pandas as pd

    from finsim.runner import run

    schemes = {t["fy"]: t["scheme"] for t in published()["control_total_acceptance"]}
    results = {}
    for fy, scheme in schemes.items():
        doc = england_year(fy, scheme, size)
        doc["control_totals"]["acceptance"].update(params)
        results[fy] = run(
            Scenario.from_dict(doc), replications=replications, seed=seed, keep_tables=True
        )

    def quarters(fy: str, q: int) -> Any:
        table = results[fy].table("incentive_quarters")
        return table[(table["quarter"] == q) & (table["accepted"] > 0.5)]

    q2 = quarters("2016/17", 2)
    q1 = quarters("2018/19", 1)
    res = results["2017/18"]
    flows = res.flows
    fund = schemes["2017/18"]["fund"]
    paid = flows[flows["category"].isin(["incentive_payment", "general_distribution"])]
    distributed = flows[flows["category"] == "general_distribution"]
    rows = [
        (
            "STF 2016/17 Q2: funded trusts passing the finance test",
            196 / 227,
            float(q2["finance_test"].mean()),
            "U",
            "share of trusts that accepted",
        ),
        (
            "STF 2016/17 Q2: passing the performance test",
            152 / 227,
            float(q2["performance_test"].mean()),
            "U",
            "the model's performance chance is an input (0.9), not a result",
        ),
        (
            "PSF 2017/18: share of the fund paid out",
            1793.0 / 1800.0,
            float(paid["amount"].sum()) / res.replications / fund,
            "S",
            "",
        ),
        (
            "PSF 2017/18: share paid by general distribution",
            410.0 / 1800.0,
            float(distributed["amount"].sum()) / res.replications / fund,
            "S",
            "",
        ),
        (
            "PSF 2018/19 Q1: share of the quarter's money withheld",
            185.0 / (0.15 * 2450.0),
            float(1 - q1["paid"].sum() / q1["earnable"].sum()),
            "U",
            "published share assumes 15% of the fund earnable in Q1",
        ),
    ]
    return pd.DataFrame(rows, columns=["what", "published", "model", "confidence", "note"])


def bootstrap(
    pops: Sequence[Population], result: Fit, draws: int = 200, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """A parametric bootstrap of ``result``: counts drawn from the model at its best point
    (binomial, each population's size; for an "at most" target, its probability), refitted
    on the same grid (the shares at every grid point are kept in ``result``, so a refit is
    arithmetic), and each parameter's 2.5th and 97.5th percentile over the ``draws``. Like
    the likelihood-ratio region it is conditional on the model being right."""
    rng = np.random.default_rng(seed)
    best = int(np.argmax(result.log_likelihood))
    picked: list[dict[str, float]] = []
    for _ in range(draws):
        ll = np.zeros(len(result.grid))
        for pop in pops:
            share = np.clip(result.shares[pop.name], 1e-6, 1 - 1e-6)
            k = int(rng.binomial(pop.of, share[best]))
            if pop.at_most:  # only whether at most ``observed`` took it is known
                below = k <= pop.observed
                ll += (stats.binom.logcdf if below else stats.binom.logsf)(
                    pop.observed, pop.of, share
                )
            else:
                ll += stats.binom.logpmf(k, pop.of, share)
        picked.append(result.grid[int(np.argmax(ll))])
    return {
        name: (
            float(np.percentile([p[name] for p in picked], 2.5)),
            float(np.percentile([p[name] for p in picked], 97.5)),
        )
        for name in result.names
    }
