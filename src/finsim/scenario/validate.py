"""Checking a merged scenario document: types first, then references between its parts.

Every problem is collected, then raised together as one ScenarioError. Type
errors come from the pydantic models; reference errors (an unknown organisation
id, a duplicate id, a system in another region, a per-year parameter that does
not reach back to the first simulated year) from :class:`References` and each
mechanism's ``check``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from finsim.errors import Problem, format_path
from finsim.scenario.limits import (  # noqa: F401  (re-exported)
    MAX_CONTRACTS,
    MAX_NUMBER,
    MAX_ORGANISATIONS,
    MAX_VARIANTS,
    _over_limits,
    _too_large_numbers,
)
from finsim.scenario.pydantic_errors import (  # noqa: F401  (re-exported)
    PathKey,
    _describe,
    _keys_at,
    problems_from_validation,
)
from finsim.scenario.references import (  # noqa: F401  (re-exported)
    References,
    _Unchecked,
    _UncheckedSection,
    cross_check,
)

if TYPE_CHECKING:
    from finsim.system import System


def scenario_model(system: System | None = None) -> type[BaseModel]:
    """The pydantic model of a whole scenario file, with a section per mechanism of
    ``system`` (default ``System.default()``); built once per System."""
    return _system(system).schema()


def _system(system: System | None) -> System:
    if system is not None:
        return system
    from finsim.system import System

    return System.default()


def _partial_model(
    model_cls: type[BaseModel], data: dict[str, Any], exc: ValidationError
) -> BaseModel | None:
    """The model of the sections without type errors, or None if the settings or
    organisations have some (cross-checks are meaningless without them)."""
    bad = {err["loc"][0] if err["loc"] else None for err in exc.errors()}
    if bad & {None, "scenario", "organisations"}:
        return None
    try:
        valid = model_cls.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValidationError:
        return None
    fields = {name: getattr(valid, name) for name in type(valid).model_fields}
    fields.update({str(s): _Unchecked(str(s)) for s in bad if s in model_cls.model_fields})
    return model_cls.model_construct(**fields)


def validate_document(
    data: Any,
    lines: dict[PathKey, tuple[str, int | None]],
    default_file: str,
    system: System | None = None,
) -> tuple[BaseModel | None, list[Problem]]:
    """Validate a merged document against ``system``'s schema; return (model or None, problems).

    Type problems are listed first; cross-references are checked too, in every
    section whose types are right, so that one pass reports as much as it can.
    """

    def problem(path: PathKey, message: str, suggestion: str | None) -> Problem:
        file, line = _locate(path, lines, default_file)
        return Problem(format_path(path), message, file, line, suggestion)

    if not isinstance(data, dict):
        return None, [
            problem(
                (),
                f"expected a mapping with 'scenario' and 'organisations', got {_describe(data)}",
                None,
            )
        ]
    too_large = _over_limits(data)
    if too_large:
        return None, [problem(*p) for p in too_large]
    system = _system(system)
    model_cls = scenario_model(system)
    try:
        model = model_cls.model_validate(data)
    except ValidationError as exc:
        problems = [problem(*p) for p in problems_from_validation(exc, model_cls, data)]
        partial = _partial_model(model_cls, data, exc)
        if partial is not None:
            problems += [problem(*p) for p in cross_check(partial, system)]
        return None, problems
    found = cross_check(model, system)
    return (model if not found else None), [problem(*p) for p in found]


def _locate(
    path: PathKey, lines: dict[PathKey, tuple[str, int | None]], default_file: str
) -> tuple[str, int | None]:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return default_file, None
