"""The elective incentive scheme of the second half of 2020/21, under the Covid regime.

The rule (V5, S; ``covid.elective_incentive.*`` in the policy tree): from October 2020 a
system had to do at least 90% of its 2019/20 elective activity; the tariff value of activity
short of that threshold was taken off its envelope at 25%, and activity above it paid at 75%.

How finsim does it, each month tested (``first_month`` to ``last_month`` of the scheme's
years): a system's elective activity is its providers' realised units of the elective points
of delivery (``pods``) on every contract, and its base the same month's units in the base
year (the year before the first Covid year), both valued at this year's tariff with each
provider's market forces factor. With ``actual`` and ``threshold = threshold share x base``
(GBP m), the system is paid ``excess_payment x max(actual - threshold, 0)`` less
``shortfall_charge x max(threshold - actual, 0)``: from the centre to the system's lead
commissioner (or back), which passes it on to the system's providers in proportion to their
share of the system's elective value in the base year (``elective_incentive``,
non-recurrent). ``res.table("elective_incentive")`` has each system's month.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from finsim.mechanisms.contracts import PER_MILLION
from finsim.numeric import sum_by_index

if TYPE_CHECKING:
    from finsim.mechanisms.base import Context
    from finsim.mechanisms.covid_config import ElectiveIncentive


class ElectiveScheme:
    """The scheme's base-year activity by system and month, and each tested month's money.

    ``system_of`` (C,) is the position of each contract's provider's system among the
    economy's systems (S of them), ``provider_of`` (C,) the position of its provider among
    the providers (P), ``mff`` (C,) its market forces factor; ``base_fy`` and ``years`` are
    year indices.
    """

    def __init__(
        self,
        config: ElectiveIncentive,
        ctx: Context,
        system_of: np.ndarray,
        provider_of: np.ndarray,
        mff: np.ndarray,
        base_fy: int,
        years: list[int],
    ) -> None:
        self.config = config
        pods: tuple[str, ...] = ctx.state["tariff.pods"]
        self.pods = [pods.index(pod) for pod in config.pods]
        self.system_of, self.provider_of, self.mff = system_of, provider_of, mff
        self.S = int(ctx.economy.of_type("system").size)
        self.P = int(ctx.economy.of_type("provider").size)
        self.base_fy, self.years = base_fy, years
        #: the base year's elective units x market forces factor, by month, system and POD
        self.base = np.zeros((12, ctx.R, self.S, len(self.pods)))
        #: each provider's elective value in the base year, at its prices, GBP m (R, P)
        self.base_value = np.zeros((ctx.R, self.P))

    def _weighted(self, ctx: Context) -> list[np.ndarray]:
        """The month's realised units x market forces factor per elective POD, (R, C) each."""
        realised = ctx.state["activity.realised"]
        return [realised[:, :, pod] * self.mff for pod in self.pods]

    def _by_system(self, weighted: list[np.ndarray], R: int) -> np.ndarray:
        """(R, S, POD): the units summed over each system's providers' contracts."""
        out = np.zeros((R, self.S, len(self.pods)))
        for j, units in enumerate(weighted):
            systems, sums = sum_by_index(self.system_of, units)
            out[:, systems, j] = sums
        return out

    def count(self, ctx: Context) -> np.ndarray | None:
        """Count the month's elective activity: keep the base year's; in a tested month,
        return each system's payment (+) or charge (-), GBP m ``(R, S)`` (else None)."""
        cfg = self.config
        weighted = self._weighted(ctx)
        price = np.asarray(ctx.state["tariff.price"])[self.pods] * PER_MILLION
        if ctx.fy == self.base_fy:
            self.base[ctx.month - 1] = self._by_system(weighted, ctx.R)
            for units, unit_price in zip(weighted, price, strict=True):
                providers, sums = sum_by_index(self.provider_of, units * unit_price)
                self.base_value[:, providers] += sums
            return None
        if ctx.fy not in self.years or not cfg.first_month <= ctx.month <= cfg.last_month:
            return None
        year = ctx.fy_start_year
        actual = valued(self._by_system(weighted, ctx.R), price)
        base = valued(self.base[ctx.month - 1], price)
        threshold = cfg.threshold.at(year) * base
        paid = cfg.excess_payment.at(year) * np.maximum(actual - threshold, 0.0)
        charged = cfg.shortfall_charge.at(year) * np.maximum(threshold - actual, 0.0)
        net = paid - charged
        ctx.records.record(
            "elective_incentive",
            ctx.economy.of_type("system"),
            activity_value=actual,
            base_value=base,
            threshold_value=threshold,
            payment=net,
        )
        return net

    def provider_shares(self, system_of_provider: np.ndarray) -> np.ndarray:
        """Each provider's share of its system's base-year elective value, ``(R, P)`` (0 in a
        system with none: its lead commissioner keeps the money)."""
        systems, totals = sum_by_index(system_of_provider, self.base_value)
        total = np.zeros((self.base_value.shape[0], self.S))
        total[:, systems] = totals
        of_system = total[:, system_of_provider]
        return np.divide(
            self.base_value, of_system, out=np.zeros_like(of_system), where=of_system > 0
        )


def valued(units: np.ndarray, price: np.ndarray) -> np.ndarray:
    """``units`` (R, S, POD) at ``price`` (POD,), GBP m (R, S), POD by POD (no BLAS
    reduction, whose order could depend on the number of replications)."""
    out = np.zeros(units.shape[:-1])
    for j, unit_price in enumerate(price):
        out += units[..., j] * unit_price
    return out
