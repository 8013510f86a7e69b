"""CQUIN: Commissioning for Quality and Innovation payments on top of contract value.

What it models: a share of each contract's value (2.5% in 2016/17, 1.25% in
2019/20) is earned by meeting quality goals. The value is the contract's *actual* annual
value (2012/13-2018/19: "on outturn/actual annual value", T5, T6, Q2, S), its plan's value
(``base: plan``; for an api contract its fixed element, the 2022/23 rule, Q7, S). Each month
the commissioner accrues it at the expected achievement on the value to date, and at year
end the provider keeps the share of the scheme it actually achieved: the difference is
paid or refunded.
Achievement is a given rate or, with ``sd``, a random share per contract and
year (mean ``mean``; logit-normal, :mod:`finsim.distributions`), so some
providers lose part of it.

Postings: ``cquin`` (recurrent) from commissioner to provider. Reads
``contracts.plan_value`` through the contracts mechanism's state. Reports
``res.table("cquin")``: value at stake, achievement and earned per contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated, Literal, get_args

import numpy as np
from pydantic import Field, model_validator

from finsim.distributions import share
from finsim.ledger import Category
from finsim.mechanisms.base import BridgeView, Context, Driver, Mechanism
from finsim.scenario.models import StrictModel
from finsim.scenario.params import ShareByYear
from finsim.scenario.units import SHARE, Share

if TYPE_CHECKING:
    from finsim.types import ReferencesLike

ContractType = Literal["activity", "block", "blended", "api"]


class Achievement(StrictModel):
    """A share of the scheme earned, drawn per contract (logit-normal)."""

    mean: Share = Field(description="mean share earned")
    sd: Annotated[float, SHARE(le=0.5)] = Field(
        default=0.0, description="standard deviation of the share earned"
    )

    @model_validator(mode="after")
    def _possible(self) -> Achievement:
        if self.sd > 0 and self.sd**2 >= self.mean * (1 - self.mean):
            raise ValueError(
                f"a share with mean {self.mean} cannot have sd {self.sd}: "
                f"sd must be below {np.sqrt(self.mean * (1 - self.mean)):.3f}"
            )
        return self


class CquinConfig(StrictModel):
    """The CQUIN scheme."""

    share: ShareByYear = Field(description="share of contract value at stake (0.025 = 2.5%)")
    achievement: Share | Achievement = Field(
        default=1.0,
        description="share of the scheme earned: a rate, or {mean, sd} drawn per contract",
    )
    base: Literal["actual", "plan"] = Field(
        default="actual",
        description="the value the share is of: actual (the contract's value for the activity "
        "done, accrued month by month) or plan (the plan's value; an api contract's fixed "
        "element)",
    )
    contract_types: list[ContractType] = Field(
        default_factory=lambda: list(get_args(ContractType)),
        description="the contract types the scheme applies to",
    )


class Cquin(Mechanism):
    """Quality incentive payments: on account at expected achievement, reconciled at year end."""

    section = "cquin"
    order = 50
    categories = (Category("cquin", "CQUIN earned, commissioner to provider"),)
    drivers = (Driver("other", 1000),)

    @classmethod
    def waterfall(cls, view: BridgeView) -> Mapping[str, float]:
        """*other*: CQUIN not earned (earned less at stake), from the provider's side."""
        contracts = view.table("contracts", needed_for="contract_payment")
        table = view.table("cquin", needed_for="cquin")
        if contracts is None or not len(contracts) or table is None or not len(table):
            return {}
        commissioner = contracts.drop_duplicates("contract").set_index("contract")["commissioner"]
        side_q = table["org"].isin(view.ids).astype(float) - table["contract"].map(
            commissioner
        ).isin(view.ids).astype(float)
        return {"other": float((side_q * (table["earned"] - table["at_stake"])).sum()) / view.R}

    Config = CquinConfig
    config: CquinConfig
    # a cquin section needs a contracts section (check): the contracts act first
    requires = (
        "contracts.ids",
        "contracts.provider",
        "contracts.commissioner",
        "contracts.plan_value_now",
        "contracts.accrued_ytd",
    )

    def __init__(self, config: CquinConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        contracts = ctx.scenario.model.contracts or []  # type: ignore[attr-defined]
        self.applies = np.array([c.type in config.contract_types for c in contracts], dtype=bool)
        self.commissioner = ctx.state["contracts.commissioner"]
        self.provider = ctx.state["contracts.provider"]
        self.ids = ctx.state["contracts.ids"]
        self.at_stake = np.zeros((ctx.R, self.applies.size))
        self.paid = np.zeros_like(self.at_stake)
        a = config.achievement
        self.mean = a if isinstance(a, float) else a.mean

    @classmethod
    def check(cls, config: CquinConfig, refs: ReferencesLike) -> None:
        if getattr(refs.model, "contracts", None) is None:
            refs.add(
                ("cquin",), "CQUIN is paid on contracts: the scenario has no 'contracts' section"
            )

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"payment": self.pay, "year_end": self.reconcile}

    def pay(self, ctx: Context) -> None:
        """Accrue the month's CQUIN at the expected achievement on the value to date."""
        if ctx.month == 1:
            self.paid[:] = 0.0
        share = self.config.share.at(ctx.fy_start_year) * self.applies
        if self.config.base == "actual":
            self.at_stake = ctx.state["contracts.accrued_ytd"] * share
            expected = self.at_stake * self.mean
        else:
            self.at_stake = ctx.state["contracts.plan_value_now"]() * share
            expected = self.at_stake * self.mean * ctx.month / 12.0
        ctx.ledger.post(self.commissioner, self.provider, expected - self.paid, "cquin")
        self.paid = expected

    def achieved(self, ctx: Context) -> np.ndarray:
        a = self.config.achievement
        if isinstance(a, float) or a.sd == 0:
            return np.full(self.at_stake.shape, self.mean)
        u = self.rng.uniform("achievement", ctx.fy, shape=(self.at_stake.shape[1],))
        return share(u, self.mean, a.sd)

    def reconcile(self, ctx: Context) -> None:
        """Pay (or recover) the difference between CQUIN earned and accrued."""
        if self.config.base == "actual":  # on the year's value after any sum withheld
            share = self.config.share.at(ctx.fy_start_year) * self.applies
            self.at_stake = ctx.state["contracts.accrued_ytd"] * share
        achievement = self.achieved(ctx)
        earned = self.at_stake * achievement
        ctx.ledger.post(self.commissioner, self.provider, earned - self.paid, "cquin")
        ctx.records.record(
            "cquin",
            self.provider,
            {"contract": self.ids},
            at_stake=self.at_stake,
            achievement=achievement,
            earned=earned,
        )
