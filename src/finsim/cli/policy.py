"""``finsim policy show`` and ``finsim policy diff``: the national rules in force in a year,
and what changed between two years, each with its sources and confidence mark.

    finsim policy show 2019/20 [--domain marginal_rate] [--policy england | FILE]
    finsim policy diff 2018/19 2019/20 [--domain ...] [--policy ...]

Confidence marks: C official, S secondary, U unconfirmed (a placeholder, never a fact).
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from finsim.calendar import parse_fy
from finsim.cli.options import EXIT_USER_ERROR
from finsim.policy import InForce, PolicyTree, format_value, load, load_file, shipped_trees

MARKS = "C official, S secondary, U unconfirmed (a placeholder, never a fact)"


def add_policy_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("policy", help="the national rules in force by year, with sources")
    what = p.add_subparsers(dest="policy_command", required=True, metavar="show|diff")
    show = what.add_parser("show", help="the rules in force in a financial year")
    show.add_argument("year", help="a financial year, e.g. 2019/20")
    diff = what.add_parser("diff", help="what changed between two financial years")
    diff.add_argument("before", help="the earlier financial year, e.g. 2018/19")
    diff.add_argument("after", help="the later financial year, e.g. 2019/20")
    for q in (show, diff):
        q.add_argument(
            "--policy",
            default="england",
            help="a shipped policy tree (england) or a policy file of your own (default england)",
        )
        q.add_argument("--domain", help="one domain only, e.g. marginal_rate, cquin, tariff")
    show.set_defaults(func=_cmd_show)
    diff.set_defaults(func=_cmd_diff)


def _tree(name: str) -> PolicyTree:
    return load(name) if name in shipped_trees() else load_file(name)


def _years(*labels: str) -> str | None:
    """An error message if a label is not a financial year, else None."""
    for label in labels:
        try:
            parse_fy(label)
        except ValueError:
            return f"'{label}' is not a financial year: write it as 2019/20"
    return None


def _in_domain(name: str, domain: str | None) -> bool:
    return domain is None or name.split(".", 1)[0] == domain


def _describe(rule: InForce) -> str:
    value = "unknown" if rule.unknown else format_value(rule.unit, rule.value)
    return f"{value}  [{rule.confidence}; {', '.join(rule.sources)}; since {rule.set_in}]"


def _print_sources(tree: PolicyTree, rules: list[InForce]) -> None:
    """The sources the rules shown cite, in full."""
    cited = sorted({code for rule in rules for code in rule.sources})
    if cited:
        print("\nSources")
        for code in cited:
            source = tree.sources.get(code)
            if source is None:
                print(f"  {code:<5} (not in the tree)")
                continue
            when = f", {source.date}" if source.date else ""
            where = f", {source.url}" if source.url else ""
            print(f"  {code:<5} {source.publisher}, {source.title}{when}{where}")


def _check_domain(tree: PolicyTree, domain: str | None) -> str | None:
    domains = sorted({p.name.split(".", 1)[0] for p in tree})
    if domain is not None and domain not in domains:
        return f"no domain '{domain}'; domains are {', '.join(domains)}"
    return None


def _cmd_show(args: argparse.Namespace) -> int:
    problem = _years(args.year)
    tree = None if problem else _tree(args.policy)
    problem = problem or _check_domain(tree, args.domain)  # type: ignore[arg-type]
    if problem or tree is None:
        print(f"finsim: {problem}", file=sys.stderr)
        return EXIT_USER_ERROR
    rules = tree.at(args.year)
    shown = [r for name, r in rules.items() if _in_domain(name, args.domain)]
    print(f"Rules in force in {args.year} ({args.policy}): {len(shown)}. Marks: {MARKS}.")
    domain = None
    for rule in shown:
        here = rule.name.split(".", 1)[0]
        if here != domain:
            domain = here
            print(f"\n{domain}")
        print(f"  {rule.name:<44} {_describe(rule)}")
        if rule.note:
            print(textwrap.indent(textwrap.fill(rule.note, 88), " " * 6))
    _print_sources(tree, shown)
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    problem = _years(args.before, args.after)
    tree = None if problem else _tree(args.policy)
    problem = problem or _check_domain(tree, args.domain)  # type: ignore[arg-type]
    if problem or tree is None:
        print(f"finsim: {problem}", file=sys.stderr)
        return EXIT_USER_ERROR
    changes = [c for c in tree.diff(args.before, args.after) if _in_domain(c.name, args.domain)]
    print(
        f"From {args.before} to {args.after} ({args.policy}): {len(changes)} rules changed. "
        f"Marks: {MARKS}."
    )
    for change in changes:
        print(f"\n  {change.name} ({change.kind})")
        if change.before is not None:
            print(f"    {args.before}: {_describe(change.before)}")
        if change.after is not None:
            print(f"    {args.after}: {_describe(change.after)}")
    cited = [r for c in changes for r in (c.before, c.after) if r is not None]
    _print_sources(tree, cited)
    return 0


__all__ = ["add_policy_parser"]
