"""Mechanisms are plug-ins: a user adds one to a System without touching the engine."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import numpy as np
import pytest

import finsim
from finsim.ledger import Category
from finsim.mechanisms.base import Context, Driver, Mechanism
from finsim.scenario.models import StrictModel
from tests.plugin_levy import levied

EXAMPLE = "examples/two_systems.yaml"


class LevyConfig(StrictModel):
    rate: float
    review_month: int = 6


class Levy(Mechanism):
    """Every provider pays a share of its contract income to the centre; the centre reviews it yearly."""

    section = "levy"
    Config = LevyConfig

    def __init__(self, config: LevyConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.providers = ctx.economy.of_type("provider")
        self.centre = ctx.economy.index("nhse")
        self.paid = np.zeros(ctx.R)

    def phases(self):
        return {"costs": self.charge}

    def charge(self, ctx: Context) -> None:
        amount = levied(ctx, self.providers, self.config.rate)
        self.paid += amount.sum(axis=1)
        ctx.ledger.post(self.providers, self.centre, amount, "other_income", "non_recurrent")

    def processes(self, ctx: Context) -> list[Generator[Any, Any, None]]:
        return [self.review(ctx)]

    def review(self, ctx: Context) -> Generator[Any, Any, None]:
        for year in range(ctx.calendar.n_years):
            yield ctx.at(ctx.calendar.tick(year, self.config.review_month), "monitoring")
            ctx.events.record(self.centre, "levy_review", f"M{ctx.month}", amount=self.paid.copy())


@pytest.fixture
def levy():
    """The default System with the levy: a new System, nothing registered process-wide."""
    return finsim.System.default().with_mechanism(Levy)


def test_a_registered_mechanism_owns_its_section_and_runs(levy):
    """A user mechanism's section validates, its postings land in the ledger, money still balances."""
    base = finsim.load_scenario(EXAMPLE).to_data()
    base["levy"] = {"rate": 0.01}
    res = finsim.run(finsim.Scenario.from_dict(base, system=levy), replications=3, seed=1)
    flows = res.flows
    levy_flows = flows[(flows["target"] == "nhse") & (flows["category"] == "other_income")]
    assert set(levy_flows["source"]) == {"north_acute", "south_acute"}
    assert (levy_flows["recurrence"] == "non_recurrent").all()
    plain = finsim.run(finsim.load_scenario(EXAMPLE), replications=3, seed=1).positions
    centre = res.positions[res.positions["org"] == "nhse"].set_index(["replication", "fy"])
    before = plain[plain["org"] == "nhse"].set_index(["replication", "fy"])
    received = levy_flows.groupby(["replication", "fy"])["amount"].sum()
    gain = (centre["surplus"] - before["surplus"]).sort_index()
    assert np.allclose(gain.to_numpy(), received.sort_index().to_numpy())
    assert np.allclose(
        centre["surplus"] - centre["underlying_surplus"],
        before["surplus"] - before["underlying_surplus"] + received,
    )


def test_a_mechanism_process_acts_in_its_phase_and_month(levy):
    """A SimPy process waiting on ctx.at(tick, phase) acts in that month: one review a year in M6."""
    base = finsim.load_scenario(EXAMPLE).to_data()
    base["levy"] = {"rate": 0.01, "review_month": 6}
    res = finsim.run(finsim.Scenario.from_dict(base, system=levy), replications=2, seed=1)
    reviews = res.events[res.events["event"] == "levy_review"]
    assert len(reviews) == 2 * 3
    assert set(reviews["month"]) == {6}
    assert (reviews["amount"] > 0).all()


def test_a_misspelt_section_of_a_registered_mechanism_is_still_an_error(levy):
    """Registering a mechanism does not relax unknown-key checking inside its section."""
    base = finsim.load_scenario(EXAMPLE).to_data()
    base["levy"] = {"rat": 0.01}
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(base, system=levy)
    paths = [p.path for p in info.value.problems]
    assert "levy.rat" in paths and "levy.rate" in paths


def test_without_registration_the_section_is_unknown(levy):
    """A section no mechanism of the System owns is an unknown key (the default System does
    not know the levy, though another System in the process does)."""
    base = finsim.load_scenario(EXAMPLE).to_data()
    base["levy"] = {"rate": 0.01}
    with pytest.raises(finsim.ScenarioError) as info:
        finsim.Scenario.from_dict(base)
    assert info.value.problems[0].path == "levy"


def test_register_mechanism_is_removed_and_says_what_to_use():
    """Registering never changes a process-wide table: the removed function says to use a
    System, and the default System is unchanged."""
    with pytest.raises(TypeError, match=r"System.default\(\).with_mechanism"):
        finsim.register_mechanism(Levy)
    assert "levy" not in finsim.System.default().mechanisms


class GiftConfig(StrictModel):
    amount: float


class Gift(Mechanism):
    """The centre gives every provider a gift each March: a flow category and a waterfall driver
    of its own, declared here and nowhere else."""

    section = "gift"
    Config = GiftConfig
    categories = (Category("gift", "a gift from the centre to a provider"),)
    drivers = (Driver("gifts", 55, ("gift",)),)

    def __init__(self, config: GiftConfig, ctx: Context) -> None:
        super().__init__(config, ctx)
        self.providers = ctx.economy.of_type("provider")
        self.centre = ctx.economy.index("nhse")

    def phases(self):
        return {"year_end": self.give}

    def give(self, ctx: Context) -> None:
        amount = np.full((ctx.R, self.providers.size), self.config.amount)
        ctx.ledger.post(self.centre, self.providers, amount, self.category, "non_recurrent")

    category = "gift"


class Undeclared(Gift):
    """Posts a category it does not declare."""

    section = "undeclared"
    categories = ()
    drivers = ()
    category = "present"


def test_a_plug_in_posts_its_own_declared_category_and_draws_its_driver():
    """A category a plug-in declares is accepted by the ledger and appears in the flows, after
    the built-ins (whose codes do not move); its driver is drawn where its rank puts it."""
    from finsim.charts import bridge
    from finsim.charts.bridges import DRIVERS
    from finsim.ledger import CATEGORIES

    system = finsim.System.default().with_mechanism(Gift)
    base = finsim.load_scenario(EXAMPLE).to_data()
    base["gift"] = {"amount": 2.0}
    res = finsim.run(finsim.Scenario.from_dict(base, system=system), replications=2, seed=1)
    assert res.categories == (*CATEGORIES, "gift")
    gifts = res.flows[res.flows["category"] == "gift"]
    assert {"north_acute", "south_acute"} <= set(gifts["target"])
    assert np.allclose(gifts["amount"], 2.0)
    table = bridge(res, "north_acute", fy=str(gifts["fy"].iloc[0]))
    steps = list(table["step"])
    assert steps[1:-1] == [*DRIVERS[:5], "gifts", *DRIVERS[5:]]
    assert table.set_index("step").loc["gifts", "amount"] == pytest.approx(2.0)
    plain = finsim.run(finsim.load_scenario(EXAMPLE), replications=2, seed=1)
    assert plain.categories == CATEGORIES


def test_an_undeclared_category_is_an_error_naming_it():
    """A category no mechanism of the run declares is refused, by name."""
    system = finsim.System.default().with_mechanism(Undeclared)
    base = finsim.load_scenario(EXAMPLE).to_data()
    base["undeclared"] = {"amount": 2.0}
    with pytest.raises(ValueError, match="flow category 'present' is declared by no mechanism"):
        finsim.run(finsim.Scenario.from_dict(base, system=system), replications=2, seed=1)


def test_the_built_in_mechanisms_declare_every_built_in_category():
    """The built-in categories are the ledger's core ones and those the built-ins declare."""
    from finsim.ledger import CATEGORIES, CORE_CATEGORIES
    from finsim.system import BUILTIN_MECHANISMS

    declared = {c.name for cls in BUILTIN_MECHANISMS for c in cls.categories}
    assert declared | {c.name for c in CORE_CATEGORIES} == set(CATEGORIES)
