"""Loading scenario files: ``extends:``, ``variants:`` and the immutable :class:`Scenario`."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from finsim.calendar import Calendar, parse_fy
from finsim.errors import Problem, ScenarioError, did_you_mean
from finsim.scenario.merge import deep_merge
from finsim.scenario.validate import PathKey, validate_document
from finsim.scenario.yamlio import parse_yaml, read_yaml

BASELINE = "baseline"
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

Lines = dict[PathKey, tuple[str, int]]


def _read_chain(path: Path, stack: tuple[Path, ...] = ()) -> tuple[dict[str, Any], Lines]:
    """Read a file and the files it ``extends:``, merged base first."""
    resolved = path.resolve()
    if resolved in stack:
        cycle = " -> ".join(str(p) for p in (*stack, resolved))
        raise ScenarioError.single("extends", f"cyclic 'extends': {cycle}", str(stack[-1]))
    data, raw_lines = read_yaml(path)
    lines: Lines = {k: (str(path), v) for k, v in raw_lines.items()}
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "(top level)",
            f"expected a mapping with 'scenario' and 'organisations', got {type(data).__name__}",
            str(path),
            1,
        )
    base_ref = data.get("extends")
    if base_ref is None:
        return data, lines
    if not isinstance(base_ref, str):
        raise ScenarioError.single(
            "extends", f"expected the path of a base file, got {base_ref!r}", str(path),
            raw_lines.get(("extends",)),
        )
    base_path = (path.parent / base_ref)
    if not base_path.exists():
        raise ScenarioError.single(
            "extends", f"base file '{base_ref}' not found (looked for {base_path})", str(path),
            raw_lines.get(("extends",)),
        )
    base, base_lines = _read_chain(base_path, (*stack, resolved))
    own = {k: v for k, v in data.items() if k != "extends"}
    merged = deep_merge(base, own)
    base_lines.update(lines)
    return merged, base_lines


class Scenario:
    """A validated, immutable scenario: the base file, or the base with one variant applied.

    Build one with :func:`load_scenario` (or :meth:`from_dict`); ``with_variant``
    returns another Scenario. ``model`` is the validated pydantic model; each
    mechanism's section is ``model.<section>``.
    """

    __slots__ = ("_base_doc", "_data", "_lines", "_source", "_variants", "model", "variant")

    def __init__(
        self,
        data: dict[str, Any],
        lines: Lines,
        source: str,
        variants: dict[str, Any],
        variant: str = BASELINE,
        base_doc: dict[str, Any] | None = None,
    ) -> None:
        model, problems = validate_document(data, lines, source)
        if variant != BASELINE:
            problems = [_in_variant(p, variant) for p in problems]
        if model is None:
            raise ScenarioError(problems)
        self._data = data
        self._base_doc = data if base_doc is None else base_doc
        self._lines = lines
        self._source = source
        self._variants = variants
        self.model: BaseModel = model
        self.variant = variant

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> Scenario:
        """Validate a scenario given as plain data (as it would be read from YAML)."""
        if not isinstance(data, dict):
            raise ScenarioError.single("(top level)", "expected a mapping", source)
        return cls._build(copy.deepcopy(data), {}, source)

    @classmethod
    def _build(cls, data: dict[str, Any], lines: Lines, source: str) -> Scenario:
        variants = data.get("variants") or {}
        base = cls(data, lines, source, variants if isinstance(variants, dict) else {})
        # Every variant is validated whole now, before any value of it is used.
        problems: list[Problem] = []
        for name in base._variants:
            try:
                base.with_variant(name)
            except ScenarioError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ScenarioError(problems)
        return base

    def with_variant(self, name: str) -> Scenario:
        """This scenario with the named variant's overlay merged onto the base."""
        if name == BASELINE:
            if self.variant == BASELINE:
                return self
            return Scenario(self._base_doc, self._lines, self._source, self._variants)
        if name not in self._variants:
            raise ScenarioError.single(
                "variants",
                f"unknown variant '{name}'; the file declares: "
                f"{', '.join(self._variants) or '(none)'}",
                self._source,
                suggestion=did_you_mean(name, self._variants),
            )
        overlay = self._variants[name]
        where = ("variants", name)
        if not _VARIANT_NAME.match(str(name)):
            raise ScenarioError.single(
                "variants", f"variant name {name!r} should be letters, digits, '_', '-' or '.'",
                self._source,
            )
        if not isinstance(overlay, dict):
            raise ScenarioError.single(
                f"variants.{name}", "expected a mapping of the parts of the scenario to replace",
                self._source, self._lines.get(where, (None, None))[1],
            )
        bad = [k for k in overlay if k in {"variants", "extends"}]
        if bad:
            raise ScenarioError.single(
                f"variants.{name}.{bad[0]}", "a variant cannot declare variants or extend a file",
                self._source, self._lines.get(where + (bad[0],), (None, None))[1],
            )
        base = {k: v for k, v in self._base_doc.items() if k != "variants"}
        data = deep_merge(base, overlay)
        lines = dict(self._lines)
        for path, loc in self._lines.items():
            if path[:2] == where and len(path) > 2:
                lines[path[2:]] = loc
        return Scenario(data, lines, self._source, self._variants, name, self._base_doc)

    # -- reading -------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.model.scenario.name)  # type: ignore[attr-defined]

    @property
    def description(self) -> str:
        return str(self.model.scenario.description)  # type: ignore[attr-defined]

    @property
    def source(self) -> str:
        """The file the scenario was read from."""
        return self._source

    @property
    def variants(self) -> list[str]:
        """Names of the variants the file declares."""
        return list(self._variants)

    @property
    def calendar(self) -> Calendar:
        settings = self.model.scenario  # type: ignore[attr-defined]
        return Calendar(parse_fy(settings.start), settings.years, settings.accounts_close_month)

    def to_data(self) -> dict[str, Any]:
        """The merged document (with this variant applied), as plain data."""
        return copy.deepcopy(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        # Models are built at run time from the registry, so pickle the data, not the model.
        return (_rebuild, (self._base_doc, self._source, self._variants, self.variant))

    def __repr__(self) -> str:
        variant = "" if self.variant == BASELINE else f", variant={self.variant!r}"
        return f"Scenario({self.name!r}{variant}, source={self._source!r})"


def _rebuild(base: dict[str, Any], source: str, variants: dict[str, Any], variant: str) -> Scenario:
    return Scenario(base, {}, source, variants).with_variant(variant)


def _in_variant(problem: Problem, variant: str) -> Problem:
    return Problem(
        f"variants.{variant} -> {problem.path}",
        problem.message,
        problem.file,
        problem.line,
        problem.suggestion,
    )


def load_scenario(path: str | Path, variant: str | None = None) -> Scenario:
    """Read, merge and validate a scenario file (and, optionally, apply a variant).

    Raises :class:`finsim.ScenarioError` listing every problem found.
    """
    path = Path(path)
    if not path.exists():
        raise ScenarioError.single("(file)", "file not found", str(path))
    if path.is_dir():
        raise ScenarioError.single("(file)", "expected a scenario file, got a folder", str(path))
    data, lines = _read_chain(path)
    scenario = Scenario._build(data, lines, str(path))
    return scenario.with_variant(variant) if variant else scenario


def loads_scenario(text: str, source: str = "<string>") -> Scenario:
    """Validate a scenario given as YAML text (``extends:`` is relative to the working folder)."""
    data, raw_lines = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError.single("(top level)", "expected a mapping", source, 1)
    return Scenario._build(data, {k: (source, v) for k, v in raw_lines.items()}, source)
