"""Reading one policy file: safe YAML with the line of each field, shaped by the models.

The YAML reader is the scenario files' one (:mod:`finsim.scenario.yamlio`): safe, bounded,
refusing duplicate keys, and remembering the line of each field path, so that a problem
names the file, the line and the path (``parameters.cquin.share.values.2019/20.source``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from finsim.errors import Problem, ScenarioError, did_you_mean, format_path
from finsim.policy.models import ParameterSpec, PolicyFile, SourceSpec, ValueSpec
from finsim.scenario.yamlio import PathKey, read_yaml


@dataclass
class PolicyDocument:
    """A policy file read and shaped: its model and the line of each field path."""

    name: str
    model: PolicyFile
    lines: dict[PathKey, int] = field(repr=False)

    def problem(self, path: PathKey, message: str, suggestion: str | None = None) -> Problem:
        line = next(
            (self.lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in self.lines), None
        )
        return Problem(format_path(path), message, self.name, line, suggestion)


def read_document(path: Path) -> PolicyDocument:
    """Read and shape one policy file; a ScenarioError lists every problem of its shape."""
    name = str(path)
    try:
        data, lines = read_yaml(path)
    except ScenarioError as exc:
        # the YAML reader is the scenario one: say what a policy file holds, not a scenario
        raise ScenarioError(
            [
                replace(p, message="the file is empty: expected a mapping with 'parameters'")
                if p.message.startswith("the file is empty")
                else p
                for p in exc.problems
            ]
        ) from None
    if not isinstance(data, dict):
        raise ScenarioError.single(
            "(top level)", f"expected a mapping with 'parameters', got {data!r:.40}", name, 1
        )
    try:
        model = PolicyFile.model_validate(data)
    except ValidationError as exc:
        partial = PolicyDocument(name, PolicyFile(), lines)
        raise ScenarioError([_shape_problem(err, partial) for err in exc.errors()]) from None
    return PolicyDocument(name, model, lines)


_EXPECTED = {
    "string_type": "expected text",
    "bool_type": "expected true or false",
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "missing": "required field is missing",
}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel]:
    """The model whose keys are allowed at ``loc`` (a path ending in a key)."""
    if len(loc) == 5 and loc[0] == "parameters" and loc[2] == "values":
        return ValueSpec
    if len(loc) == 3:
        return ParameterSpec if loc[0] == "parameters" else SourceSpec
    return PolicyFile


def _shape_problem(err: Any, file: PolicyDocument) -> Problem:
    loc = tuple(err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = list(_model_at(loc).model_fields)
        key = str(loc[-1])
        message = f"unknown key '{key}' (expected one of: {', '.join(allowed)})"
        return file.problem(loc, message, did_you_mean(key, allowed))
    if kind == "list_type" and loc and loc[-1] == "source":
        return file.problem(loc, f"expected a list of source IDs like [T9], got {err['input']!r}")
    if kind == "literal_error":
        return file.problem(loc, f"expected {err['ctx']['expected']}, got {err['input']!r}")
    message = _EXPECTED.get(kind, err["msg"][0].lower() + err["msg"][1:])
    if kind != "missing":
        message += f", got {err['input']!r:.60}"
    return file.problem(loc, message)
