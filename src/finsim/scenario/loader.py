"""Loading scenario files: ``extends:``, ``variants:`` and the immutable :class:`Scenario`."""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from finsim.calendar import Calendar, parse_fy
from finsim.errors import Problem, ScenarioError, did_you_mean
from finsim.scenario.files import is_workbook
from finsim.scenario.merge import Lines, deep_merge, merge_lines
from finsim.scenario.policy_fill import Origin, apply_policy
from finsim.scenario.validate import PathKey, validate_document
from finsim.scenario.yamlio import check_data, file_problem, parse_yaml, read_yaml, shown_path

if TYPE_CHECKING:
    from finsim.system import System

BASELINE = "baseline"
_VARIANT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
_NOT_IN_VARIANTS = ("variants", "extends")


def _read_file(path: Path, stack: tuple[tuple[str, str], ...]) -> tuple[dict[str, Any], Lines]:
    """Read a file and the files it ``extends:``, merged base first."""
    data, raw_lines = read_yaml(path)
    name = shown_path(path)
    lines: Lines = {k: (name, v) for k, v in raw_lines.items()}
    return _with_base(data, lines, name, path.parent, (*stack, (_real(path), name)))


def _real(path: Path) -> str:
    """The path with symbolic links resolved, to tell a file seen before (never raises: a loop
    of links was refused when the file was checked)."""
    return os.path.realpath(path)


def _with_base(
    data: Any,
    lines: Lines,
    source: str,
    folder: Path,
    stack: tuple[tuple[str, str], ...] = (),
) -> tuple[dict[str, Any], Lines]:
    """Merge ``data`` onto the base it ``extends:`` (a path relative to ``folder``), if any."""
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "(top level)",
            f"expected a mapping with 'scenario' and 'organisations', got {_kind(data)}",
            source,
            1,
        )
    base_ref = data.get("extends")
    if base_ref is None:
        return data, lines
    line = lines.get(("extends",), (source, None))[1]
    if not isinstance(base_ref, str) or not base_ref.strip():
        raise ScenarioError.single(
            "extends", f"expected the path of a base file, got {base_ref!r}", source, line
        )
    base_path = folder / base_ref
    # checked before anything else touches the path: a NUL, a path too long, a loop of links,
    # a folder that cannot be entered, a device or a named pipe are each one problem
    problem = file_problem(base_path)
    if problem == "file not found":
        raise ScenarioError.single(
            "extends",
            f"base file {shown_path(base_ref)!r} not found (looked for {shown_path(base_path)})",
            source,
            line,
        )
    if problem is not None:
        raise ScenarioError.single(
            "extends",
            f"cannot read the base file {shown_path(base_ref)!r}: {problem}",
            source,
            line,
        )
    seen = [shown for resolved, shown in stack if resolved == _real(base_path)]
    if seen:
        chain = " -> ".join([*(shown for _, shown in stack), str(base_path)])
        raise ScenarioError.single(
            "extends", f"cyclic 'extends': {chain} (a file cannot extend itself)", source, line
        )
    base, base_lines = _read_file(base_path, stack)
    own = {k: v for k, v in data.items() if k != "extends"}
    return deep_merge(base, own), merge_lines(base, own, base_lines, lines)


def _kind(value: Any) -> str:
    return {list: "a list", str: "text", type(None): "nothing"}.get(type(value), repr(value))


class Scenario:
    """A validated, immutable scenario: the base file, or the base with one variant applied.

    Build one with :func:`load_scenario` (or :meth:`from_dict`); ``with_variant``
    returns another Scenario. ``model`` is the validated pydantic model; each
    mechanism's section is ``model.<section>``. ``system`` is the
    :class:`finsim.system.System` (mechanisms and schemes) it was read with and runs with.
    """

    __slots__ = (
        "_base",
        "_base_lines",
        "_data",
        "_origins",
        "_source",
        "model",
        "system",
        "variant",
    )

    _base: dict[str, Any]
    _base_lines: Lines
    _data: dict[str, Any]
    _origins: tuple[Origin, ...]
    _source: str
    model: BaseModel
    system: System
    variant: str

    def __init__(
        self,
        base: dict[str, Any],
        base_lines: Lines,
        source: str,
        variant: str = BASELINE,
        system: System | None = None,
    ) -> None:
        """Validate ``base`` (the merged document) with ``variant``'s overlay applied, against
        ``system``'s mechanisms (default ``System.default()``)."""
        system = _default(system)
        if variant == BASELINE:
            data, lines = base, base_lines
        else:
            data, lines = _apply(base, base_lines, source, variant)
        try:  # the national rules of its policy, where the file does not state them
            filled, filled_lines, origins = apply_policy(data, lines, source)
        except ScenarioError as exc:
            if variant == BASELINE:
                raise
            raise ScenarioError([_in_variant(p, variant) for p in exc.problems]) from None
        model, problems = validate_document(filled, filled_lines, source, system)
        if model is None:
            if variant != BASELINE:
                problems = [_in_variant(p, variant) for p in problems]
            raise ScenarioError(problems)
        for name, value in (
            ("_base", base),
            ("_base_lines", base_lines),
            ("_data", data),
            ("_origins", origins),
            ("_source", source),
            ("model", model),
            ("system", system),
            ("variant", variant),
        ):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a Scenario cannot be changed; use with_variant (setting {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"a Scenario cannot be changed (deleting {name!r})")

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_dict(
        cls, data: dict[str, Any], source: str = "<dict>", system: System | None = None
    ) -> Scenario:
        """Validate a scenario given as plain data (as it would be read from YAML).

        An ``extends:`` path is relative to the working folder. ``system`` gives the
        mechanisms and schemes (default ``System.default()``).
        """
        check_data(data, source)
        merged, lines = _with_base(copy.deepcopy(data), {}, source, Path.cwd())
        return cls._build(merged, lines, source, system)

    @classmethod
    def _build(
        cls, data: dict[str, Any], lines: Lines, source: str, system: System | None = None
    ) -> Scenario:
        base = cls(data, lines, source, system=system)
        # Every variant is validated whole now, before any value of it is used.
        problems: list[Problem] = []
        if BASELINE in base.variants:
            problems.append(
                Problem(
                    f"variants.{BASELINE}",
                    f"'{BASELINE}' names the scenario without any variant; call this variant something else",
                    source,
                    lines.get(("variants", BASELINE), (None, None))[1],
                )
            )
        for name in base.variants:
            if name == BASELINE:
                continue
            try:
                base.with_variant(name)
            except ScenarioError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ScenarioError(problems)
        return base

    def with_variant(self, name: str) -> Scenario:
        """The base scenario with the named variant's overlay merged onto it.

        Variants do not stack: ``sc.with_variant("a").with_variant("b")`` is the base
        with ``b`` applied. ``"baseline"`` names the base itself.
        """
        if name == self.variant:
            return self
        if name != BASELINE and name not in self.variants:
            raise ScenarioError.single(
                "variants",
                f"unknown variant '{name}'; the file declares: {', '.join(self.variants) or '(none)'}",
                self._source,
                self._base_lines.get(("variants",), (None, None))[1],
                did_you_mean(name, self.variants),
            )
        return Scenario(self._base, self._base_lines, self._source, name, self.system)

    def with_system(self, system: System) -> Scenario:
        """The same scenario read with another System (validated again against it)."""
        if system == self.system:
            return self
        return Scenario._build(self._base, self._base_lines, self._source, system).with_variant(
            self.variant
        )

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
        return list(self._base.get("variants") or {})

    @property
    def calendar(self) -> Calendar:
        settings = self.model.scenario  # type: ignore[attr-defined]
        return Calendar(parse_fy(settings.start), settings.years, settings.accounts_close_month)

    def national_settings(self) -> tuple[Origin, ...]:
        """Each national setting the policy tree can give (:mod:`finsim.scenario.policy_fill`)
        that applies to this scenario: its value and whether it came from the ``policy`` (with
        the rule's sources and confidence mark, year by year) or the file itself. Empty
        without a ``policy``."""
        return self._origins

    def to_data(self) -> dict[str, Any]:
        """The merged document (with this variant applied), as plain data."""
        return copy.deepcopy(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the data and the System (its classes by reference), not the model: the
        # worker validates again with the same System, importing the plug-ins' modules itself.
        return (Scenario, (self._base, self._base_lines, self._source, self.variant, self.system))

    def _repr_html_(self) -> str:
        from finsim.export import scenario_html

        return scenario_html(self)

    def __repr__(self) -> str:
        variant = "" if self.variant == BASELINE else f", variant={self.variant!r}"
        return f"Scenario({self.name!r}{variant}, source={self._source!r})"


def _apply(
    base: dict[str, Any], base_lines: Lines, source: str, name: str
) -> tuple[dict[str, Any], Lines]:
    """The base document with variant ``name``'s overlay merged onto it, and its lines."""
    where: PathKey = ("variants", name)

    def line(path: PathKey) -> int | None:
        return base_lines.get(path, (None, None))[1]

    if not _VARIANT_NAME.match(name):
        raise ScenarioError.single(
            f"variants.{name}",
            "a variant name should be letters, digits, '_', '-' or '.', "
            "starting with a letter or digit",
            source,
            line(where),
        )
    overlay = (base.get("variants") or {}).get(name)
    if not isinstance(overlay, dict):
        raise ScenarioError.single(
            f"variants.{name}",
            "expected a mapping of the parts of the scenario to replace",
            source,
            line(where),
        )
    bad = [k for k in overlay if k in _NOT_IN_VARIANTS]
    if bad:
        raise ScenarioError.single(
            f"variants.{name}.{bad[0]}",
            "a variant cannot declare variants or extend a file",
            source,
            line((*where, bad[0])),
        )
    plain = {k: v for k, v in base.items() if k != "variants"}
    return deep_merge(plain, overlay), merge_lines(plain, overlay, base_lines, base_lines, where)


def _in_variant(problem: Problem, variant: str) -> Problem:
    return Problem(
        f"variants.{variant} -> {problem.path}",
        problem.message,
        problem.file,
        problem.line,
        problem.suggestion,
    )


def _default(system: System | None) -> System:
    if system is not None:
        return system
    from finsim.system import System

    return System.default()


def load_scenario(
    path: str | Path, variant: str | None = None, system: System | None = None
) -> Scenario:
    """Read, merge and validate a scenario file (and, optionally, apply a variant).

    ``system`` gives the mechanisms and incentive schemes the file may use (default
    ``System.default()``: the built-ins and installed plug-ins). Raises
    :class:`finsim.ScenarioError` listing every problem found.
    """
    path = Path(path)
    problem = file_problem(path)  # (before the path is opened: a named pipe would hang)
    if problem is not None:
        raise ScenarioError.single("(file)", problem, shown_path(path))
    if is_workbook(path):  # a workbook: its problems are named by sheet and cell
        from finsim.workbook.load import load_workbook_scenario

        return load_workbook_scenario(path, variant, system, Scenario._build, _with_base)
    data, lines = _read_file(path, ())
    scenario = Scenario._build(data, lines, shown_path(path), system)
    return scenario.with_variant(variant) if variant else scenario


def loads_scenario(text: str, source: str = "<string>", system: System | None = None) -> Scenario:
    """Validate a scenario given as YAML text (``extends:`` is relative to the working folder)."""
    data, raw_lines = parse_yaml(text, source)
    lines: Lines = {k: (source, v) for k, v in raw_lines.items()}
    merged, merged_lines = _with_base(data, lines, source, Path.cwd())
    return Scenario._build(merged, merged_lines, source, system)
