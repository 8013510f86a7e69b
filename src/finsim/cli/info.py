"""``finsim validate``, ``finsim schema`` and ``finsim examples``: what a scenario holds,
the JSON Schema of scenario files and the shipped examples.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from pathlib import Path
from typing import Any

from finsim.cli.options import (
    EXIT_USER_ERROR,
)
from finsim.errors import ScenarioError


def examples_dir() -> Path | None:
    """The folder of shipped example scenarios (in a source checkout or editable install)."""
    here = Path(__file__).resolve()
    for candidate in (here.parents[3] / "examples", Path.cwd() / "examples"):
        if candidate.is_dir():
            return candidate
    return None


def _cmd_validate(args: argparse.Namespace) -> int:
    import finsim

    scenario = finsim.load_scenario(args.file)
    calendar = scenario.calendar
    orgs = scenario.model.organisations  # type: ignore[attr-defined]
    print(f"{args.file}: valid")
    print(
        f"  {scenario.name}: {calendar.labels[0]} to {calendar.labels[-1]} ({calendar.n_years} years)"
    )
    print(
        f"  {len(orgs.regions)} regions, {len(orgs.systems)} systems, "
        f"{len(orgs.commissioners)} commissioners, {len(orgs.providers)} providers"
    )
    sections = [
        s for s in type(scenario.model).model_fields if getattr(scenario.model, s) is not None
    ]
    mechanisms = [
        s
        for s in sections
        if s not in {"extends", "policy", "scenario", "organisations", "variants", "uncertain"}
    ]
    print(f"  mechanisms: {', '.join(mechanisms) or '(none)'}")
    print(f"  variants: {', '.join(scenario.variants) or '(none)'}")
    if getattr(args, "explain", False):
        _explain(scenario)
    return 0


def _explain(scenario: Any) -> None:
    """Each national setting: the value the run uses and where it came from."""
    chosen = getattr(scenario.model, "policy", None)
    settings = scenario.national_settings()
    if chosen is None:
        print("  national settings: no policy; every setting is the scenario's own or finsim's")
        print("  default (add 'policy: england' to inherit the national rules of its years)")
        return
    print(
        f"  national settings (policy: {chosen.name}, unconfirmed figures: {chosen.unconfirmed}):"
    )
    if not settings:
        print("    (none applies to this scenario's sections)")
    for setting in settings:
        value = _model_value(scenario.model, setting.path)
        print(f"    {setting.path} = {value}")
        print(f"      from {setting.origin}: {setting.detail}")


def _model_value(model: Any, dotted: str) -> str:
    """The validated value at a dotted path, written as in a scenario file."""
    value = model
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else getattr(value, key, None)
    return json.dumps(_plain(value))


def _plain(value: Any) -> Any:
    if hasattr(value, "to_data"):
        return value.to_data()
    if hasattr(value, "model_dump"):
        return _plain(dict(value))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _cmd_schema(args: argparse.Namespace) -> int:
    from finsim.scenario.validate import scenario_model

    print(json.dumps(scenario_model().model_json_schema(), indent=2))
    return 0


def _cmd_examples(args: argparse.Namespace) -> int:
    import finsim

    folder = examples_dir()
    if folder is None:
        print("No examples folder found (run from a finsim source checkout).", file=sys.stderr)
        return EXIT_USER_ERROR
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.py")]):
        if path.suffix == ".py":
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            about = f"{doc.splitlines()[0] if doc else 'a script'} (run: python {path})"
        else:
            try:
                scenario = finsim.load_scenario(path)
                about = scenario.description or scenario.name
            except ScenarioError:
                about = "(a base or fragment file)"
        print(f"{path}\n    {about}")
    return 0
