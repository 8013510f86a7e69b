"""The contracts' bars of the bridge from plan to outturn (:func:`finsim.charts.bridge`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from finsim.mechanisms.base import BridgeView


def bridge(view: BridgeView) -> dict[str, float]:
    """*activity*: value due for the activity done less the plan's value; *tariff &
    coding*: the part of the value due from case mix reported above the case mix the
    commissioner accepts (taken as 1 where the table does not record it); *disputes*:
    sums withheld at the reconciliation."""
    contracts = view.table("contracts", needed_for="contract_payment")
    if contracts is None or not len(contracts):
        return {}
    R = view.R
    side_c = contracts["org"].isin(view.ids).astype(float) - contracts["commissioner"].isin(
        view.ids
    ).astype(float)
    due, planned = contracts["due"], contracts["plan_value"]
    # the case mix the commissioner accepts is priced into the plan; without that
    # column (older tables) it is taken as 1, as it is until a dispute moves it
    accepted = contracts.get("accepted_case_mix", 1.0)
    coding = np.where(due == planned, 0.0, due * (1.0 - accepted / contracts["case_mix"]))
    tariff = float((side_c * coding).sum()) / R
    activity = float((side_c * (due - planned)).sum()) / R - tariff
    withheld = float((side_c * contracts["withheld"]).sum()) / R
    return {"activity": activity, "tariff & coding": tariff, "disputes": -withheld}
