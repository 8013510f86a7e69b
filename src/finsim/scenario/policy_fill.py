"""``policy: england``: a scenario inherits the national rules of its years from a policy tree.

A scenario that names a policy (a tree shipped with finsim, or a policy file of its own: a
proposed scheme) gets every national setting the tree gives for its simulated years
(:data:`finsim.policy.bindings.BINDINGS`: tariff uplift and efficiency, the emergency marginal
rate, CQUIN, the incentive fund's phasing, finance share and bonus rate, loans and PDC...),
written into the document before it is validated, as if typed in. Anything the scenario
states itself wins, field by field. :func:`national_settings` says, for each setting, what
value the run uses and where it came from: the policy (with the rule's sources and
confidence mark, year by year) or the scenario's own line.

Two things are refused rather than guessed, each as one clear error naming the setting and
the year: a rule in force whose figure the sources do not give (``unknown``), and (unless
the scenario says ``unconfirmed: use``) a figure marked U, unconfirmed, which finsim never
presents as fact. The way out is always the same: state the setting in the scenario.
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from finsim.calendar import fy_label, parse_fy
from finsim.errors import Problem, ScenarioError
from finsim.policy.bindings import BINDINGS, Binding
from finsim.scenario.merge import Lines
from finsim.scenario.models import PolicyChoice, policy_shorthand


@dataclass(frozen=True)
class Origin:
    """Where one national setting's value came from."""

    path: str
    value: Any
    origin: Literal["policy", "scenario", "default"]
    detail: str  # the rule, year by year, with sources and marks; or the file and line


def _tree(name: str, folder: Path) -> Any:
    from finsim import policy

    if name in policy.shipped_trees():
        return policy.load(name)
    path = Path(name)
    if not path.is_absolute():
        path = folder / path
    if not name.endswith((".yaml", ".yml")) and not path.exists():
        policy.load(name)  # raises, naming the shipped trees (and a near miss)
    stat = os.stat(path)  # (a missing file: the caller reports it)
    return _file_tree(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _file_tree(path: str, mtime: int, size: int) -> Any:
    from finsim import policy

    return policy.load_file(path)


def apply_policy(
    data: dict[str, Any], lines: Lines, source: str
) -> tuple[dict[str, Any], Lines, tuple[Origin, ...]]:
    """``data`` with the national settings its ``policy`` gives filled in, their lines (the
    policy, for a value it gave) and where each setting came from. Without ``policy`` the
    data is returned as it is. Raises :class:`ScenarioError` for what cannot be filled."""
    raw = data.get("policy")
    if raw is None:
        return data, lines, ()
    try:
        chosen = PolicyChoice.model_validate(policy_shorthand(raw))
        start = parse_fy(data["scenario"]["start"])
        years = int(data["scenario"]["years"])
        if not 1 <= years <= 50:
            raise ValueError
    except (ValidationError, KeyError, TypeError, ValueError):
        return data, lines, ()  # validation reports what is wrong with it
    line = lines.get(("policy",), (source, None))[1]
    folder = Path(source).parent if Path(source).is_file() else Path.cwd()
    try:
        tree = _tree(chosen.name, folder)
    except ScenarioError as exc:
        raise ScenarioError(
            [Problem("policy", f"in the policy file: {p}", source, line) for p in exc.problems]
        ) from None
    except (ValueError, OSError) as exc:
        message = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise ScenarioError.single("policy", f"{chosen.name!r}: {message}", source, line) from None
    labels = [fy_label(start + i) for i in range(years)]
    filled = copy.deepcopy(data)
    out_lines = dict(lines)
    origins: list[Origin] = []
    problems: list[Problem] = []
    where = f"policy {chosen.name}"
    for binding in BINDINGS:
        stated = _get(filled, binding.path)
        if stated is not _MISSING:
            spot = lines.get(binding.path, (source, None))
            detail = spot[0] + (f":{spot[1]}" if spot[1] is not None else "")
            origins.append(Origin(binding.dotted, stated, "scenario", detail))
            continue
        if not binding.applies(data) or (binding.money and chosen.scale is None):
            continue
        span = _span(binding, data, labels)
        value, detail, trouble = _setting(binding, tree, span, chosen)
        if isinstance(value, dict) and callable(binding.years) and span[:1] != labels[:1]:
            # a rule of a mechanism that starts later: its first value is also written for the
            # first simulated year, which a by-year setting must cover (it is not used then)
            value = {labels[0]: next(iter(value.values())), **value}
            detail += f"; {labels[0]}: the first value, written so the setting covers the run"
        if trouble:
            problems += [Problem(binding.dotted, f"{where}: {t}", source, line) for t in trouble]
            continue
        if value is _MISSING:
            gap = (
                f"{where} gives no rule for {', '.join(span)}: finsim's default"
                if span
                else "not used: a growth into each year after the first, and the run has one"
            )
            origins.append(Origin(binding.dotted, None, "default", gap))
            continue
        created = [binding.path[:i] for i in range(1, len(binding.path) + 1)]
        created = [path for path in created if _get(filled, path) is _MISSING]
        _set(filled, binding.path, value)
        for path in created:  # what the policy wrote, not the sections it wrote into
            out_lines[path] = (where, None)
        origins.append(Origin(binding.dotted, value, "policy", detail))
    if problems:
        raise ScenarioError(problems)
    return filled, out_lines, tuple(origins)


def _span(binding: Binding, data: dict[str, Any], labels: list[str]) -> list[str]:
    """The simulated years in which ``binding``'s setting is used."""
    if binding.years == "after_first":
        return labels[1:]
    if callable(binding.years):
        used = set(binding.years(data, labels))
        return [y for y in labels if y in used]
    return labels


def _setting(
    binding: Binding, tree: Any, span: list[str], chosen: PolicyChoice
) -> tuple[Any, str, list[str]]:
    """The setting ``binding`` takes over the years ``span``, the evidence, and what stops it."""
    by_year: dict[str, Any] = {}
    evidence: list[str] = []
    trouble: list[str] = []
    silent: list[str] = []
    for label in span:
        rule = next(
            (r for r in (tree.parameter(p).at(label) for p in binding.parameters) if r),
            None,
        )
        if rule is None:
            if binding.absent is None:
                silent.append(label)
                continue
            by_year[label] = binding.absent
            evidence.append(f"{label}: no rule in force, so {binding.absent!r}")
            continue
        marks = f"{', '.join(rule.sources)}; {rule.confidence}"
        if rule.unknown:
            trouble.append(
                f"{rule.name} is in force in {label} but its figure is not known "
                f"({marks}{': ' + rule.note if rule.note else ''}); state {binding.dotted} "
                "in the scenario"
            )
            continue
        if rule.confidence == "U" and chosen.unconfirmed != "use":
            trouble.append(
                f"{rule.name} in {label} is {rule.value!r}, marked U: unconfirmed ({marks}); "
                f"state {binding.dotted} in the scenario, or write policy: {{name: "
                f"{chosen.name}, unconfirmed: use}} to take it"
            )
            continue
        value = rule.value
        if binding.money:
            value = float(value) * float(chosen.scale or 0.0)
        if binding.convert is not None:
            try:
                value = binding.convert(value)
            except ValueError as exc:
                trouble.append(f"{rule.name} in {label}: {exc}")
                continue
        by_year[label] = value
        evidence.append(f"{label}: {rule.name} = {rule.value!r} ({marks})")
    if trouble:
        return _MISSING, "", trouble
    if not by_year:
        return _MISSING, "", []
    if binding.form == "one":
        values = list(by_year.values())
        if any(v != values[0] for v in values[1:]):
            changes = ", ".join(f"{y}: {v!r}" for y, v in by_year.items())
            return (
                _MISSING,
                "",
                [
                    f"the rule changes within the scenario's years ({changes}) but "
                    f"{binding.dotted} holds one value; state it in the scenario"
                ],
            )
        return values[0], "; ".join(evidence), []
    if silent:
        return (
            _MISSING,
            "",
            [
                f"the policy gives {binding.dotted} for {', '.join(by_year)} but says nothing "
                f"for {', '.join(silent)}; state it in the scenario"
            ],
        )
    return by_year, "; ".join(evidence), []


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict) or key not in data or data[key] is None:
            return _MISSING
        data = data[key]
    return data


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value
