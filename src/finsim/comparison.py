"""The comparison of scheme variants a board reads: per variant, for each system, region and
England, and each year, the chance of meeting the control total, the incentive funding
earned and lost, the tail of the position, and the paired difference from a baseline variant.

:func:`comparison` builds it from a :class:`finsim.stress.StressResults`
(``StressResults.comparison()`` is the method form). Every figure is measured from the
replications of each variant, which share their random numbers (common random numbers), so
the paired differences carry small standard errors. The columns, money in GBP m:

* ``control_total``: the control total (mean over replications; NaN where none is set);
* ``p_met``: share of replications whose surplus **before incentive funding** meets the
  control total (the rule of :meth:`finsim.Results.summary`), with its Wilson score interval
  ``p_met_low``, ``p_met_high`` (95% by default);
* ``surplus_before_incentives_mean`` and ``surplus_mean`` (as reported, after incentive
  funding): means over replications;
* ``worstNN_mean``: the **expected shortfall** of the position, defined here as the mean
  surplus before incentive funding over the worst NN% of replications (``tail=0.05``: the
  worst 5%; Acerbi-Tasche, the mean of the worst ceil(R x tail)); negative is a deficit;
* ``ct_shortfall_mean``: the expected shortfall **against the control total**, the mean over
  replications of max(0, control total - surplus before incentive funding): how far, on
  average, the body falls short of its total (0 in a year it meets it);
* ``incentive_allocation``, ``incentive_earned_mean`` (incentive payments earned, as
  :meth:`~finsim.stress.StressResults.incentives` counts them, before any redistribution of
  unearned money) and ``incentive_lost_mean`` (allocation less earned), summed over the
  bodies in the system, region or England;
* ``surplus_before_incentives_diff``, ``surplus_diff``, ``p_met_diff`` and
  ``incentive_earned_diff``, each with its ``_se``: the variant minus the baseline, paired
  by replication, and the standard error of that mean (sd of the R paired differences over
  sqrt(R); with antithetic replications each mirrored pair is averaged first). Empty (NaN)
  in the baseline's own rows.

:func:`stress_tables` gives the long comparison tables ``finsim stress --out`` writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from finsim.numeric import row_sum

if TYPE_CHECKING:
    from finsim.economy import Economy
    from finsim.results import Results
    from finsim.stress import StressResults

#: The levels of :func:`comparison`, in the order its rows take.
LEVELS = ("england", "region", "system", "org")
#: A control total is met when the surplus before incentive funding is at least the total,
#: less this (float noise), as in the run's summary.
MET_TOLERANCE = 1e-9
#: Paired differences smaller than this (GBP m; a thousandth of a penny) are float noise.
NOISE = 1e-9
#: The measures paired against the baseline, by the name their columns take.
PAIRED = ("surplus_before_incentives", "surplus", "p_met", "incentive_earned")


def worst_count(replications: int, tail: float) -> int:
    """How many replications the expected shortfall averages: ceil(R x tail), at least 1."""
    return max(int(np.ceil(replications * tail - 1e-9)), 1)  # 0.05 x 20 is not exactly 1


def tail_column(tail: float) -> str:
    """The name of the expected-shortfall column for a tail share, e.g. ``worst5_mean``."""
    return f"worst{round(tail * 1000) / 10:g}_mean"


def comparison(
    stress: StressResults,
    baseline: str | None = None,
    levels: Sequence[str] = ("england", "region", "system"),
    tail: float = 0.05,
) -> pd.DataFrame:
    """The board's comparison of the variants of ``stress`` (see the module docstring).

    ``baseline`` is the variant the others are paired against (default: the first asked);
    ``levels`` which totals to show: ``"england"``, ``"region"``, ``"system"`` and
    ``"org"`` (each commissioner and provider); ``tail`` the share of worst replications
    the expected shortfall averages. One row per variant, body and year: bodies in the
    order England, regions, systems, organisations (each in file order), variants in the
    order asked within each body and year.
    """
    from finsim.intervals import wilson_interval

    baseline = stress.variants[0] if baseline is None else baseline
    if baseline not in stress.results:
        raise KeyError(f"no variant {baseline!r}; these results have {', '.join(stress.variants)}")
    unknown = [level for level in levels if level not in LEVELS]
    if unknown or not levels:
        raise ValueError(f"levels are some of {', '.join(LEVELS)}, got {list(levels)!r}")
    if not 0.0 < tail < 1.0:
        raise ValueError(f"tail is a share of replications between 0 and 1, got {tail!r}")
    measured = {name: _measures(res, levels) for name, res in stress.results.items()}
    base = measured[baseline]
    first = stress.results[baseline]
    frames = []
    for variant, (meta, cells) in measured.items():
        R = cells["surplus"].shape[0]
        has = ~np.isnan(cells["control_total"])
        met = _met(cells)
        some = has.any(axis=0)
        k = met.sum(axis=0)
        low, high = wilson_interval(k, np.full(k.shape, R), stress.confidence)
        total = np.where(has, cells["control_total"], 0.0)
        with np.errstate(invalid="ignore"):
            control = np.where(some, total.sum(axis=0) / np.maximum(has.sum(axis=0), 1), np.nan)
        miss = np.where(has, np.maximum(total - cells["before"], 0.0), 0.0).mean(axis=0)
        worst = worst_count(R, tail)
        out: dict[str, np.ndarray] = {
            "control_total": control,
            "p_met": np.where(some, k / R, np.nan),
            "p_met_low": np.where(some, low, np.nan),
            "p_met_high": np.where(some, high, np.nan),
            "surplus_before_incentives_mean": cells["before"].mean(axis=0),
            tail_column(tail): np.sort(cells["before"], axis=0)[:worst].mean(axis=0),
            "ct_shortfall_mean": np.where(some, miss, np.nan),
            "incentive_allocation": cells["allocation"],
            "incentive_earned_mean": cells["earned"].mean(axis=0),
            "incentive_lost_mean": cells["allocation"] - cells["earned"].mean(axis=0),
            "surplus_mean": cells["surplus"].mean(axis=0),
        }
        base_met = _met(base[1])
        for measure in PAIRED:
            mine = met if measure == "p_met" else cells[_CELL[measure]]
            theirs = base_met if measure == "p_met" else base[1][_CELL[measure]]
            if variant == baseline:
                mean = se = np.full(mine.shape[1:], np.nan)
            else:
                mean, se = paired(mine - theirs, stress.results[variant], stress.antithetic)
            if measure == "p_met":
                mean, se = np.where(some, mean, np.nan), np.where(some, se, np.nan)
            out[f"{measure}_diff"], out[f"{measure}_diff_se"] = mean, se
        F, n = out["surplus_mean"].shape
        frame = pd.DataFrame({key: value.reshape(-1) for key, value in out.items()})
        frame.insert(0, "fy", np.repeat(np.array(first.years, dtype=object), n))
        frame.insert(0, "organisation", np.tile(meta["organisation"].to_numpy(), F))
        frame.insert(0, "name", np.tile(meta["name"].to_numpy(), F))
        frame.insert(0, "level", np.tile(meta["level"].to_numpy(), F))
        frame.insert(0, "variant", variant)
        frame["rank"] = np.tile(np.arange(n), F)
        frame["replications"] = R
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    order = {name: i for i, name in enumerate(stress.variants)}
    table["_variant"] = table["variant"].map(order)
    table = table.sort_values(["rank", "fy", "_variant"], kind="stable")
    table = table.drop(columns=["rank", "_variant"]).reset_index(drop=True)
    for column in [c for c in table.columns if "_diff" in c]:
        # float noise (a paired difference of 1e-13 where nothing changed) is the 0 it is
        values = table[column].to_numpy()
        table[column] = np.where(np.abs(values) < NOISE, 0.0, values) + 0.0
    table.attrs.update(baseline=baseline, tail=tail, confidence=stress.confidence)
    return table


_CELL = {
    "surplus_before_incentives": "before",
    "surplus": "surplus",
    "incentive_earned": "earned",
}


def _met(cells: dict[str, np.ndarray]) -> np.ndarray:
    has = ~np.isnan(cells["control_total"])
    return (has & (cells["before"] >= cells["control_total"] - MET_TOLERANCE)).astype(float)


def paired(
    differences: np.ndarray, res: Results, antithetic: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over replications (axis 0) of paired differences; with
    antithetic replications each mirrored pair (2k, 2k + 1) is averaged first, since the
    two are not independent."""
    if antithetic:
        keys = np.asarray(res.replication_ids) // 2
        groups, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        sums = np.zeros((groups.size, *differences.shape[1:]))
        np.add.at(sums, inverse, differences)
        differences = sums / counts.reshape(-1, *([1] * (differences.ndim - 1)))
    n = differences.shape[0]
    mean = differences.mean(axis=0)
    if n < 2:
        return mean, np.zeros_like(mean)
    return mean, differences.std(axis=0, ddof=1) / np.sqrt(n)


def _measures(res: Results, levels: Sequence[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Each shown body (England, regions, systems, organisations, as ``levels`` asks) and its
    per-replication surplus, surplus before incentive funding, incentive payments earned
    and control total, ``(R, F, n)``, and its incentive allocation, ``(F, n)``."""
    arrays = res._position_arrays  # the comparisons pair replications: they need every one
    economy = res.economy
    R, F, A = arrays["surplus"].shape
    allocation = res._extras.get("incentive_allocation")
    allocation = np.zeros((F, A)) if allocation is None else np.asarray(allocation, float)
    earned = arrays.get("received_incentive_payment")
    earned = np.zeros((R, F, A)) if earned is None else earned
    by_account = {
        "surplus": arrays["surplus"],
        "before": arrays["surplus_before_incentives"],
        "earned": earned,
        "allocation": allocation,
    }
    metas: list[pd.DataFrame] = []
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*by_account, "control_total")}
    for level in LEVELS:
        if level not in levels:
            continue
        meta, sums, control = _level(level, economy, by_account, arrays)
        metas.append(meta)
        for name, values in sums.items():
            parts[name].append(values)
        parts["control_total"].append(control)
    cells = {name: np.concatenate(values, axis=-1) for name, values in parts.items()}
    return pd.concat(metas, ignore_index=True), cells


def _level(
    level: str,
    economy: Economy,
    by_account: dict[str, np.ndarray],
    arrays: dict[str, np.ndarray],
) -> tuple[pd.DataFrame, dict[str, np.ndarray], np.ndarray]:
    ids = np.array(economy.ids, dtype=object)
    names = np.array(economy.names, dtype=object)
    kinds = economy.org_table()["org_type"].to_numpy()
    R, F, A = by_account["surplus"].shape
    if level == "england":
        inside = np.flatnonzero(kinds != "external")
        sums = {
            name: row_sum(values[..., inside], keepdims=True) for name, values in by_account.items()
        }
        meta = pd.DataFrame(
            {"level": ["england"], "name": ["England"], "organisation": ["England"]}
        )
        return meta, sums, np.full((R, F, 1), np.nan)
    if level == "org":
        columns = np.flatnonzero(np.isin(kinds, ("commissioner", "provider")))
        sums = {name: values[..., columns] for name, values in by_account.items()}
        control = arrays["control_total"][:, :, columns]
    else:
        columns = economy.of_type(level)
        matrix = economy.membership(level)
        sums = {}
        for name, values in by_account.items():
            flat = values.reshape(-1, A)
            sums[name] = np.asarray(flat @ matrix).reshape(*values.shape[:-1], A)[..., columns]
        control = arrays[f"{level}_control_total"][:, :, columns]
    meta = pd.DataFrame({"level": level, "name": ids[columns], "organisation": names[columns]})
    return meta, sums, np.asarray(control, dtype=float)


def definitions(stress: StressResults, baseline: str, tail: float) -> list[tuple[str, str]]:
    """What each measure of the comparison is, for the README and the report."""
    R = next(iter(stress.results.values())).replications
    worst = worst_count(R, tail)
    pairs = "; mirrored pairs are averaged first" if stress.antithetic else ""
    return [
        (
            "P(meet control total)",
            "share of replications whose surplus before incentive funding meets the control "
            f"total, with its {stress.confidence:.0%} Wilson score interval",
        ),
        (
            "Expected shortfall",
            f"the mean surplus / (deficit) before incentive funding in the worst {tail:.0%} of "
            f"replications (the worst {worst:,} of {R:,}); negative is a deficit",
        ),
        (
            "Expected shortfall against control total",
            "the mean over replications of how far the surplus before incentive funding "
            "falls short of the control total (0 in a replication that meets it)",
        ),
        (
            "Incentive earned and lost",
            "expected (mean over replications) incentive payments earned, summed over the "
            "body's members with an allocation; lost = allocation - earned, before any "
            "redistribution of unearned money",
        ),
        (
            "Δ ... vs baseline",
            f"the variant minus {baseline}, paired by replication (common random numbers: "
            "replication r of every variant sees the same draws), mean over replications; "
            f"se = sd of the paired differences / sqrt(replications){pairs}",
        ),
    ]


# -- the long tables of a stress test ------------------------------------------------------
def stress_tables(result: StressResults) -> dict[str, pd.DataFrame]:
    """The comparison tables ``finsim stress --out`` writes, float noise below 1e-9 GBP m
    (a thousandth of a penny) cleaned to 0 and money to nine decimals."""
    tables = {
        "meeting": result.meeting(),
        "incentives": result.incentives(),
        "system_risk": result.system_risk(),
        "acceptance": result.acceptance(),
        "subsidies": result.subsidies(),
        "underlying": result.underlying(),
    }
    return {name: clean(frame, 9) for name, frame in tables.items()}


def clean(frame: pd.DataFrame, decimals: int) -> pd.DataFrame:
    """``frame`` with its float columns rounded to ``decimals`` places and -0.0 made 0.0, so
    that float noise (2.17e-19, -0.000) prints as the 0 it is."""
    floats = frame.select_dtypes(include="float").columns
    if not len(floats):
        return frame
    cleaned = frame.copy()
    cleaned[floats] = cleaned[floats].round(decimals) + 0.0
    return cleaned
