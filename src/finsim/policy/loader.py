"""Reading policy files into a :class:`~finsim.policy.tree.PolicyTree`, checked whole first.

The shipped tree for England is a folder of YAML files, one per domain of the rules (tariff,
marginal rate, CQUIN, incentive funds...), an index giving their order, and the sources.
A user's file describes a proposed scheme in the same format; with ``extends: england`` it
names only what it changes: its dated values replace or extend the base's values for the
parameters it names, and everything else is kept, as a PolicyEngine data-only reform does.
A value the user sets from a year takes over from that year: a base value that would have
run on past it (``until``) stops the year before.

Nothing is used before everything is checked. Every problem is reported at once, as a
:class:`~finsim.errors.ScenarioError` naming the file, the line, the field path
(``parameters.tariff.cost_uplift.values.2018/19.confidence``) and what was expected: an
unknown key, a value outside its unit (a share of 70), a source not in the sources, a year
that is not a financial year or out of order, a C mark with no official source.
"""

from __future__ import annotations

import functools
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from finsim.calendar import fy_label, parse_fy
from finsim.errors import Problem, ScenarioError, did_you_mean
from finsim.policy.checks import ValueChecks
from finsim.policy.files import PolicyDocument, read_document
from finsim.policy.models import ParameterSpec
from finsim.policy.tree import DatedValue, Parameter, PolicyTree, Source
from finsim.scenario.yamlio import PathKey

#: Where the shipped trees are: one folder of YAML files each.
SHIPPED = Path(__file__).resolve().parent
_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
_DOMAIN = re.compile(r"^[a-z][a-z0-9_]*$")
_SOURCE_ID = re.compile(r"^[A-Z][A-Za-z0-9-]*$")


def shipped_trees() -> list[str]:
    """The names of the trees shipped with finsim (``["england"]``)."""
    return sorted(p.name for p in SHIPPED.iterdir() if p.is_dir() and any(p.glob("*.yaml")))


@functools.lru_cache(maxsize=8)
def load(name: str = "england") -> PolicyTree:
    """The shipped policy tree ``name``: the national rules by financial year, cited.

    The tree is immutable, so the same object is returned each time.
    """
    if name not in shipped_trees():
        guess = did_you_mean(name, shipped_trees())
        raise ValueError(
            f"no shipped policy tree '{name}' (shipped: {', '.join(shipped_trees())})"
            + (f"; did you mean '{guess}'?" if guess else "")
        )
    folder = SHIPPED / name
    files = []
    problems: list[Problem] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            files.append(read_document(path))
        except ScenarioError as exc:
            problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    for file in files:
        if file.model.extends is not None:
            problems.append(file.problem(("extends",), "a shipped tree cannot extend another"))
    if problems:
        raise ScenarioError(problems)
    return _Build(name, None).run(files)


def load_file(path: str | Path) -> PolicyTree:
    """A policy file of your own (a proposed scheme), checked, as a tree. With
    ``extends: england`` (or the path of another policy file, relative to this one) it is
    merged onto that tree: see the module docstring."""
    return _load_file(Path(path), ())


def _load_file(path: Path, stack: tuple[Path, ...]) -> PolicyTree:
    file = read_document(path)
    base: PolicyTree | None = None
    ref = file.model.extends
    if ref is not None:
        here = file.problem
        if ref in shipped_trees():
            base = load(ref)
        elif not ref.strip():
            raise ScenarioError([here(("extends",), "expected 'england' or a policy file")])
        else:
            target = (path.parent / ref).resolve()
            if target in stack or target == path.resolve():
                chain = " -> ".join(str(p) for p in (*stack, path.resolve(), target))
                raise ScenarioError([here(("extends",), f"cyclic 'extends': {chain}")])
            if not target.is_file():
                guess = did_you_mean(ref, shipped_trees())
                message = f"'{ref}' is neither a shipped tree ({', '.join(shipped_trees())})"
                message += f" nor a file (looked for {target})"
                raise ScenarioError([here(("extends",), message, guess)])
            base = _load_file(target, (*stack, path.resolve()))
    return _Build(path.stem, base).run([file])


class _Build:
    """Checks files against each other and a base tree, then builds the tree."""

    def __init__(self, name: str, base: PolicyTree | None) -> None:
        self.name = name
        self.base = base
        self.problems: list[Problem] = []
        self.sources: dict[str, Source] = dict(base.sources) if base else {}
        self.parameters: dict[str, Parameter] = dict(base.parameters) if base else {}
        self.domains: dict[str, tuple[str, str]] = dict(base.domains) if base else {}
        self.title = f"{base.title}, changed by {name}" if base else name
        self.description = base.description if base else ""
        # each parameter this load sets, and the file that sets it
        self.set_here: dict[str, PolicyDocument] = {}

    def run(self, files: list[PolicyDocument]) -> PolicyTree:
        order: list[str] | None = None
        for file in files:
            self._add_sources(file)
            model = file.model
            if model.domain is None:
                self.title = model.title or self.title
                self.description = model.description or self.description
                order = model.domains if model.domains is not None else order
            elif not _DOMAIN.match(model.domain):
                message = f"a domain is a lower-case name ('tariff'), got {model.domain!r}"
                self.problems.append(file.problem(("domain",), message))
            else:
                old = self.domains.get(model.domain, (model.domain, ""))
                self.domains[model.domain] = (
                    model.title or old[0],
                    model.description or old[1],
                )
        for file in files:
            for name, spec in file.model.parameters.items():
                self._add_parameter(file, name, spec)
        if order is not None:
            self._order_domains(files, order)
        self._check_groups()
        if self.problems:
            raise ScenarioError(self.problems)
        parameters = sorted(
            self.parameters.values(), key=lambda p: list(self.domains).index(p.domain)
        )
        return PolicyTree(
            self.name,
            self.title,
            self.description,
            {p.name: p for p in parameters},
            self.sources,
            self.domains,
            self.base.name if self.base else None,
        )

    def _check_groups(self) -> None:
        """A name is a parameter or a group of parameters, never both (``deficits.reset`` and
        ``deficits.reset.rule`` cannot both be parameters)."""
        for name, file in self.set_here.items():
            parts = name.split(".")
            for n in range(1, len(parts)):
                group = ".".join(parts[:n])
                if group in self.parameters:
                    message = f"'{group}' is a parameter, so it cannot also be a group of them"
                    self.problems.append(file.problem(("parameters", name), message))

    def _order_domains(self, files: list[PolicyDocument], order: list[str]) -> None:
        index = next(f for f in files if f.model.domains is not None)
        used = {p.domain for p in self.parameters.values()}
        for i, domain in enumerate(order):
            if domain not in used or order.index(domain) != i:
                what = "is listed twice" if domain in used else "has no parameters"
                self.problems.append(index.problem(("domains", i), f"domain '{domain}' {what}"))
        for domain in sorted(used - set(order)):
            self.problems.append(index.problem(("domains",), f"domain '{domain}' is not listed"))
        listed = [d for d in dict.fromkeys(order) if d in self.domains]
        self.domains = {d: self.domains[d] for d in [*listed, *self.domains] if d in self.domains}

    def _add_sources(self, file: PolicyDocument) -> None:
        for sid, spec in file.model.sources.items():
            path: PathKey = ("sources", sid)
            if not isinstance(sid, str) or not _SOURCE_ID.match(sid):
                message = (
                    f"a source ID is a capital letter then letters, digits or '-', got {sid!r}"
                )
                self.problems.append(file.problem(path, message))
            elif sid in self.sources:
                self.problems.append(file.problem(path, f"source '{sid}' is already defined"))
            else:
                self.sources[sid] = Source(
                    sid, spec.publisher, spec.title, spec.date, spec.url, spec.official, spec.note
                )

    def _add_parameter(self, file: PolicyDocument, name: Any, spec: ParameterSpec) -> None:
        path: PathKey = ("parameters", name)
        if not isinstance(name, str) or not _NAME.match(name):
            message = (
                f"a parameter name is a domain and a name, dotted, in lower case "
                f"('tariff.cost_uplift'), got {name!r}"
            )
            self.problems.append(file.problem(path, message))
            return
        domain = file.model.domain
        if domain is not None and not name.startswith(domain + "."):
            message = f"every parameter of this file is in domain '{domain}': '{domain}.…'"
            self.problems.append(file.problem(path, message))
            return
        if name in self.set_here:
            message = f"parameter '{name}' is already set in {self.set_here[name].name}"
            self.problems.append(file.problem(path, message))
            return
        self.set_here[name] = file
        old = self.parameters.get(name)
        unit = spec.unit or (old.unit if old else None)
        description = spec.description or (old.description if old else None)
        if old is not None and spec.unit is not None and spec.unit != old.unit:
            message = f"'{name}' is in {old.unit} in the tree it extends: its unit cannot change"
            self.problems.append(file.problem((*path, "unit"), message))
            return
        for key, value in (("description", description), ("unit", unit)):
            if value is None:
                message = "required field is missing (for a parameter new to the tree)"
                self.problems.append(file.problem((*path, key), message))
        if unit is None or description is None:
            return
        entries = ValueChecks(file, path, unit, self.sources, self.problems).check(spec.values)
        if old is not None:
            entries = self._merge(file, path, old.values, entries)
        if name.split(".", 1)[0] not in self.domains:
            self.domains[name.split(".", 1)[0]] = (name.split(".", 1)[0], "")
        self.parameters[name] = Parameter(name, description, unit, tuple(entries))

    def _merge(
        self,
        file: PolicyDocument,
        path: PathKey,
        old: tuple[DatedValue, ...],
        new: list[DatedValue],
    ) -> list[DatedValue]:
        """The base's values with the file's replacing or added (see the module docstring)."""
        mine = {id(v) for v in new}
        merged = sorted(
            {**{v.start_year: v for v in old}, **{v.start_year: v for v in new}}.values(),
            key=lambda v: v.start_year,
        )
        out = []
        for entry, later in zip(merged, [*merged[1:], None], strict=True):
            if later is not None and entry.until and parse_fy(entry.until) >= later.start_year:
                if id(entry) in mine:
                    message = (
                        f"this value runs until {entry.until}, but the tree it extends sets "
                        f"a value from {later.start}: give one for {later.start} too, or end "
                        "this one earlier"
                    )
                    where = (*path, "values", entry.start, "until")
                    self.problems.append(file.problem(where, message))
                else:
                    entry = replace(entry, until=fy_label(later.start_year - 1))
            out.append(entry)
        return out
