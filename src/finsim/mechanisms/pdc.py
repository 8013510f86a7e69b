"""Public dividend capital (PDC) and its dividend: a trust's yearly charge on its assets.

What it models: the state's equity in an NHS trust is public dividend capital, on which
the trust pays a dividend, 3.5% a year of its average relevant net assets: its net assets
less donated and grant-funded assets and cash held in the Government Banking Service, from
2003 (Hansard, 23 October 2003, C; ``loans_pdc.pdc_dividend`` in the policy tree).

Each provider named in ``assets`` starts the first year with that declared base of
relevant net assets, GBP m. Each year its closing base is the opening base plus the
capital it was funded in the year (``capital_allocation`` from the capital mechanism, whose
``capital.received`` this reads) less the year's depreciation (``capital.depreciation``);
the dividend is ``dividend_rate`` times the average of opening and closing (none on a
negative average), a revenue cost of the provider paid to the centre in March
(``pdc_dividend``). It is **recurrent**: a charge the NHS makes every year on the asset
base a trust carries into the next, part of its underlying position, as depreciation is.
The closing base opens the next year. ``res.table("pdc")`` holds each year's opening,
capital, depreciation, closing base and dividend.

Loans converted to PDC (the interventions' ``loans.convert_to_pdc``, as on 1 April 2020)
raise a trust's PDC, not its relevant assets: the money was spent, or is cash, which is
excluded. So a conversion changes what the trust owes, not the dividend it pays here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Annotated

import numpy as np
from pydantic import Field

from finsim.ledger import Category
from finsim.mechanisms.base import Context, Mechanism
from finsim.scenario.models import StrictModel
from finsim.scenario.units import RATE, SignedMoney
from finsim.state import later

if TYPE_CHECKING:
    from finsim.types import ReferencesLike


class PdcConfig(StrictModel):
    """The PDC dividend rate and each provider's relevant net assets."""

    dividend_rate: Annotated[float, RATE(le=1)] = Field(
        default=0.035,
        description='the dividend on average relevant net assets (0.035 or "3.5%", the rate '
        "from 2003)",
    )
    assets: dict[str, SignedMoney] = Field(
        default_factory=dict,
        description="each provider's relevant net assets at the start of the first year, "
        "GBP m (net assets less donated and grant-funded assets and cash)",
    )


class Pdc(Mechanism):
    """The PDC dividend each provider pays the centre on its average relevant net assets."""

    section = "pdc"
    order = 79
    Config = PdcConfig
    config: PdcConfig
    categories = (Category("pdc_dividend", "the dividend a trust pays on its PDC"),)
    # capital publishes them at year start; the dividend is charged in March's costs
    requires = (
        later("capital.received", optional=True),
        later("capital.depreciation", optional=True),
    )

    def __init__(self, config: PdcConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.providers = ctx.economy.indices(list(config.assets))
        declared = np.array(list(config.assets.values()), dtype=np.float64)
        self.opening = np.broadcast_to(declared, (ctx.R, declared.size)).copy()
        self.centre = ctx.economy.index(ctx.scenario.model.organisations.centre.id)  # type: ignore[attr-defined]

    @classmethod
    def check(cls, config: PdcConfig, refs: ReferencesLike) -> None:
        for org_id in config.assets:
            refs.org(("pdc", "assets", org_id), org_id, ("provider",))

    def phases(self) -> Mapping[str, Callable[[Context], None]]:
        return {"costs": self.charge}

    def _of_year(self, ctx: Context, name: str) -> np.ndarray:
        """This year's capital figure ``name`` for the providers, (R, n); 0 without capital."""
        if name not in ctx.state:
            return np.zeros_like(self.opening)
        return np.asarray(ctx.state[name])[:, self.providers]

    def charge(self, ctx: Context) -> None:
        """March: the year's dividend on the average of opening and closing relevant assets."""
        if ctx.month != 12 or self.providers.size == 0:
            return
        received = self._of_year(ctx, "capital.received")
        depreciation = self._of_year(ctx, "capital.depreciation")
        closing = self.opening + received - depreciation
        dividend = self.config.dividend_rate * np.maximum((self.opening + closing) / 2.0, 0.0)
        ctx.ledger.post(self.providers, self.centre, dividend, "pdc_dividend", "recurrent")
        ctx.records.record(
            "pdc",
            self.providers,
            opening=self.opening,
            capital=received,
            depreciation=depreciation,
            closing=closing,
            dividend=dividend,
        )
        self.opening = closing
