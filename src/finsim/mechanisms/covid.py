"""The Covid finance regime of 2020/21 and 2021/22: blocks, top-ups, system envelopes.

The real rules, with their sources and confidence marks (C official, S secondary; the policy
tree's ``covid.*`` parameters, ``finsim policy show 2020/21 --domain covid``):

* From April 2020 contracts were suspended and every CCG-provider pair was paid a **block**
  on account, set nationally: the average monthly spend in the month-9 2019/20 agreement
  of balances, plus inflation (pay, CNST), with no efficiency and no growth (V1, V2, C).
  Blocks first ran to July, then to September; from October they were the national blocks
  inside each system's envelope, and they ran on through 2021/22 (V3, T10, S).
* In the first half (H1), **top-ups**, reimbursed retrospectively, brought providers to
  break-even: where costs in the three months to January 2020 ran above the nine-month
  average the block set, plus reasonable Covid marginal costs (V1, V2, C).
* The FRF, CQUIN, the contracting round and efficiency programmes were suspended in 2020/21
  (V1, V4, Q5, S): data in a scenario (``cquin.share``, ``incentives.fund`` and
  ``savings.programmes[].years`` by year), not this mechanism.
* From October 2020 (H2) **system envelopes**, to break even at system level: CCG
  allocations, the national blocks, a system top-up through the lead CCG and a fixed Covid
  allocation sized from Q1 costs (V3, S). Deficits against the envelope stay with the bodies.
* The H2 **elective incentive scheme** (V5, S): :mod:`finsim.mechanisms.covid_elective`.
* 2021/22: half-year envelopes, £5.4bn more for H2; efficiency 0.28% in H1, about 1.5% in
  H2 (T10, S).

How finsim does it. **Blocks**: at the end of month ``blocks.base_month`` (9) of the year
before a Covid year, each contract's income accrued to date (``contracts.accrued_ytd``: the
agreed balance of the month-9 exercise) / 9 is its monthly base, the rule's "average monthly
spend" read literally; it carries the seasonality and growth of the base year's first nine
months, as the real base did. The monthly block is the base x (1 + uplift) x (1 + growth); a
later Covid year rolls the year before's forward the same way; each month pays it x (1 -
that half's efficiency). The contracts mechanism pays and accrues it in place of each
contract's own rules (it reads ``covid.blocks``): cash and accruals agree, and nothing is
billed, disputed or reconciled. **Covid costs** (ILLUSTRATIVE, ``costs``): a share of each
provider's cost base a year, by a monthly profile (the waves), with a lognormal draw per
provider and year (``covid_cost``, to external). **Top-ups**: at the end of each month
before ``envelopes.first_month`` a provider whose year-to-date position is a deficit claims
it, and the centre pays the claim in the next month's allocation phase, funded by the
treasury (``covid_top_up``, non-recurrent): retrospective, so each month end's year to date
is back to break-even a month later. The position is the ledger's year to date (by when
money moved, as the incentive funds test it); it is read from the ledger again once the
claim is paid, before that month's own income and costs (with whatever the mechanisms
before this one paid in that month's allocation phase). One top-up covers both parts of the rule: a
block below the provider's cost run rate and its Covid costs. A surplus is kept, not clawed
back. **Envelopes**: from ``envelopes.first_month`` each provider's envelope top-up a month is
its H1 top-ups less its H1 Covid costs (at least 0) over the H1 months, and its fixed Covid
allocation its Covid costs of the first ``covid_basis_months`` (Q1) a month; a year with no
top-up months rolls the year before's forward by the uplift. Each month both, less the
half's efficiency, plus a sixth of ``second_half_extra`` in H2 (shared pro rata to
providers' blocks and envelopes), go from the treasury through the centre to each system's
lead commissioner and on to its providers (``covid_top_up``, ``covid_allocation``). Nothing
settles H2 to break-even.

Tables: ``covid_blocks`` (each contract's base, monthly and annual block, at the Covid year's
start), ``covid_top_ups`` (each provider's position to date and claim, each top-up month),
``covid_top_ups_paid`` (each provider's top-up paid and its year-to-date position read from
the ledger once it is paid, each month after a top-up month), ``covid_envelopes`` (each
provider's lead commissioner, monthly top-up, Covid allocation and H2 extra, when sized and
in October), ``elective_incentive``.

finsim simplifies: one block per contract all year (the real H2 blocks were re-set, and
every contract is blocked, whoever the parties); CCGs are not topped up; a system's
envelope is the national calculation for its providers, passed on as calculated (a system
could agree to share it otherwise); CQUIN is not in the blocks' base.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from finsim.calendar import parse_fy
from finsim.economy import EXTERNAL, TREASURY
from finsim.ledger import Category
from finsim.mechanisms.activity import lognormal_mean_one
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.mechanisms.covid_config import (
    CovidConfig,
    check_covid,
    covid_years,
    first_envelope_month,
)
from finsim.mechanisms.covid_elective import ElectiveScheme
from finsim.numeric import row_sum, scatter_add, sum_by_index
from finsim.state import Slot, optional

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

NON_RECURRENT = "non_recurrent"


class Covid(Mechanism):
    """National blocks, retrospective top-ups, then system envelopes, under Covid."""

    section = "covid"
    order = 90  # after every other built-in: its categories are numbered after theirs
    Config = CovidConfig
    config: CovidConfig
    categories = (
        Category(
            "covid_top_up",
            "a Covid top-up: a provider's retrospective top-up to break even, or its system "
            "envelope's top-up (through the lead commissioner)",
        ),
        Category("covid_allocation", "a system envelope's fixed Covid allocation"),
        Category("covid_cost", "a provider's marginal costs of Covid, to external"),
        Category(
            "elective_incentive", "the Covid elective incentive's payment or charge", "incentive"
        ),
    )
    # the elective incentive is incentive funding; top-ups and envelopes are funding, like
    # allocations, and Covid costs costs: the plan of the bridge keeps them as they turned out
    drivers = (Driver("incentive funding", 50, ("elective_incentive",)),)
    provides = (
        Slot(
            "covid.blocks",
            "dict fy -> ((R, C), (12,))",
            "each Covid year's monthly block per contract, GBP m, and each month's factor (1 "
            "less its half's efficiency); set at the base month of the year before",
        ),
        # incentive money, as the funds' control-total tests and the positions count it
        Slot("covid.elective_received_ytd", "(R, A)", "elective incentive to date, GBP m"),
    )
    requires = (
        "contracts.ids",
        "contracts.provider",
        "contracts.commissioner",
        "contracts.accrued_ytd",
        optional("tariff.pods"),
        optional("tariff.price"),
        optional("activity.realised"),
        optional("costs.annual"),
    )

    def __init__(self, config: CovidConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        economy = ctx.economy
        R = ctx.R
        self.years = covid_years(config, ctx.calendar.start_year)
        self.centre = economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]
        self.ids = ctx.state["contracts.ids"]
        commissioner = ctx.state["contracts.commissioner"]
        self.labels = {
            "contract": self.ids,
            "commissioner": np.array(economy.ids, dtype=object)[commissioner],
        }
        self.providers = economy.of_type("provider")
        position = np.full(economy.n_accounts, -1)
        position[self.providers] = np.arange(self.providers.size)
        self.contract_provider = position[ctx.state["contracts.provider"]]  # (C,) in 0..P-1
        systems = economy.of_type("system")
        position[systems] = np.arange(systems.size)
        self.provider_system = position[economy.system[self.providers]]  # (P,) in 0..S-1
        self.system_lead = self._leads(ctx, systems)  # (S,) account indices
        self.lead = self.system_lead[self.provider_system]  # (P,) each provider's system's
        self.blocks: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.base = np.zeros((R, len(self.ids)))  # each contract's monthly base
        ctx.state["covid.blocks"] = self.blocks
        self.elective_ytd = ctx.state["covid.elective_received_ytd"] = np.zeros(
            (R, economy.n_accounts)
        )
        P = self.providers.size
        self.envelope = np.zeros((R, P))  # each provider's envelope top-up a month
        self.allocation = np.zeros((R, P))  # and its fixed Covid allocation
        self._reset_year(R, P)
        self.profile = np.ones(12)
        if config.costs is not None and config.costs.profile is not None:
            weights = np.array(config.costs.profile, dtype=np.float64)
            self.profile = weights / weights.mean()
        self.elective: ElectiveScheme | None = None
        scheme = config.elective_incentive
        if scheme is not None and self.years:
            mff = {p.id: p.market_forces_factor for p in ctx.scenario.model.organisations.providers}  # type: ignore[attr-defined]
            years = [parse_fy(y) - ctx.calendar.start_year for y in scheme.years or []]
            self.elective = ElectiveScheme(
                scheme,
                ctx,
                self.provider_system[self.contract_provider],
                self.contract_provider,
                np.array([mff[economy.ids[a]] for a in ctx.state["contracts.provider"]]),
                self.years[0] - 1,
                years or self.years[:1],
            )

    def _reset_year(self, R: int, P: int) -> None:
        self.claim = np.zeros((R, P))  # the top-up claimed for the month, paid the next
        self.topped_up = np.zeros((R, P))  # top-ups paid this year
        self.costs_ytd = np.zeros((R, P))  # Covid costs this year
        self.costs_h1 = np.zeros((R, P))  # over the top-up months
        self.costs_q1 = np.zeros((R, P))  # over the first covid_basis_months of them
        self.monthly_costs = np.zeros((R, P))
        self.extra = np.zeros((R, P))  # the second half's extra money a month

    def _leads(self, ctx: Context, systems: np.ndarray) -> np.ndarray:
        """Each system's lead commissioner (S,): the one named, else its first in the file
        (the centre where a system has none and no providers: nothing passes through it)."""
        economy = ctx.economy
        named = self.config.envelopes.lead_commissioners
        commissioners = economy.of_type("commissioner")
        leads = np.full(systems.size, self.centre)
        for i, system in enumerate(systems):  # once, at construction
            given = named.get(economy.ids[system])
            members = commissioners[economy.system[commissioners] == system]
            if given is not None:
                leads[i] = economy.index(given)
            elif members.size:
                leads[i] = members[0]
        return leads

    @classmethod
    def check(cls, config: CovidConfig, refs: ReferencesLike) -> None:
        check_covid(config, refs)

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {
            "year_start": self.new_year,
            "allocation": self.pay,
            "costs": self.incur,
            "monitoring": self.month_end,
        }

    # -- the year ------------------------------------------------------------------------------
    def new_year(self, ctx: Context) -> None:
        """Reset the year's sums; in a Covid year, record its blocks and draw its Covid costs."""
        self._reset_year(ctx.R, self.providers.size)
        self.elective_ytd[:] = 0.0
        if ctx.fy not in self.years:
            return
        monthly, factor = self.blocks[ctx.fy]
        ctx.records.record(
            "covid_blocks",
            ctx.state["contracts.provider"],
            self.labels,
            base=self.base,
            monthly=monthly,
            annual=monthly * float(factor.sum()),
        )
        costs = self.config.costs
        if costs is not None and "costs.annual" in ctx.state:
            base = np.asarray(ctx.state["costs.annual"])[self.providers]
            z = self.rng.normal("costs", ctx.fy, shape=(self.providers.size,))
            share = costs.share_of_costs.at(ctx.fy_start_year) / 12.0
            self.monthly_costs = lognormal_mean_one(z, costs.sd) * (base * share)

    def _set_blocks(self, ctx: Context) -> None:
        """At the base month of the year before a Covid year: that year's blocks."""
        fy, year = ctx.fy + 1, ctx.fy_start_year + 1
        blocks = self.config.blocks
        if ctx.fy in self.years:  # rolled forward from this year's
            self.base = self.blocks[ctx.fy][0]
        else:  # the average month of the base year to date
            self.base = np.asarray(ctx.state["contracts.accrued_ytd"]) / blocks.base_month
        monthly = self.base * ((1.0 + blocks.uplift.at(year)) * (1.0 + blocks.growth.at(year)))
        self.blocks[fy] = (monthly, self._factor(year))

    def _factor(self, year: int) -> np.ndarray:
        """Each month's share of a monthly sum paid in the year: 1 less its half's efficiency."""
        blocks = self.config.blocks
        first = 1.0 - blocks.efficiency_first_half.at(year)
        second = 1.0 - blocks.efficiency_second_half.at(year)
        return np.repeat([first, second], 6)

    # -- monthly -------------------------------------------------------------------------------
    def pay(self, ctx: Context) -> None:
        """Pay last month's top-up claims; from the first envelope month, the envelopes."""
        if ctx.fy not in self.years:
            return
        first = first_envelope_month(self.config, ctx.fy_start_year)
        if 1 < ctx.month <= first:  # last month's claims, from the top-up months
            self._pay_claims(ctx)
        if ctx.month < first:
            return
        if ctx.month == first:
            self._size_envelopes(ctx, first - 1)
        if ctx.month == 7 and first <= 7 and self._share_extra(ctx):
            self._record_envelopes(ctx)
        factor = self._factor(ctx.fy_start_year)[ctx.month - 1]
        self._through_leads(ctx, self.envelope * factor + self.extra, "covid_top_up")
        self._through_leads(ctx, self.allocation * factor, "covid_allocation")

    def _pay_claims(self, ctx: Context) -> None:
        """Pay last month's claims; record each provider's year to date read from the ledger
        once paid (break-even where it claimed: not so if the claim were not paid in full)."""
        paid = self.claim
        if paid.any():
            self._fund(ctx, paid)
            ctx.ledger.post(self.centre, self.providers, paid, "covid_top_up", NON_RECURRENT)
            self.topped_up += paid
            self.claim = np.zeros_like(paid)
        if not ctx.records.enabled:
            return
        ctx.records.record(
            "covid_top_ups_paid",
            self.providers,
            paid=paid,
            position_once_paid=ctx.ledger.year_to_date()[:, self.providers],
        )

    def _size_envelopes(self, ctx: Context, months: int) -> None:
        """Each provider's envelope a month, from this year's top-up months (``months`` of
        them) or, with none, the year before's rolled forward."""
        if months:
            q1 = min(self.config.envelopes.covid_basis_months, months)
            self.envelope = np.maximum(self.topped_up - self.costs_h1, 0.0) / months
            self.allocation = self.costs_q1 / q1
        else:
            uplift = 1.0 + self.config.blocks.uplift.at(ctx.fy_start_year)
            self.envelope = self.envelope * uplift
            self.allocation = self.allocation * uplift
        self._record_envelopes(ctx)

    def _record_envelopes(self, ctx: Context) -> None:
        ctx.records.record(
            "covid_envelopes",
            self.providers,
            {"lead": np.array(ctx.economy.ids, dtype=object)[self.lead]},
            top_up=self.envelope,
            covid_allocation=self.allocation,
            extra=self.extra,
        )

    def _share_extra(self, ctx: Context) -> bool:
        """A sixth of the second half's extra money a month, shared pro rata to each
        provider's annual blocks and envelope (False if there is none)."""
        extra = self.config.envelopes.second_half_extra.at(ctx.fy_start_year)
        if extra <= 0:
            return False
        monthly, factor = self.blocks[ctx.fy]
        weight = 12.0 * (self.envelope + self.allocation)
        scatter_add(weight, self.contract_provider, monthly * float(factor.sum()))
        total = row_sum(weight, keepdims=True)
        share = np.divide(weight, total, out=np.zeros_like(weight), where=total > 0)
        self.extra = share * (extra / 6.0)
        return True

    def _fund(self, ctx: Context, amount: np.ndarray) -> None:
        """The treasury funds the centre for what it pays out under the regime."""
        ctx.ledger.post(TREASURY, self.centre, row_sum(amount), "funding", NON_RECURRENT)

    def _through_leads(self, ctx: Context, amount: np.ndarray, category: str) -> None:
        """Pay each provider ``amount`` (R, P) from the centre through its system's lead
        commissioner (money out of a lead is what came in)."""
        if not amount.any():
            return
        self._fund(ctx, amount)
        leads, by_lead = sum_by_index(self.lead, amount)
        ctx.ledger.post(self.centre, leads, by_lead, category, NON_RECURRENT)
        ctx.ledger.post(self.lead, self.providers, amount, category, NON_RECURRENT)

    def incur(self, ctx: Context) -> None:
        """Providers' Covid costs for the month; keep the sums that size the envelopes."""
        if ctx.fy not in self.years or self.config.costs is None:
            return
        cost = self.monthly_costs * self.profile[ctx.month - 1]
        ctx.ledger.post(self.providers, EXTERNAL, cost, "covid_cost")
        self.costs_ytd += cost
        first = first_envelope_month(self.config, ctx.fy_start_year)
        if ctx.month < first:
            self.costs_h1 = self.costs_ytd.copy()
        if ctx.month <= min(self.config.envelopes.covid_basis_months, first - 1):
            self.costs_q1 = self.costs_ytd.copy()

    def month_end(self, ctx: Context) -> None:
        """Set next year's blocks at the base month; in a top-up month, each provider's claim:
        its year-to-date deficit; the elective incentive."""
        if ctx.fy + 1 in self.years and ctx.month == self.config.blocks.base_month:
            self._set_blocks(ctx)
        if self.elective is not None:
            net = self.elective.count(ctx)
            if net is not None:
                self._elective(ctx, net)
        if ctx.fy not in self.years:
            return
        if ctx.month < first_envelope_month(self.config, ctx.fy_start_year):
            position = ctx.ledger.year_to_date()[:, self.providers]
            self.claim = np.maximum(-position, 0.0)
            ctx.records.record(
                "covid_top_ups", self.providers, position_to_date=position, claim=self.claim
            )

    def _elective(self, ctx: Context, net: np.ndarray) -> None:
        """Each system's elective incentive (R, S) between the centre and its lead
        commissioner, passed on to its providers by their base-year share."""
        assert self.elective is not None
        leads = self.system_lead
        category = "elective_incentive"
        ctx.ledger.post(self.centre, leads, np.maximum(net, 0.0), category, NON_RECURRENT)
        ctx.ledger.post(leads, self.centre, np.maximum(-net, 0.0), category, NON_RECURRENT)
        share = self.elective.provider_shares(self.provider_system)
        to_provider = net[:, self.provider_system] * share
        self.elective_ytd[:, self.providers] += to_provider  # (the lead passes it all on)
        ctx.ledger.post(
            self.lead, self.providers, np.maximum(to_provider, 0.0), category, NON_RECURRENT
        )
        ctx.ledger.post(
            self.providers, self.lead, np.maximum(-to_provider, 0.0), category, NON_RECURRENT
        )
