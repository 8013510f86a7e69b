"""The policy tree: the national finance and payment rules by financial year, with lookups.

A :class:`PolicyTree` holds :class:`Parameter` s (``tariff.cost_uplift``...), each a run of
:class:`DatedValue` s with their sources and confidence marks, and the :class:`Source` s they
cite. The financial year is the unit, as in OpenFisca's dated parameters with April as the
start: a value given for "2017/18" applies from 1 April 2017 until the next dated value, or
until the last year its sources cover (``until``). ``tree.at("2018/19")`` gives the rules in
force in one year; ``tree.diff("2018/19", "2019/20")`` what changed between two.

Everything here is immutable: a tree is built once, by :mod:`finsim.policy.loader`, and read.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from finsim.calendar import fy_label, parse_fy
from finsim.errors import did_you_mean

if TYPE_CHECKING:
    import pandas as pd

#: A value as stored: a number, a list of numbers (as a tuple), a flag, words or a year label.
Value = float | int | bool | str | tuple[float | int, ...] | None


@dataclass(frozen=True)
class Source:
    """A document cited by values, by its ID in the fact sheet ("T9", "CIPFA-2")."""

    id: str
    publisher: str
    title: str
    date: str | None
    url: str | None
    official: bool
    note: str | None = None


@dataclass(frozen=True)
class DatedValue:
    """The value a parameter takes from financial year ``start`` (until the next dated value,
    or until ``until``). ``value`` None with ``unknown`` False ends the rule."""

    start: str
    value: Value
    sources: tuple[str, ...]
    confidence: Literal["C", "S", "U"]
    note: str | None = None
    until: str | None = None
    unknown: bool = False

    @property
    def start_year(self) -> int:
        """The calendar year in which ``start`` begins (2018 for "2018/19")."""
        return parse_fy(self.start)

    @property
    def ends_rule(self) -> bool:
        """Whether this entry ends the rule (``value: null``): nothing is in force after it."""
        return self.value is None and not self.unknown


@dataclass(frozen=True)
class InForce:
    """A parameter's value in force in a year: what it is, since when, on what evidence.

    ``unknown`` is True when the rule held but the sources do not give its figure (``value``
    is then None): a caller filling a scenario must supply the figure itself.
    """

    name: str
    value: Value
    unit: str
    set_in: str
    sources: tuple[str, ...]
    confidence: Literal["C", "S", "U"]
    note: str | None = None
    unknown: bool = False


@dataclass(frozen=True)
class Parameter:
    """One parameter of the tree and its dated values, oldest first."""

    name: str
    description: str
    unit: str
    values: tuple[DatedValue, ...]

    @property
    def domain(self) -> str:
        """The domain the parameter belongs to: the first part of its name."""
        return self.name.split(".", 1)[0]

    def entry_at(self, year: str) -> DatedValue | None:
        """The dated value in force in ``year``, or None: before the first value, after a
        value's ``until`` year, or after the rule was ended (``value: null``)."""
        start = parse_fy(year)
        i = bisect.bisect_right([v.start_year for v in self.values], start) - 1
        if i < 0:
            return None
        entry = self.values[i]
        if entry.ends_rule or (entry.until is not None and start > parse_fy(entry.until)):
            return None
        return entry

    def at(self, year: str) -> InForce | None:
        """The value in force in ``year`` with its evidence, or None if the rule is not in
        force then (see :meth:`entry_at`)."""
        entry = self.entry_at(year)
        if entry is None:
            return None
        return InForce(
            self.name,
            entry.value,
            self.unit,
            entry.start,
            entry.sources,
            entry.confidence,
            entry.note,
            entry.unknown,
        )

    def by_year(self, first: str, last: str) -> dict[str, Value]:
        """The value in force in each year from ``first`` to ``last`` that has a known one:
        a mapping like a scenario's by-year parameter (``{"2017/18": 0.7, ...}``)."""
        out: dict[str, Value] = {}
        for start in range(parse_fy(first), parse_fy(last) + 1):
            entry = self.entry_at(fy_label(start))
            if entry is not None and not entry.unknown:
                out[fy_label(start)] = entry.value
        return out


class RulesInForce(Mapping[str, InForce]):
    """The rules in force in one financial year: parameter name -> :class:`InForce`.

    Only parameters in force that year appear. ``rules.value("cquin.share")`` gives a value
    (None if the rule is not in force or its figure is unknown).
    """

    __slots__ = ("_rules", "year")

    def __init__(self, year: str, rules: Mapping[str, InForce]) -> None:
        self.year = year
        self._rules = MappingProxyType(dict(rules))

    def __getitem__(self, name: str) -> InForce:
        try:
            return self._rules[name]
        except KeyError:
            raise KeyError(_unknown_name(name, self._rules, f"in force in {self.year}")) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def __contains__(self, name: object) -> bool:
        return name in self._rules

    def get(self, name: str, default: Any = None) -> Any:
        """The rule in force called ``name``, or ``default``."""
        return self._rules.get(name, default)

    def __repr__(self) -> str:
        return f"<RulesInForce {self.year}: {len(self)} parameters>"

    def value(self, name: str, default: Any = None) -> Any:
        """The value of ``name`` this year, or ``default`` if it is not in force or unknown."""
        rule = self._rules.get(name)
        return default if rule is None or rule.unknown else rule.value

    def domain(self, domain: str) -> RulesInForce:
        """The rules of one domain (``"tariff"``)."""
        return RulesInForce(
            self.year, {k: v for k, v in self._rules.items() if k.split(".", 1)[0] == domain}
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per rule: name, value, unit, set_in, confidence, sources, note, unknown."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "name": r.name,
                    "value": list(r.value) if isinstance(r.value, tuple) else r.value,
                    "unit": r.unit,
                    "set_in": r.set_in,
                    "confidence": r.confidence,
                    "sources": ", ".join(r.sources),
                    "note": r.note,
                    "unknown": r.unknown,
                }
                for r in self._rules.values()
            ],
            columns=["name", "value", "unit", "set_in", "confidence", "sources", "note", "unknown"],
        )


@dataclass(frozen=True)
class Change:
    """A parameter whose rule differs between two years: ``before`` or ``after`` is None
    where it is not in force."""

    name: str
    before: InForce | None
    after: InForce | None

    @property
    def kind(self) -> Literal["added", "ended", "changed"]:
        """ "added" (in force only after), "ended" (only before) or "changed" (a new value)."""
        if self.before is None:
            return "added"
        if self.after is None:
            return "ended"
        return "changed"


def _unknown_name(name: str, names: Mapping[str, Any], what: str) -> str:
    guess = did_you_mean(name, names)
    return f"no parameter '{name}' {what}" + (f" (did you mean '{guess}'?)" if guess else "")


class PolicyTree:
    """The national finance and payment rules, as dated, cited parameters. Immutable.

    Load the shipped tree with :func:`finsim.policy.load`, or a file of your own with
    :func:`finsim.policy.load_file`.
    """

    __slots__ = ("base", "description", "domains", "name", "parameters", "sources", "title")

    name: str
    title: str
    description: str
    base: str | None
    parameters: Mapping[str, Parameter]
    sources: Mapping[str, Source]
    domains: Mapping[str, tuple[str, str]]

    def __init__(
        self,
        name: str,
        title: str,
        description: str,
        parameters: Mapping[str, Parameter],
        sources: Mapping[str, Source],
        domains: Mapping[str, tuple[str, str]],
        base: str | None = None,
    ) -> None:
        """``domains`` maps each domain, in the order shown, to its (title, description);
        ``parameters`` are in the order shown."""
        for attr, value in (
            ("name", name),
            ("title", title),
            ("description", description),
            ("base", base),
            ("parameters", MappingProxyType(dict(parameters))),
            ("sources", MappingProxyType(dict(sources))),
            ("domains", MappingProxyType(dict(domains))),
        ):
            object.__setattr__(self, attr, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a PolicyTree is immutable: load or build another one")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("a PolicyTree is immutable: load or build another one")

    def __repr__(self) -> str:
        return f"<PolicyTree {self.name!r}: {len(self.parameters)} parameters>"

    def __contains__(self, name: object) -> bool:
        return name in self.parameters

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self.parameters.values())

    def __len__(self) -> int:
        return len(self.parameters)

    def parameter(self, name: str) -> Parameter:
        """The parameter called ``name`` (``"tariff.cost_uplift"``); KeyError if none."""
        try:
            return self.parameters[name]
        except KeyError:
            raise KeyError(_unknown_name(name, self.parameters, "in the tree")) from None

    def at(self, year: str) -> RulesInForce:
        """The rules in force in financial year ``year`` ("2018/19"): each parameter's value,
        the year it was set, its sources and confidence mark."""
        parse_fy(year)  # a ValueError naming the label if it is not a financial year
        rules = {}
        for parameter in self.parameters.values():
            rule = parameter.at(year)
            if rule is not None:
                rules[parameter.name] = rule
        return RulesInForce(year, rules)

    def diff(self, before: str, after: str) -> list[Change]:
        """What differs between the rules in force in ``before`` and in ``after``: rules
        added, ended, or given another value (a value re-stated unchanged is no change)."""
        old, new = self.at(before), self.at(after)
        changes = []
        for name in self.parameters:
            a, b = old.get(name), new.get(name)
            if a is None and b is None:
                continue
            if a is not None and b is not None and (a.value, a.unknown) == (b.value, b.unknown):
                continue
            changes.append(Change(name, a, b))
        return changes

    def years(self) -> tuple[str, str]:
        """The first and last financial years the tree gives a value for."""
        starts = [v.start_year for p in self.parameters.values() for v in p.values]
        ends = [
            parse_fy(v.until) if v.until else v.start_year
            for p in self.parameters.values()
            for v in p.values
        ]
        return fy_label(min(starts)), fy_label(max(ends))
