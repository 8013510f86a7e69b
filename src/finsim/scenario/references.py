"""Cross-checks between the parts of a validated scenario: ids, regions, years, and each
mechanism's own ``check`` (which receives a :class:`References`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from finsim.calendar import fy_label, parse_fy
from finsim.errors import did_you_mean, format_path
from finsim.scenario.models import EXTERNAL_ACCOUNTS
from finsim.scenario.params import ByYear

if TYPE_CHECKING:
    from finsim.system import System

PathKey = tuple[str | int, ...]


class References:
    """Cross-checks between the parts of a validated scenario, collecting problems.

    Mechanisms receive one of these in their ``check`` classmethod; ``system`` is the
    :class:`finsim.system.System` the scenario is read with (its schemes, its mechanisms).
    """

    def __init__(self, model: BaseModel, system: System) -> None:
        self.model = model
        self.system = system
        self.found: list[tuple[PathKey, str, str | None]] = []
        settings = model.scenario  # type: ignore[attr-defined]
        self.start_year = parse_fy(settings.start)
        self.n_years = settings.years
        self.org_type: dict[str, str] = {name: "external" for name in EXTERNAL_ACCOUNTS}
        self.org_path: dict[str, PathKey] = {}
        orgs = model.organisations  # type: ignore[attr-defined]
        entries: list[tuple[PathKey, str, Any]] = [
            (("organisations", "centre"), "centre", orgs.centre)
        ]
        for group, kind in (
            ("regions", "region"),
            ("systems", "system"),
            ("commissioners", "commissioner"),
            ("providers", "provider"),
        ):
            for i, org in enumerate(getattr(orgs, group)):
                entries.append((("organisations", group, i, "id"), kind, org))
        for path, kind, org in entries:
            if org.id in EXTERNAL_ACCOUNTS:
                self.add(path, f"'{org.id}' is reserved for the external account of that name")
            elif org.id in self.org_path:
                self.add(
                    path, f"duplicate id '{org.id}' (also {format_path(self.org_path[org.id])})"
                )
            else:
                self.org_type[org.id] = kind
                self.org_path[org.id] = path
        self.region_of_system = {s.id: s.region for s in orgs.systems}
        for i, org_system in enumerate(orgs.systems):
            self.org(("organisations", "systems", i, "region"), org_system.region, ("region",))
        for group in ("commissioners", "providers"):
            for i, member in enumerate(getattr(orgs, group)):
                path = ("organisations", group, i)
                if self.org(path + ("system",), member.system, ("system",)) and member.region:
                    if self.org(path + ("region",), member.region, ("region",)):
                        actual = self.region_of_system[member.system]
                        if actual != member.region:
                            self.add(
                                path + ("region",),
                                f"'{member.id}' is said to be in region '{member.region}' but its "
                                f"system '{member.system}' is in region '{actual}'",
                            )

    def add(self, path: PathKey, message: str, suggestion: str | None = None) -> None:
        """Record a problem at ``path``."""
        self.found.append((path, message, suggestion))

    def ids(self, *kinds: str) -> list[str]:
        """The ids of organisations of the given kinds (all kinds if none given)."""
        return [i for i, k in self.org_type.items() if not kinds or k in kinds]

    def org(self, path: PathKey, org_id: str, kinds: tuple[str, ...]) -> bool:
        """Check that ``org_id`` names an organisation of one of ``kinds``; record a problem if not."""
        kind = self.org_type.get(org_id)
        if kind is None:
            expected = " or ".join(kinds)
            self.add(path, f"unknown {expected} '{org_id}'", did_you_mean(org_id, self.ids(*kinds)))
            return False
        if kind not in kinds:
            self.add(path, f"'{org_id}' is a {kind}; expected a {' or '.join(kinds)}")
            return False
        return True

    def check_uncertain(self) -> None:
        """Each uncertain input names a number in the scenario, with low <= high."""
        items = getattr(self.model, "uncertain", None)
        if isinstance(items, _Unchecked) or not items:
            return
        # sections with type errors (in a partly validated model) are reported already
        unchecked = {
            name
            for name in type(self.model).model_fields
            if isinstance(getattr(self.model, name, None), _Unchecked)
        }
        # (python, not JSON: a variant may hold any value, which JSON may not write)
        document = self.model.model_dump(by_alias=True, exclude=unchecked)
        for i, item in enumerate(items):
            path: PathKey = ("uncertain", i)
            if item.path.split(".")[0] in unchecked:
                continue
            node: Any = document
            for part in item.path.split("."):
                key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
                try:
                    node = node[key]
                except (KeyError, IndexError, TypeError):
                    node = None
                    break
            if isinstance(node, bool) or not isinstance(node, int | float):
                self.add(path + ("path",), f"'{item.path}' does not name a number in the scenario")
            if item.high < item.low:
                self.add(path, f"low ({item.low}) is above high ({item.high})")

    def check_years(self) -> None:
        """Every per-year parameter must give a value for the first year it is used: the
        first simulated year, or the second for growth rates (applied into each year)."""
        for path, param in _by_year_fields(self.model, ()):
            first = param.first_year
            needed = self.start_year + (1 if param.from_second_year else 0)
            if first is not None and first > needed and needed < self.start_year + self.n_years:
                what = (
                    "the first simulated year"
                    if needed == self.start_year
                    else "the first year it applies to"
                )
                self.add(
                    path,
                    f"no value for {fy_label(needed)}, {what}: the first year given is "
                    f"{fy_label(first)} (a value applies from its year on)",
                )


def _by_year_fields(value: Any, path: PathKey) -> Iterator[tuple[PathKey, ByYear]]:
    if isinstance(value, ByYear):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _by_year_fields(getattr(value, name), path + (name,))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _by_year_fields(item, path + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _by_year_fields(item, path + (key,))


class _UncheckedSection(Exception):
    """Raised when a cross-check reads a section whose types were wrong."""


class _Unchecked:
    """Stands for a section that failed type checks, in a partly validated model.

    Reading anything from it abandons the cross-check that tried, so that a broken
    section never causes misleading reference problems elsewhere.
    """

    __slots__ = ("section",)

    def __init__(self, section: str) -> None:
        self.section = section

    def _refuse(self, *args: Any) -> Any:
        raise _UncheckedSection(self.section)

    __getattr__ = __iter__ = __len__ = __getitem__ = __contains__ = __bool__ = _refuse


def cross_check(model: BaseModel, system: System) -> list[tuple[PathKey, str, str | None]]:
    """Reference problems of a (possibly partly) validated model: ids, regions, years."""
    refs = References(model, system)
    refs.check_years()
    refs.check_uncertain()
    for section, cls in system.mechanisms.items():
        config = getattr(model, section, None)
        if config is None or isinstance(config, _Unchecked):
            continue
        before = len(refs.found)
        try:
            cls.check(config, refs)
        except _UncheckedSection:
            # the check needed a section with type errors: what it found may be misleading
            del refs.found[before:]
    return refs.found
