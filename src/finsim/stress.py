"""Stress-testing incentive schemes: several variants on common random numbers, compared.

``finsim.stress(scenario, variants, replications, seed)`` runs every variant with
the same seed, so replication r of each variant sees the same demand, coding and
delivery draws (common random numbers): differences between variants are the
schemes', not the dice's, and a paired difference has a small Monte Carlo error.

The comparison tables, per variant:

* ``meeting``: probability that each organisation, system and region meets its
  control total (before incentives), with a Wilson score interval;
* ``incentives``: incentive funding earned (mean and quantiles) and lost
  (allocation not earned), per organisation and year;
* ``system_risk``: value at risk and expected shortfall (97.5%) of each system's
  and region's deficit before incentive funding;
* ``acceptance``: each body's decision under each variant, and how many accept;
* ``subsidies``: net money received from or given to others, by body and by
  deprivation quintile;
* ``underlying``: reported against underlying position;

and :meth:`StressResults.difference` pairs two variants replication by
replication, per body or per system's, region's or England's total: mean
difference and its standard error. :meth:`StressResults.comparison` puts what a
board compares in one table (:mod:`finsim.comparison`), and
:meth:`StressResults.to_excel` writes it to a workbook. Every table lists the
variants in the order they were asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finsim.intervals import wilson_interval as wilson_interval  # re-exported here
from finsim.results import Results
from finsim.runner import run
from finsim.scenario.loader import BASELINE, Scenario


def value_at_risk(losses: np.ndarray, level: float = 0.975, axis: int = 0) -> np.ndarray:
    """The ``level`` quantile of losses."""
    return np.quantile(losses, level, axis=axis)


def expected_shortfall(losses: np.ndarray, level: float = 0.975, axis: int = 0) -> np.ndarray:
    """Mean of the worst (1 - level) share of losses (the tail beyond the value at risk).

    Uses the Acerbi-Tasche estimator on sorted losses: the mean of the worst
    ceil(n (1 - level)) outcomes, so it is defined for any sample size.
    """
    x = np.sort(np.moveaxis(np.asarray(losses, dtype=float), axis, 0), axis=0)
    n = x.shape[0]
    k = max(int(np.ceil(n * (1 - level) - 1e-9)), 1)  # 1 - 0.975 is not exactly 0.025
    return x[n - k :].mean(axis=0)


@dataclass
class StressResults:
    """The outcome of :func:`stress`: one :class:`Results` per variant, and comparisons."""

    results: dict[str, Results]
    confidence: float = 0.95
    antithetic: bool = False

    @property
    def variants(self) -> list[str]:
        return list(self.results)

    def _each(self, build: Any) -> pd.DataFrame:
        frames = [build(name, res).assign(variant=name) for name, res in self.results.items()]
        frame = pd.concat(frames, ignore_index=True)
        return frame[["variant", *[c for c in frame.columns if c != "variant"]]]

    def _in_order(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows sorted by variant in the order the variants were asked for (not by name)."""
        rank = frame["variant"].map({name: i for i, name in enumerate(self.variants)})
        return frame.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)

    def meeting(self) -> pd.DataFrame:
        """Probability of meeting the control total, with a Wilson interval, per body and year."""

        def build(name: str, res: Results) -> pd.DataFrame:
            summary = res.summary()
            summary = summary[summary["control_total"].notna()]
            n = res.replications
            k = np.round(summary["p_met_control_total"].to_numpy() * n)
            low, high = wilson_interval(k, np.full(k.shape, n), self.confidence)
            return summary[["level", "name", "fy", "control_total"]].assign(
                p_met=summary["p_met_control_total"].to_numpy(),
                p_met_low=low,
                p_met_high=high,
                replications=n,
            )

        return self._each(build)

    def incentives(self, quantiles: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Incentive funding earned (mean, quantiles) and lost, per body and year."""

        def build(name: str, res: Results) -> pd.DataFrame:
            allocation = res._extras.get("incentive_allocation")
            if allocation is None:
                return pd.DataFrame(columns=["org", "fy"])
            arrays = res._position_arrays
            bodies = np.flatnonzero(allocation.any(axis=0))
            earned = arrays["received_incentive_payment"][
                :, :, bodies
            ]  # (R, F, n), quarterly payments
            redistributed = arrays["incentive_earned"][:, :, bodies] - earned
            accepted = res._extras.get("accepted_control_total")
            F, n = earned.shape[1], bodies.size
            out = pd.DataFrame(
                {
                    "org": np.tile(np.array(res.economy.ids, dtype=object)[bodies], F),
                    "fy": np.repeat(np.array(res.years, dtype=object), n),
                    "allocation": allocation[:, bodies].reshape(-1),
                    "accepted": (accepted[:, bodies] > 0.5).reshape(-1)
                    if accepted is not None
                    else True,
                    "earned_mean": earned.mean(axis=0).reshape(-1),
                    "redistributed_mean": redistributed.mean(axis=0).reshape(-1),
                }
            )
            for q in quantiles:
                out[f"earned_p{round(q * 100):02d}"] = np.quantile(earned, q, axis=0).reshape(-1)
            out["lost_mean"] = out["allocation"] - out["earned_mean"]  # before redistribution
            return out

        return self._each(build)

    def system_risk(self, level: float = 0.975) -> pd.DataFrame:
        """Value at risk and expected shortfall of system and regional deficits **before
        incentive funding** (the measure control totals are met on), GBP m: ``deficit_mean``,
        ``deficit_varNN`` and ``deficit_esNN`` (a negative deficit is a surplus)."""

        def build(name: str, res: Results) -> pd.DataFrame:
            rows = []
            arrays = res._position_arrays
            economy = res.economy
            for kind in ("system", "region"):
                accounts = economy.of_type(kind)
                before = arrays[f"{kind}_surplus_before_incentives"][:, :, accounts]  # (R, F, n)
                deficit = -before
                var = value_at_risk(deficit, level)
                es = expected_shortfall(deficit, level)
                for f, fy in enumerate(res.years):
                    for j, a in enumerate(accounts):
                        rows.append(
                            {
                                "level": kind,
                                "name": economy.ids[a],
                                "fy": fy,
                                "deficit_mean": deficit[:, f, j].mean(),
                                f"deficit_var{round(level * 1000) / 10:g}": var[f, j],
                                f"deficit_es{round(level * 1000) / 10:g}": es[f, j],
                            }
                        )
            return pd.DataFrame(rows)

        return self._each(build)

    def acceptance(self) -> pd.DataFrame:
        """Each body's decision under each variant (one row per body and year), and counts."""

        def build(name: str, res: Results) -> pd.DataFrame:
            pos = res.positions
            pos = pos[
                pos["accepted_control_total"].notna()
                & (pos["replication"] == pos["replication"].min())
            ]
            return pos[
                ["fy", "org", "org_type", "system", "region", "accepted_control_total"]
            ].rename(columns={"accepted_control_total": "accepted"})

        return self._each(build)

    def acceptance_counts(self) -> pd.DataFrame:
        """How many bodies, and how many systems (all members accepting), accept under each
        variant and year; variants in the order they were asked for."""
        table = self.acceptance()
        bodies = (
            table.groupby(["variant", "fy"])["accepted"]
            .agg(["sum", "count"])
            .rename(columns={"sum": "bodies_accepting", "count": "bodies"})
        )
        systems = (
            table.groupby(["variant", "fy", "system"], observed=True)["accepted"]
            .all()
            .groupby(["variant", "fy"], observed=True)
            .agg(["sum", "count"])
        )
        systems = systems.rename(columns={"sum": "systems_accepting", "count": "systems"})
        return self._in_order(bodies.join(systems).reset_index())

    def subsidies(self, by: str = "org") -> pd.DataFrame:
        """Net money received (+) or given (-) through top slices, risk shares, re-allocations and
        extra surpluses: per body (``by="org"``) or per deprivation quintile (``by="deprivation"``)."""
        table = self._each(lambda name, res: res.subsidies())
        if by == "org":
            return table
        columns = [
            "top_slice",
            "risk_share",
            "reallocation",
            "savings",
            "extra_surplus",
            "net_received",
        ]
        summed = table.groupby(["variant", "fy", "deprivation_quintile"])[columns].sum()
        return self._in_order(summed.reset_index())

    def underlying(self) -> pd.DataFrame:
        """Mean reported and underlying surplus per body and year."""

        def build(name: str, res: Results) -> pd.DataFrame:
            grouped = res.positions.groupby(["org", "org_type", "fy"])
            return grouped[["surplus", "underlying_surplus"]].mean().reset_index()

        return self._each(build)

    def comparison(
        self,
        baseline: str | None = None,
        levels: Sequence[str] = ("england", "region", "system"),
        tail: float = 0.05,
    ) -> pd.DataFrame:
        """The board's comparison of the variants, per variant, body and year: probability of
        meeting the control total with its Wilson interval, incentive funding earned and
        lost, expected shortfall (the mean position before incentive funding in the worst
        ``tail`` of replications, and the mean shortfall against the control total), and
        paired differences from ``baseline`` (default: the first variant) with standard
        errors. See :func:`finsim.comparison.comparison`."""
        from finsim.comparison import comparison

        return comparison(self, baseline, levels, tail)

    def to_excel(self, path: str | Path, baseline: str | None = None) -> Path:
        """Write the comparison to one Excel workbook (needs the 'excel' extra): a README,
        the comparison, each variant's surplus by organisation and year in the layout of a
        plan template, and the comparison tables; see :mod:`finsim.workbook_stress`."""
        from finsim.workbook_stress import stress_to_excel

        return stress_to_excel(self, path, baseline=baseline)

    def difference(
        self, a: str, b: str, column: str = "surplus", level: str = "org"
    ) -> pd.DataFrame:
        """Variant ``b`` minus variant ``a``, paired by replication, per body and year.

        ``column`` is a column of ``positions``: ``"surplus"`` (as reported, after incentive
        funding) or ``"surplus_before_incentives"`` (what control totals are met on), say.
        ``level="org"`` pairs each account (a system's or region's row is its own account);
        ``"system"`` or ``"region"`` pairs each system's or region's total, the sum over its
        members and its own account in each replication (the key column is then named
        ``system`` or ``region``); ``"england"`` the sum over every account (key column
        ``england``, valued ``"England"``).

        ``mean`` is the mean difference, ``se`` its Monte Carlo standard error (the sd of the
        paired differences over sqrt(R)); with common random numbers it is far smaller than
        the error of two independent runs.
        """
        if level not in ("org", "system", "region", "england"):
            raise ValueError(
                f"difference at level 'org', 'system', 'region' or 'england', got {level!r}"
            )
        for name in (a, b):
            if name not in self.results:
                raise KeyError(
                    f"no variant {name!r}; these results have {', '.join(self.variants)}"
                )
        pa = _keyed(self.results[a].positions, column, level)
        pb = _keyed(self.results[b].positions, column, level)
        paired = (pb - pa).astype(float)
        if self.antithetic:  # mirrored pairs are not independent: average each pair first
            pairs = paired.index.get_level_values("replication") // 2
            paired = paired.groupby(
                [pairs, paired.index.get_level_values("fy"), paired.index.get_level_values(level)]
            ).mean()
            paired.index.names = ["replication", "fy", level]
        diff = paired.groupby(level=["fy", level])
        n = diff.count()
        out = pd.DataFrame(
            {"mean": diff.mean(), "se": diff.std(ddof=1) / np.sqrt(n), "replications": n}
        )
        out["se"] = out["se"].fillna(0.0)
        return out.reset_index().assign(variant_a=a, variant_b=b, column=column)


def _keyed(positions: pd.DataFrame, column: str, level: str) -> pd.Series:
    """``column`` of each account (``level="org"``), or summed over each system's or region's
    members and own account, or over every account, indexed by (replication, fy, org /
    system / region / england)."""
    if column not in positions:
        raise KeyError(f"no column {column!r} in positions")
    if level == "org":
        return positions.set_index(["replication", "fy", "org"])[column]
    if level == "england":
        england = pd.Series("England", index=positions.index, name="england")
        keys = [positions["replication"], positions["fy"], england]
        return positions[column].groupby(keys, sort=True).sum()
    own = positions["org_type"] == level
    parent = positions[level].where(~own, positions["org"])
    inside = parent.notna().to_numpy()
    chosen = positions[inside]
    keys = [chosen["replication"], chosen["fy"], parent[inside].rename(level)]
    return chosen[column].groupby(keys, sort=True).sum()


def stress(
    scenario: Scenario,
    variants: Sequence[str] | None = None,
    replications: int = 1000,
    seed: int = 0,
    **options: Any,
) -> StressResults:
    """Run ``variants`` (default: the base and every declared variant) on common random numbers.

    Other keyword arguments go to :func:`finsim.run` (``chunk_size``, ``backend``,
    ``client``, ``antithetic``...). Each variant keeps its replications' positions, which
    the paired comparisons need, however many there are.
    """
    names = list(variants) if variants else [BASELINE, *scenario.variants]
    out = options.pop("out", None)
    options.setdefault("keep_positions", True)  # the comparisons pair replications
    results = {
        name: run(
            scenario.with_variant(name),
            replications=replications,
            seed=seed,
            out=None if out is None else Path(out) / name,  # one results folder per variant
            **options,
        )
        for name in names
    }
    return StressResults(results, antithetic=bool(options.get("antithetic", False)))
