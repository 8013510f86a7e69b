"""Checking a parameter's dated values: years, units, sources and confidence marks.

Each value must be given for a financial year, in increasing order, with a value in the
parameter's unit (a share between 0 and 1...), or ``null`` with a note to end the rule, or
``unknown: true`` (marked U, with a note) for a figure the sources do not give. It cites at
least one source that exists; a C mark needs an official one; a U mark needs a note.
"""

from __future__ import annotations

from typing import Any

from finsim.calendar import fy_label, parse_fy
from finsim.errors import Problem, did_you_mean
from finsim.policy.files import PolicyDocument
from finsim.policy.models import ValueSpec, unit_problem
from finsim.policy.tree import DatedValue, Source
from finsim.scenario.yamlio import PathKey


class ValueChecks:
    """Checks one parameter's dated values against its unit, the sources and each other."""

    def __init__(
        self,
        file: PolicyDocument,
        path: PathKey,
        unit: str,
        sources: dict[str, Source],
        problems: list[Problem],
    ) -> None:
        self.file, self.path, self.unit = file, path, unit
        self.sources, self.problems = sources, problems

    def add(self, where: PathKey, message: str, suggestion: str | None = None) -> None:
        self.problems.append(self.file.problem((*self.path, *where), message, suggestion))

    def check(self, values: dict[Any, ValueSpec]) -> list[DatedValue]:
        """The values that passed their checks, in order; problems are added to the list."""
        out: list[DatedValue] = []
        for key, spec in values.items():
            where: PathKey = ("values", key)
            try:
                start = parse_fy(key)
            except ValueError as exc:
                self.add(where, str(exc))
                continue
            if out and start <= out[-1].start_year:
                self.add(where, f"years must increase: {key} is written after {out[-1].start}")
                continue
            if out and out[-1].until and parse_fy(out[-1].until) >= start:
                message = f"the value from {out[-1].start} runs until {out[-1].until}, past {key}"
                self.add(("values", out[-1].start, "until"), message)
            entry = self._entry(where, fy_label(start), spec)
            if entry is not None:
                out.append(entry)
        return out

    def _entry(self, where: PathKey, start: str, spec: ValueSpec) -> DatedValue | None:
        ok = self._value_ok(where, spec) & self._sources_ok(where, spec)
        until = spec.until
        if until is not None:
            try:
                if parse_fy(until) < parse_fy(start):
                    self.add((*where, "until"), f"expected {start} or later, got '{until}'")
                    ok = False
            except ValueError as exc:
                self.add((*where, "until"), str(exc))
                ok = False
        if not ok:
            return None
        value = tuple(spec.value) if isinstance(spec.value, list) else spec.value
        if isinstance(value, int) and not isinstance(value, bool) and self.unit != "count":
            value = float(value)
        return DatedValue(
            start,
            value,
            tuple(spec.source),
            spec.confidence,
            spec.note,
            fy_label(parse_fy(until)) if until else None,
            spec.unknown,
        )

    def _value_ok(self, where: PathKey, spec: ValueSpec) -> bool:
        given = "value" in spec.model_fields_set
        if spec.unknown:
            wrong: list[tuple[str, str]] = []
            if given and spec.value is not None:
                wrong.append(
                    ("value", "a figure not known has no value: remove 'value' or 'unknown'")
                )
            if spec.confidence != "U":
                wrong.append(
                    ("confidence", f"a figure not known is marked U, not {spec.confidence}")
                )
            if not spec.note:
                wrong.append(("note", "say in a note what is not known and where it was sought"))
            for key, message in wrong:
                self.add((*where, key), message)
            return not wrong
        if not given:
            message = "required field is missing (null ends the rule; 'unknown: true' marks a gap)"
            self.add((*where, "value"), message)
            return False
        if spec.value is None:
            if not spec.note:
                self.add((*where, "note"), "say in a note why the rule ends")
                return False
            return True
        problem = unit_problem(self.unit, spec.value)
        if problem:
            self.add((*where, "value"), problem)
            return False
        if spec.confidence == "U" and not spec.note:
            self.add((*where, "note"), "an unconfirmed (U) value needs a note saying so")
            return False
        return True

    def _sources_ok(self, where: PathKey, spec: ValueSpec) -> bool:
        known = self.sources
        ok = True
        if not spec.source and not spec.unknown:
            self.add((*where, "source"), "cite at least one source ID (see the sources)")
            ok = False
        for i, sid in enumerate(spec.source):
            if sid not in known:
                self.add((*where, "source", i), f"unknown source '{sid}'", did_you_mean(sid, known))
                ok = False
            elif sid in spec.source[:i]:
                self.add((*where, "source", i), f"source '{sid}' is cited twice")
                ok = False
        if ok and spec.confidence == "C" and not any(known[s].official for s in spec.source):
            message = (
                f"confidence C needs an official source; {', '.join(spec.source)} "
                f"{'is a secondary report' if len(spec.source) == 1 else 'are secondary reports'}"
                ": mark it S"
            )
            self.add((*where, "confidence"), message)
            ok = False
        return ok
