"""Generate the reference pages that are read off the code: the scenario schema and the CLI.

    python docs/gen_reference.py           # rewrite docs/reference/scenario-schema.md and cli.md
    python docs/gen_reference.py --check   # exit 1 if either is out of date (what the tests do)

``docs/reference/scenario-schema.md`` comes from the JSON Schema that ``finsim schema`` prints
(the pydantic models of the built-in mechanisms): a section per top-level key of a scenario
file, and a table of its fields with their type, default and description. Defaults that the
JSON Schema leaves out (those made by a factory, such as ``phasing``) are read from the models.
``docs/reference/cli.md`` comes from the ``finsim`` command's argparse parser: every subcommand,
its usage and each of its options.

Run it after changing a scenario model, a field's description or an option of the command;
``tests/test_docs.py`` fails while the committed pages differ from what it generates. Only the
built-in mechanisms are documented: run it in a fresh interpreter, as a script.
"""

from __future__ import annotations

import argparse
import re
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from finsim.cli import build_parser
from finsim.registry import mechanisms
from finsim.scenario.validate import scenario_model

DOCS = Path(__file__).resolve().parent
SCHEMA_PAGE = DOCS / "reference" / "scenario-schema.md"
CLI_PAGE = DOCS / "reference" / "cli.md"

FY_PATTERN = r"^\d{4}/\d{2}$"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
#: The description every per-year parameter carries; the type column already says it.
BY_YEAR_WORDS = "A number, or a mapping of financial year"
#: How each unit of finsim.scenario.units is named in the type column.
UNIT_WORDS = {
    "money": "money (£m)",
    "price": "price (£)",
    "count": "count",
    "share": "share",
    "rate": "rate",
    "growth": "growth",
    "weight": "weight",
    "month": "month",
    "rank": "rank",
    "as_path": "number, in the unit of `path`",
}

#: The prose pages that explain the top-level keys: how a link to each is worded, and its file.
PAGES = {
    "format": ("the scenario format", "../scenario-format.md"),
    "stress": ("stress testing", "../stress-testing.md"),
    "allocations": ("Allocations", "../allocations.md"),
    "contracts": ("Contracts, tariff and disputes", "../contracts-and-disputes.md"),
    "control": ("Control totals and incentive funds", "../control-totals-and-incentives.md"),
    "interventions": ("Interventions", "../interventions.md"),
}

#: Where each top-level key is explained in prose: the page, and the section ("" for the top).
WHERE = {
    "extends": ("format", "extends"),
    "scenario": ("format", "scenario"),
    "organisations": ("format", "organisations"),
    "uncertain": ("stress", "declaring-uncertain-inputs"),
    "variants": ("format", "variants"),
    "allocations": ("allocations", ""),
    "tariff": ("contracts", "the-national-tariff"),
    "activity": ("contracts", "activity"),
    "contracts": ("contracts", "contracts-activity-block-blended-and-api"),
    "cquin": ("contracts", "cquin"),
    "disputes": ("contracts", "challenges-and-disputes"),
    "costs": ("format", "costs"),
    "control_totals": ("control", "control-totals-at-three-levels"),
    "incentives": ("control", "incentive-funds"),
    "interventions": ("interventions", "the-interventions"),
    "savings": ("interventions", "savings-programmes"),
    "risk_share": ("interventions", "risk-share-within-a-system"),
    "capital": ("interventions", "capital-envelopes-and-bids"),
    "transfers": ("allocations", "dated-transfers-and-year-end-re-allocation"),
}


def _explained(key: str) -> tuple[str, str]:
    """The words and the link of the page section explaining a top-level key (blank if none)."""
    if key not in WHERE:
        return "", ""
    page, anchor = WHERE[key]
    words, file = PAGES[page]
    return words, f"{file}#{anchor}" if anchor else file


# -- the scenario schema ----------------------------------------------------------------------


def _models(root: type[BaseModel]) -> dict[str, type[BaseModel]]:
    """Every pydantic model reachable from ``root``, by class name (the JSON Schema's $defs)."""
    found: dict[str, type[BaseModel]] = {}

    def visit(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ in found:
                return
            found[annotation.__name__] = annotation
            for field in annotation.model_fields.values():
                visit(field.annotation)
            return
        for arg in typing.get_args(annotation):
            visit(arg)

    visit(root)
    return found


def _flow(value: Any) -> str:
    """A value as it would be written in a scenario file (YAML flow style)."""
    if hasattr(value, "to_data"):
        value = value.to_data()
    if isinstance(value, BaseModel):
        value = value.model_dump(exclude_defaults=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    if isinstance(value, str):
        return value if value else '""'
    return repr(value)


def _prose(text: str) -> str:
    """A docstring or description as Markdown: one line, reST roles and ``code`` as `code`."""
    text = re.sub(r"\s*\(see the module docstring\)", "", text)
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return " ".join(text.replace("``", "`").split())


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return _prose(text).replace("|", "\\|")


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


def _limits(schema: dict[str, Any]) -> str:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    strict_low = "exclusiveMinimum" in schema
    strict_high = "exclusiveMaximum" in schema
    if low is not None and high is not None and not strict_low and not strict_high:
        return f" from {_number(low)} to {_number(high)}"
    parts = []
    if low is not None:
        parts.append(f"{'>' if strict_low else '≥'} {_number(low)}")
    if high is not None:
        parts.append(f"{'<' if strict_high else '≤'} {_number(high)}")
    return (" " + ", ".join(parts)) if parts else ""


def _grouped(words: str) -> str:
    """Brackets round a type of several words joined by 'or', inside a longer type."""
    return f"({words})" if " or " in words and not words.startswith("`") else words


def _is_by_year(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [])
    return len(options) == 2 and FY_PATTERN in options[1].get("patternProperties", {})


class SchemaPage:
    """Renders the JSON Schema of a scenario file as Markdown tables."""

    def __init__(self) -> None:
        model = scenario_model()
        self.schema = model.model_json_schema()
        self.defs: dict[str, dict[str, Any]] = self.schema.get("$defs", {})
        self.models = _models(model)
        self.root = model.__name__
        self.documented: dict[str, str] = {}  # def name -> anchor of the section showing it
        self.queue: list[tuple[str, str]] = []  # (path shown, def name) still to document

    @staticmethod
    def about(key: str) -> str:
        """The first line of the docstring of the mechanism owning ``key`` ("" if none)."""
        owner = mechanisms().get(key)
        doc = (owner.__doc__ or "") if owner is not None else ""
        return doc.strip().split("\n\n")[0]

    # types ------------------------------------------------------------------------------
    def _ref(self, schema: dict[str, Any], path: str) -> str:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in self.documented:
            self.documented[name] = f"model-{name.lower()}"
            self.queue.append((path, name))
        return f"[{name}](#{self.documented[name]})"

    @staticmethod
    def unit_of(schema: dict[str, Any]) -> str:
        """A number of a unit in words: 'share from 0 to 1, or a percentage', 'money (£m) ≥ 0'."""
        unit = schema["unit"]
        options = [schema, *schema.get("anyOf", [])]
        number = next(o for o in options if o.get("type") in ("number", "integer"))
        words = UNIT_WORDS.get(unit, unit)
        if number["type"] == "integer":
            words += ", whole number"
        words += _limits(number)
        if any(o.get("type") == "string" for o in options):
            words += ", or a percentage"
        return words

    def type_of(self, schema: dict[str, Any], path: str) -> str:
        """The type of a value, in words, with links to the models it holds."""
        if "$ref" in schema:
            return self._ref(schema, path)
        if _is_by_year(schema):
            inner = self.type_of(schema["anyOf"][0], path)
            return f"{inner}, or by year"
        if "unit" in schema:
            return self.unit_of(schema)
        if "anyOf" in schema:
            options = [s for s in schema["anyOf"] if s.get("type") != "null"]
            words = list(dict.fromkeys(self.type_of(s, path) for s in options))
            joiner = "; or " if any(" or " in w for w in words) else " or "
            return joiner.join(words)
        if "enum" in schema:
            values = [f"`{v}`" for v in schema["enum"]]
            return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " or " + values[-1]
        if "const" in schema:
            return f"`{schema['const']}`"
        kind = schema.get("type")
        if kind == "string":
            pattern = schema.get("pattern")
            if pattern == FY_PATTERN:
                return "financial year"
            if pattern == ID_PATTERN:
                return "id"
            return "text"
        if kind == "integer":
            return "whole number" + _limits(schema)
        if kind == "number":
            return "number" + _limits(schema)
        if kind == "boolean":
            return "true or false"
        if kind == "array":
            items = _grouped(self.type_of(schema.get("items", {}), f"{path}[]"))
            at_least = schema.get("minItems")
            return f"list of {items}" + (f" (at least {at_least})" if at_least else "")
        if kind == "object":
            pattern = schema.get("patternProperties", {})
            if pattern:
                key, value = next(iter(pattern.items()))
                what = "id" if key == ID_PATTERN else "name"
                placeholder = "<id>" if what == "id" else "<name>"
                inner = self.type_of(value, f"{path}.{placeholder}")
                return f"mapping of {what} to {_grouped(inner)}"
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and extra:
                return f"mapping of name to {_grouped(self.type_of(extra, f'{path}.<name>'))}"
            return "mapping"
        return "any value"

    # fields -----------------------------------------------------------------------------
    def default_of(self, model_name: str | None, field: str, schema: dict[str, Any]) -> str:
        if "default" in schema:
            return "none" if schema["default"] is None else f"`{_flow(schema['default'])}`"
        model = self.models.get(model_name or "")
        info = model.model_fields.get(field) if model is not None else None
        if info is not None and info.default_factory is not None:
            return f"`{_flow(info.get_default(call_default_factory=True))}`"
        return "—"

    @staticmethod
    def description_of(schema: dict[str, Any]) -> str:
        text = schema.get("description", "")
        if not text:
            for option in schema.get("anyOf", []):
                if option.get("description") and not option["description"].startswith(
                    BY_YEAR_WORDS
                ):
                    text = option["description"]
        if text.startswith(BY_YEAR_WORDS):
            text = ""
        return text

    def table(self, schema: dict[str, Any], path: str, model_name: str | None) -> list[str]:
        rows = ["| field | type | default | description |", "|---|---|---|---|"]
        required = set(schema.get("required", []))
        for field, sub in schema.get("properties", {}).items():
            default = "required" if field in required else self.default_of(model_name, field, sub)
            kind = self.type_of(sub, f"{path}.{field}" if path else field)
            rows.append(
                f"| `{field}` | {_cell(kind)} | {_cell(default)} | "
                f"{_cell(self.description_of(sub))} |"
            )
        return rows

    def model_section(self, path: str, name: str, level: str) -> list[str]:
        schema = self.defs[name]
        lines = [f"{level} `{path}` {{#{self.documented[name]}}}", ""]
        about = _prose(schema.get("description", ""))
        lines.append(f"*{name}*" + (f": {about}" if about else "."))
        lines += ["", *self.table(schema, path, name), ""]
        return lines

    def drain(self) -> list[str]:
        """Sections for the models linked from the tables written so far (and theirs)."""
        lines: list[str] = []
        while self.queue:
            path, name = self.queue.pop(0)
            lines += self.model_section(path, name, "###")
        return lines

    # the page ---------------------------------------------------------------------------
    def sections(self) -> Iterator[tuple[str, list[str]]]:
        required = set(self.schema.get("required", []))
        owners = mechanisms()
        for key, sub in self.schema["properties"].items():
            options = [s for s in sub.get("anyOf", [sub]) if s.get("type") != "null"]
            body = options[0] if len(options) == 1 else sub
            lines = [f"## `{key}` {{#{key.replace('_', '-')}}}", ""]
            facts = ["required" if key in required else "optional"]
            if key in owners:
                facts.append(f"owned by the mechanism `{owners[key].__module__}`")
            words, link = _explained(key)
            if link:
                facts.append(f"explained in [{words}]({link})")
            lines += ["; ".join(facts).capitalize() + ".", ""]
            if "$ref" in body:
                name = body["$ref"].rsplit("/", 1)[-1]
                self.documented[name] = key.replace("_", "-")
                schema = self.defs[name]
                about = _prose(schema.get("description", "")) or self.about(key)
                if about:
                    lines += [about, ""]
                lines += [*self.table(schema, key, name), ""]
            else:
                kind = self.type_of(body, key)
                text = _prose(self.description_of(sub) or self.about(key))
                default = (
                    self.default_of(self.root, key, sub) if key not in required else "required"
                )
                if text:
                    lines += [text[:1].upper() + text[1:].rstrip(".") + ".", ""]
                lines += [f"Type: {kind}. Default: {default}.", ""]
            lines += self.drain()
            yield key, lines

    def render(self) -> str:
        sections = list(self.sections())
        index = ["| key | required | what it holds |", "|---|---|---|"]
        required = set(self.schema.get("required", []))
        for key, _ in sections:
            sub = self.schema["properties"][key]
            options = [s for s in sub.get("anyOf", [sub]) if s.get("type") != "null"]
            body = options[0]
            about = self.description_of(sub)
            if "$ref" in body:
                about = self.defs[body["$ref"].rsplit("/", 1)[-1]].get("description", about)
            about = _prose(about or self.about(key))
            index.append(
                f"| [`{key}`](#{key.replace('_', '-')}) | {'yes' if key in required else 'no'} "
                f"| {_cell(about)} |"
            )
        head = [
            "# Scenario schema",
            "",
            "<!-- Generated by docs/gen_reference.py from the JSON Schema of `finsim schema`. "
            "Do not edit by hand: run `python docs/gen_reference.py`. -->",
            "",
            "Every key of a scenario file, generated from the JSON Schema that `finsim schema` "
            "prints (the same pydantic models that validate files). For what the sections mean "
            "and how they work together, read [the scenario format](../scenario-format.md) and "
            "the Background pages; this page is the complete list.",
            "",
            "How to read the tables:",
            "",
            "- **Units.** Every number has one (see [the scenario format](../scenario-format.md#units)): "
            "**money** in GBP million (£m); **price** in GBP per unit of activity or per head; "
            "**count** of people, units of activity, years or months; **share**, a fraction from "
            "0 to 1 (`0.7` is 70%); **rate**, a ratio that may exceed 1 (a multiplier, GBP per "
            "GBP, a standard deviation); **growth** into a year, from -1 to below 1 (`0.034` is "
            "3.4%); **weight**, which counts only relative to the others; **month**, 1 (April) to "
            '12 (March); **rank**, an order. Shares, rates and growth may be written as "70%".',
            "- **by year**: a number that holds in every year, or a mapping from financial year "
            "to number (`{2017/18: 0.021, 2019/20: 0.038}`); a value applies from its year until "
            "the next year listed, and the first simulated year must be covered.",
            "- **id**: letters, digits, `_`, `-` and `.`, starting with a letter or digit, at most "
            "80 characters. **financial year**: `2018/19`.",
            "- **default**: `required` must be given; none means no value (the feature is off, or "
            "the field is worked out from others, as its description says).",
            "- Unknown keys are errors. A section a mechanism owns is optional: the mechanism "
            "runs only if its section is present.",
            "- Sections of mechanisms you register yourself appear in `finsim schema` run in your "
            "own session (`finsim.scenario.validate.scenario_model().model_json_schema()`), not here.",
            "",
            "## The top-level keys",
            "",
            *index,
            "",
        ]
        body = [line for _, lines in sections for line in lines]
        return "\n".join(head + body).rstrip() + "\n"


def schema_page() -> str:
    """The Markdown of docs/reference/scenario-schema.md."""
    return SchemaPage().render()


# -- the command line -------------------------------------------------------------------------


def _subcommands(
    parser: argparse.ArgumentParser,
) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(name, help, parser) of each subcommand, in the order the parser lists them."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            return [(name, helps.get(name, ""), sub) for name, sub in action.choices.items()]
    return []


def subcommands() -> list[str]:
    """The names of the ``finsim`` subcommands."""
    return [name for name, _, _ in _subcommands(build_parser())]


def _arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._HelpAction | argparse._SubParsersAction)
    ]


def _metavar(action: argparse.Action) -> str:
    if action.metavar:
        return str(action.metavar)
    if action.choices:
        return "{" + ",".join(str(c) for c in action.choices) + "}"
    return action.dest.upper()


def _usage(name: str, parser: argparse.ArgumentParser) -> str:
    parts = [f"finsim {name}"]
    for action in _arguments(parser):
        if not action.option_strings:
            parts.append(_metavar(action))
            continue
        flag = max(action.option_strings, key=len)
        takes_value = action.nargs != 0
        parts.append(f"[{flag} {_metavar(action)}]" if takes_value else f"[{flag}]")
    return " ".join(parts)


def _argument_row(action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{o}`" for o in action.option_strings)
        if action.nargs != 0:
            names += f" `{_metavar(action)}`"
    else:
        names = f"`{_metavar(action)}`"
    if action.nargs == 0:
        default = "off"
    elif action.required or not action.option_strings:
        default = "required"
    elif action.default is None:
        default = "—"
    else:
        default = f"`{action.default}`"
    about = action.help or OPTION_HELP.get(action.dest, "")
    if action.type is not None and getattr(action.type, "__name__", "") == "_positive_int":
        about = (about + "; " if about else "") + "a whole number ≥ 1"
    elif action.type is not None and getattr(action.type, "__name__", "") == "_non_negative_int":
        about = (about + "; " if about else "") + "a whole number ≥ 0"
    return f"| {names} | {_cell(default)} | {_cell(about)} |"


#: Words for the options the parser gives no help for (its own help wins where it has one).
OPTION_HELP = {
    "replications": "number of replications",
    "seed": "the seed: the same seed gives the same results on any backend and chunk size",
    "chunk_size": "replications run together as arrays (default 256)",
    "backend": "where the chunks run: one after another, on local processes, or on Dask",
    "workers": "number of worker processes (default: all cores)",
    "antithetic": "pair replications with mirrored shocks",
    "format": "file format of the tables written to --out",
    "file": "the scenario file (YAML)",
    "results": "a folder written by `finsim run FILE --out DIR`",
    "kind": "the chart to draw",
    "source": "a scenario file (run here) or a results folder",
    "dpi": "resolution of a .png, dots per inch",
}

#: What each subcommand is for, beyond its one-line help: where to read more.
CLI_NOTES = {
    "validate": "Checks the file and every variant it declares, then describes it. "
    "See [the scenario format](../scenario-format.md#when-a-file-is-wrong) for the messages.",
    "run": "Prints each body's surplus or (deficit) by year: the value for one replication, "
    "or the mean [5th, 95th percentile]. With `--out`, every table the run kept is written to "
    "the folder (above 200 replications, the mechanisms' own tables only with `--keep-tables`). "
    "See [the tutorial](../tutorial.md) and [scale out on Dask](../how-to/scale-out-on-dask.md).",
    "stress": "Runs the variants on common random numbers and prints acceptance, the "
    "probability of meeting control totals, expected shortfall and paired differences. "
    "See [compare incentive schemes](../stress-testing.md#on-the-command-line).",
    "report": "See [charts and reports](../charts-and-reports.md).",
    "chart": "Each kind is a function of `finsim.charts`; see "
    "[charts and reports](../charts-and-reports.md).",
    "schema": "The JSON Schema of the scenario format; [Scenario schema](scenario-schema.md) "
    "is the same, as tables.",
    "examples": "Lists `examples/*.yaml` with each file's description; see the "
    "[examples gallery](../examples.md).",
}


def cli_page() -> str:
    """The Markdown of docs/reference/cli.md."""
    parser = build_parser()
    commands = _subcommands(parser)
    lines = [
        "# Command line",
        "",
        "<!-- Generated by docs/gen_reference.py from finsim's argparse parser. "
        "Do not edit by hand: run `python docs/gen_reference.py`. -->",
        "",
        f"Installing finsim installs the `finsim` command: {parser.description}",
        "",
        "```console",
        "finsim [--version] COMMAND ...",
        "```",
        "",
        "| command | what it does |",
        "|---|---|",
        *[f"| [`finsim {name}`](#finsim-{name}) | {_cell(about)} |" for name, about, _ in commands],
        "",
        "**Exit status.** 0 on success. 2 on a user error: a bad scenario file or a bad option "
        "prints one message naming the file, the line, the field path and what was expected, and "
        "never a traceback. 130 when interrupted (Ctrl-C); an interrupted `finsim run --out DIR` "
        "says how to finish it with `--resume`.",
        "",
        "`finsim --version` prints the version; `finsim COMMAND --help` lists a command's options.",
        "",
    ]
    for name, about, sub in commands:
        lines += [
            f"## `finsim {name}` {{#finsim-{name}}}",
            "",
            (about[:1].upper() + about[1:] + ".") if about else "",
            "",
            "```console",
            _usage(name, sub),
            "```",
            "",
        ]
        if name in CLI_NOTES:
            lines += [CLI_NOTES[name], ""]
        arguments = _arguments(sub)
        if arguments:
            lines += ["| argument | default | meaning |", "|---|---|---|"]
            lines += [_argument_row(a) for a in arguments]
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


# -- writing and checking ---------------------------------------------------------------------


def pages() -> dict[Path, str]:
    """Each generated page and its content."""
    return {SCHEMA_PAGE: schema_page(), CLI_PAGE: cli_page()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate docs/reference/ from the code.")
    parser.add_argument("--check", action="store_true", help="only report out-of-date pages")
    args = parser.parse_args(argv)
    stale = []
    for path, text in pages().items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        shown = path.relative_to(DOCS.parent)
        print(f"{shown}: {'out of date' if args.check else 'written'}")
    if args.check and stale:
        print("run: python docs/gen_reference.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
