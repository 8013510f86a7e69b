"""Regional monitoring and interventions (seed 003: regional control totals, 2019/20).

What it models: NHS England and NHS Improvement asked each of their seven
regions to hit an aggregate regional control total. At configured months a
region forecasts its outturn: its members' year-to-date surplus before
incentives, run on at the same rate to the year end, plus what interventions
already agreed are expected to deliver. If the forecast misses the regional
control total it intervenes, in a configured order, until the gap is covered:

* ``extra_surplus``: bodies with headroom are asked to deliver extra surplus
  (Birmingham and Solihull CCG: an extra GBP 4.6m, moving to a GBP 4.6m
  surplus), chosen by name, largest headroom first, or pro rata to size. Their
  control totals rise by what is asked; they find it by extra savings,
  delivered at a random rate over the rest of the year;
* ``top_slice``: a share of the region's commissioners' allocations for the rest
  of the year is taken back (``top_slice`` to the region, non-recurrent) and
  they cut uncommitted spending to match, so the region keeps it as surplus;
* ``rapid_savings``: region-wide schemes across its providers, pro rata to their
  costs, with uncertain delivery;
* ``loans``: revenue-support loans from the centre to providers forecast to miss
  their totals (``loan``), repaid over the following years (``loan_repayment``)
  on a profile, with interest at a rate (``loan_interest``, a revenue cost of the
  borrower: 1.5%, 3.5% or 6% for interim revenue support in 2015/16-2019/20, Hansard
  UIN 194777, C); a borrower in deficit at the year end may roll its instalment
  over (event ``loan_rollover``), and at a dated conversion every loan becomes
  public dividend capital (``pdc_conversion``; support is then given as ``pdc``),
  as on 1 April 2020 (S). Loans and PDC are financing (kind ``capital``): they give
  cash, not a better position; see :mod:`finsim.mechanisms.loans`.

Each forecast and intervention is an event and a row of
``res.table("interventions")``; raised control totals appear in positions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from finsim.calendar import parse_fy
from finsim.economy import EXTERNAL, ORG_TYPES
from finsim.ledger import Category
from finsim.mechanisms.base import BridgeView, Context, Driver, Mechanism
from finsim.mechanisms.interventions_config import InterventionsConfig
from finsim.mechanisms.loans import LoanBook
from finsim.mechanisms.transfers import current_allocation
from finsim.numeric import row_sum
from finsim.positions import PositionView
from finsim.state import Slot, later, optional

if TYPE_CHECKING:
    from finsim.mechanisms.control_totals import Delivery
    from finsim.types import ReferencesLike


def by_cost(ctx: Context, bodies: np.ndarray) -> np.ndarray:
    """Each body's share of the group's annual cost base (equal shares if it has none)."""
    has_costs = "costs.annual" in ctx.state  # only with a costs section
    size = ctx.state["costs.annual"][bodies] if has_costs else np.ones(bodies.size)
    total = size.sum()
    return size / total if total > 0 else np.full(bodies.size, 1.0 / max(bodies.size, 1))


class Interventions(Mechanism):
    """Regional forecasts and interventions to meet regional control totals."""

    section = "interventions"
    order = 67
    categories = (
        Category(
            "top_slice", "a commissioner's allocation top-sliced to a region or centre", "subsidy"
        ),
        Category("loan", "a loan to a body in difficulty"),
        Category("loan_repayment", "a loan repaid"),
        Category("loan_interest", "interest on a loan, paid by the borrower to the lender"),
        Category("pdc_conversion", "a loan settled by its conversion to PDC"),
        Category("pdc", "public dividend capital issued to a body"),
    )
    drivers = (Driver("interventions", 60, ("top_slice",)),)

    @classmethod
    def waterfall(cls, view: BridgeView) -> Mapping[str, float]:
        """*interventions*: in-year non-recurrent cost cuts (extra surplus and rapid savings
        asked by a region; extra savings found to meet an accepted control total), less the
        one-off part of savings programmes, which the savings mechanism takes back out."""
        nonrecurrent = (view.flows["category"] == "operating_cost") & (
            view.flows["recurrence"] == "non_recurrent"
        )
        return {"interventions": float(view.signed[nonrecurrent].sum()) / view.R}

    Config = InterventionsConfig
    config: InterventionsConfig
    provides = (Slot("output.control_total_raised", "(R, F, A)", "totals raised, GBP m"),)

    @classmethod
    def positions(cls, view: PositionView) -> None:
        """The extra surplus asked of a body stays in its accounts but is given up to its
        region's total, so it is a subsidy: ``net_extra_surplus`` is minus what each body was
        asked and, for a region, plus what its bodies were asked."""
        raised = view.outputs.get("control_total_raised")
        if raised is None:
            view.arrays["net_extra_surplus"] = np.zeros(view.shape)
            return
        is_region = view.economy.org_type == ORG_TYPES.index("region")
        received = np.where(is_region, view.summed(raised, "region"), 0.0)
        view.arrays["net_extra_surplus"] = received - raised

    requires = (
        "control_totals.totals",
        optional("incentives.received_ytd"),
        optional("allocations.streams"),
        # costs publish it at year start; interventions read it in the intervention phase
        later("costs.annual", optional=True),
    )

    def __init__(self, config: InterventionsConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        R, A, F = ctx.R, economy.n_accounts, economy.calendar.n_years
        self.regions = (
            economy.indices(config.regions)
            if config.regions is not None
            else economy.of_type("region")
        )
        self.member = economy.membership("region")
        self.body = np.isin(
            economy.org_type, [ORG_TYPES.index("commissioner"), ORG_TYPES.index("provider")]
        )
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        self.monthly_cut = np.zeros((R, A))  # cost reductions still to come each month
        self.expected_left = np.zeros((R, A))  # what agreed interventions should still deliver
        self.expected_monthly = np.zeros((R, A))
        self.so_far = np.zeros((R, A))  # what interventions have delivered this year
        self.is_region = economy.org_type == ORG_TYPES.index("region")
        self.raised = np.zeros((R, F, A))
        loans = config.loans
        self.loans = LoanBook(loans.rate, loans.term, loans.profile)
        self.pdc_year = (
            None
            if loans.convert_to_pdc is None
            else parse_fy(loans.convert_to_pdc) - ctx.calendar.start_year
        )
        ctx.state["output.control_total_raised"] = self.raised

    @classmethod
    def check(cls, config: InterventionsConfig, refs: ReferencesLike) -> None:
        for i, region in enumerate(config.regions or []):
            refs.org(("interventions", "regions", i), region, ("region",))
        for org_id in config.extra_surplus.named:
            refs.org(
                ("interventions", "extra_surplus", "named", org_id),
                org_id,
                ("commissioner", "provider"),
            )
        if any(m < 1 or m > 12 for m in config.months):
            refs.add(("interventions", "months"), "months are 1 (April) to 12 (March)")
        if getattr(refs.model, "control_totals", None) is None:
            refs.add(
                ("interventions",),
                "regions intervene to meet control totals: add a 'control_totals' section",
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": self.new_year,
            "costs": self.deliver,
            "intervention": self.monitor,
            "year_end": self._repay_loans,
        }

    def new_year(self, ctx: Context) -> None:
        if ctx.fy == self.pdc_year:
            self.loans.convert_to_pdc(ctx.ledger, ctx.events, self.centre)
        self.monthly_cut[:] = 0.0
        self.expected_left[:] = 0.0
        self.expected_monthly[:] = 0.0
        self.so_far[:] = 0.0

    def deliver(self, ctx: Context) -> None:
        """Agreed savings and spending cuts arrive month by month (non-recurrent)."""
        bodies = np.flatnonzero(self.monthly_cut.any(axis=0))
        if bodies.size:
            ctx.ledger.post(
                bodies, EXTERNAL, -self.monthly_cut[:, bodies], "operating_cost", "non_recurrent"
            )
            self.so_far[:, bodies] += self.monthly_cut[:, bodies]
        self.expected_left = np.maximum(self.expected_left - self.expected_monthly, 0.0)
        if ctx.month == 12:
            self.loans.charge_interest(ctx.ledger, ctx.fy, self.centre)

    def _forecast(self, ctx: Context) -> tuple[np.ndarray, np.ndarray]:
        """Each body's forecast outturn before incentives (R, A), and each region's (R, A).

        A body's underlying run rate (year to date less what interventions delivered) is run
        on to the year end; interventions count once, as delivered plus still expected. A
        region's own account (a top slice it holds) counts as it stands.
        """
        incentives = "incentives.received_ytd" in ctx.state  # only with an incentives section
        received = ctx.state["incentives.received_ytd"] if incentives else 0.0
        ytd = ctx.ledger.year_to_date() - received
        run_rate = (ytd - self.so_far) * 12.0 / ctx.month
        body = np.where(self.body, run_rate + self.so_far + self.expected_left, 0.0)
        own = np.where(self.is_region, ytd, 0.0)
        return body, np.asarray(body @ self.member) + own

    def monitor(self, ctx: Context) -> None:
        """In a monitoring month, each region forecasts and intervenes where it will miss."""
        if ctx.month not in self.config.months:
            return
        totals = ctx.state["control_totals.totals"]
        region_total = totals["region"][ctx.fy]
        body_total = totals["org"][ctx.fy] + self.raised[:, ctx.fy]
        forecast, region_forecast = self._forecast(ctx)
        months_left = 12 - ctx.month
        for g in self.regions:
            if np.isnan(region_total[g]):
                continue
            gap = np.maximum(region_total[g] - region_forecast[:, g], 0.0)
            ctx.events.record(g, "regional_forecast", "gap to regional control total", gap > 0, gap)
            in_region = np.flatnonzero(self.body & (ctx.economy.region == g))
            row: dict[str, np.ndarray] = {
                "forecast": region_forecast[:, g].copy(),
                "gap": gap.copy(),
            }
            for step in self.config.order:
                before = gap.copy()
                if step == "extra_surplus":
                    gap = self._extra_surplus(
                        ctx, in_region, gap, forecast, body_total, months_left
                    )
                elif step == "top_slice":
                    gap = self._top_slice(ctx, g, in_region, gap, months_left)
                elif step == "rapid_savings":
                    gap = self._rapid_savings(ctx, in_region, gap, months_left)
                else:
                    self._lend(ctx, in_region, forecast, body_total)
                row[step] = before - gap
            ctx.records.record(
                "interventions", np.array([g]), {}, **{k: v[:, None] for k, v in row.items()}
            )

    def _schedule(
        self,
        bodies: np.ndarray,
        amount: np.ndarray,
        delivery: Delivery,
        ctx: Context,
        site: str,
        months_left: int,
    ) -> np.ndarray:
        """Plan savings of ``amount`` (R, n) over the rest of the year; return what is expected."""
        rate = delivery.draw(self.rng.uniform(site, ctx.t, shape=(bodies.size,)))
        delivered = amount * rate
        if months_left == 0:
            ctx.ledger.post(bodies, EXTERNAL, -delivered, "operating_cost", "non_recurrent")
            self.so_far[:, bodies] += delivered
        else:
            self.monthly_cut[:, bodies] += delivered / months_left
            self.expected_left[:, bodies] += amount * delivery.mean
            self.expected_monthly[:, bodies] += amount * delivery.mean / months_left
        return amount * delivery.mean

    def _extra_surplus(
        self,
        ctx: Context,
        bodies: np.ndarray,
        gap: np.ndarray,
        forecast: np.ndarray,
        body_total: np.ndarray,
        months_left: int,
    ) -> np.ndarray:
        cfg = self.config.extra_surplus
        wanted = gap * cfg.share_of_gap
        if cfg.select == "named":
            named = np.array([cfg.named.get(ctx.economy.ids[b], 0.0) for b in bodies])
            asked = np.where(gap[:, None] > 0, named[None, :], 0.0)
        else:
            headroom = np.maximum(
                np.nan_to_num(forecast[:, bodies] - body_total[:, bodies], nan=0.0), 0.0
            )
            if cfg.select == "largest_headroom":
                order = np.argsort(-headroom, axis=1, kind="stable")
                sorted_room = np.take_along_axis(headroom, order, axis=1)
                before = np.cumsum(sorted_room, axis=1) - sorted_room
                take = np.clip(wanted[:, None] - before, 0.0, sorted_room)
                asked = np.zeros_like(headroom)
                np.put_along_axis(asked, order, take, axis=1)
            else:
                weights = by_cost(ctx, bodies)
                asked = wanted[:, None] * weights[None, :]
        asked = np.where(asked > 1e-6, asked, 0.0)  # rounding is not a request
        if not asked.any():
            return gap
        self.raised[:, ctx.fy, bodies] += asked
        ctx.events.record(
            bodies,
            "extra_surplus_asked",
            "to support the regional control total",
            asked > 0,
            asked,
            detailed=True,
        )
        expected = self._schedule(bodies, asked, cfg.delivery, ctx, "extra_surplus", months_left)
        return np.maximum(gap - row_sum(expected), 0.0)

    def _top_slice(
        self, ctx: Context, region: int, bodies: np.ndarray, gap: np.ndarray, months_left: int
    ) -> np.ndarray:
        commissioners = bodies[ctx.economy.org_type[bodies] == ORG_TYPES.index("commissioner")]
        if commissioners.size == 0:
            return gap
        allocation = current_allocation(ctx)
        rest = allocation[:, commissioners] * max(months_left, 1) / 12.0
        room = self.config.top_slice.share * row_sum(rest)
        amount = np.minimum(gap, room)
        weights = np.where(
            row_sum(rest, keepdims=True) > 0,
            rest / np.maximum(row_sum(rest, keepdims=True), 1e-300),
            0.0,
        )
        taken = amount[:, None] * weights
        ctx.ledger.post(commissioners, region, taken, "top_slice", "non_recurrent")
        ctx.ledger.post(
            commissioners, EXTERNAL, -taken, "operating_cost", "non_recurrent"
        )  # spending held back
        ctx.events.record(
            commissioners,
            "top_slice",
            "share of allocation held by the region",
            taken > 0,
            taken,
            detailed=True,
        )
        return gap - amount

    def _rapid_savings(
        self, ctx: Context, bodies: np.ndarray, gap: np.ndarray, months_left: int
    ) -> np.ndarray:
        providers = bodies[ctx.economy.org_type[bodies] == ORG_TYPES.index("provider")]
        if providers.size == 0 or not gap.any():
            return gap
        weights = by_cost(ctx, providers)
        plan = (gap * self.config.rapid_savings.share_of_gap)[:, None] * weights[None, :]
        ctx.events.record(
            providers,
            "rapid_savings",
            "regional rapid savings scheme",
            plan > 0,
            plan,
            detailed=True,
        )
        expected = self._schedule(
            providers, plan, self.config.rapid_savings.delivery, ctx, "rapid_savings", months_left
        )
        return np.maximum(gap - row_sum(expected), 0.0)

    def _lend(
        self, ctx: Context, bodies: np.ndarray, forecast: np.ndarray, body_total: np.ndarray
    ) -> None:
        providers = bodies[ctx.economy.org_type[bodies] == ORG_TYPES.index("provider")]
        if providers.size == 0:
            return
        shortfall = np.nan_to_num(body_total[:, providers] - forecast[:, providers], nan=0.0)
        shortfall = np.where(shortfall > 1e-6, shortfall, 0.0)  # rounding is not a shortfall
        if not shortfall.any():
            return
        if self.pdc_year is not None and ctx.fy >= self.pdc_year:  # support given as PDC
            ctx.ledger.post(self.centre, providers, shortfall, "pdc", "non_recurrent", "capital")
            ctx.events.record(
                providers, "pdc", "support given as PDC", shortfall > 0, shortfall, detailed=True
            )
            return
        ctx.ledger.post(self.centre, providers, shortfall, "loan", "non_recurrent", "capital")
        ctx.events.record(
            providers, "loan", "revenue support loan", shortfall > 0, shortfall, detailed=True
        )
        self.loans.lend(ctx.fy, providers, shortfall, (12 - ctx.month) / 12.0)

    def _repay_loans(self, ctx: Context) -> None:
        rollover = self.config.loans.rollover == "when_in_deficit"
        self.loans.year_end(ctx.ledger, ctx.events, ctx.fy, self.centre, rollover)
