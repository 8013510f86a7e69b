"""The policy tree as a Markdown page: the NHS financial rules by year, with their sources.

``python -m finsim.policy > docs/reference/rules-by-year.md`` writes the page for the
shipped tree; the suite checks that the committed page is what :func:`render_markdown`
gives now, so the page cannot fall behind the data.
"""

from __future__ import annotations

from finsim.calendar import fy_label
from finsim.policy.models import CONFIDENCE_MEANINGS, UNITS
from finsim.policy.tree import DatedValue, Parameter, PolicyTree, Value

REGENERATE = "python -m finsim.policy > docs/reference/rules-by-year.md"

_UNIT_WORDS = {
    "share": "share (%)",
    "rate": "rate (%)",
    "growth": "growth (%)",
    "money_gbp_m": "£ million",
    "money_gbp_bn": "£ billion",
    "count": "count",
    "ratio": "multiple (×)",
    "boolean": "yes / no",
    "text": "rule in words",
    "financial_year": "financial year",
}


def _number(x: float, decimals: int = 2) -> str:
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(unit: str, value: Value) -> str:
    """A value as a reader writes it: ``0.025`` share -> "2.5%", ``1793`` £m -> "£1,793m".

    >>> format_value("growth", -0.015)
    '-1.5%'
    """
    if isinstance(value, tuple):
        return " / ".join(format_value(unit, v) for v in value)
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if unit in ("share", "rate", "growth"):
        sign = "+" if unit == "growth" and value > 0 else ""
        return f"{sign}{_number(value * 100)}%"
    if unit == "money_gbp_m":
        return f"{'-' if value < 0 else ''}£{_number(abs(value))}m"
    if unit == "money_gbp_bn":
        return f"{'-' if value < 0 else ''}£{_number(abs(value))}bn"
    if unit == "ratio":
        return f"{_number(value)}×"
    return _number(value)


def _cell(text: str | None) -> str:
    """Text safe inside a Markdown table cell."""
    if not text:
        return ""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _anchor(source_id: str) -> str:
    return "source-" + source_id.lower()


def _shown(parameter: Parameter, entry: DatedValue) -> str:
    if entry.unknown:
        return "unknown"
    if entry.ends_rule:
        return "ended"
    text = _cell(format_value(parameter.unit, entry.value))
    return f"{text} (unconfirmed)" if entry.confidence == "U" else text


def _to(entry: DatedValue, later: DatedValue | None) -> str:
    if entry.ends_rule:
        return ""
    if entry.until is not None:
        return entry.until
    return fy_label(later.start_year - 1) if later is not None else "onward"


def _domain_section(tree: PolicyTree, domain: str) -> list[str]:
    title, description = tree.domains[domain]
    parameters = [p for p in tree if p.domain == domain]
    out = [f"## {title} {{#{domain.replace('_', '-')}}}", ""]
    if description:
        out += [" ".join(description.split()), ""]
    out += ["| parameter | unit | what it is |", "|---|---|---|"]
    out += [f"| `{p.name}` | {_UNIT_WORDS[p.unit]} | {_cell(p.description)} |" for p in parameters]
    out += ["", "| parameter | from | to | value | mark | sources | note |"]
    out += ["|---|---|---|---|---|---|---|"]
    for p in parameters:
        for i, entry in enumerate(p.values):
            later = p.values[i + 1] if i + 1 < len(p.values) else None
            sources = ", ".join(f"[{s}](#{_anchor(s)})" for s in entry.sources)
            name = f"`{p.name}`" if i == 0 else ""
            out.append(
                f"| {name} | {entry.start} | {_to(entry, later)} | {_shown(p, entry)} "
                f"| {entry.confidence} | {sources} | {_cell(entry.note)} |"
            )
    return [*out, ""]


def _counts(tree: PolicyTree) -> str:
    entries = [v for p in tree for v in p.values]
    marks = {m: sum(1 for v in entries if v.confidence == m) for m in "CSU"}
    unknown = sum(1 for v in entries if v.unknown)
    return (
        f"The tree holds {len(tree)} parameters in {len(tree.domains)} "
        f"domain{'s' if len(tree.domains) != 1 else ''} and "
        f"{len(entries)} dated values: {marks['C']} marked C, {marks['S']} S and {marks['U']} U "
        f"(of the U, {unknown} record a figure that is not known). They cite "
        f"{len({s for v in entries for s in v.sources})} of the {len(tree.sources)} sources."
    )


def _sources_section(tree: PolicyTree) -> list[str]:
    out = [
        "## Sources {#sources}",
        "",
        "By their IDs in the fact sheet. *official* marks the issuing or an official body: a "
        "value marked C cites at least one. Addresses are given as the fact sheet gives them.",
        "",
        "| ID | publisher | title | date | address | official | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for source in tree.sources.values():
        link = f"[{_cell(source.url)}](https://{source.url})" if source.url else ""
        out.append(
            f'| <a id="{_anchor(source.id)}"></a>{source.id} | {_cell(source.publisher)} '
            f"| {_cell(source.title)} | {_cell(source.date)} | {link} "
            f"| {'yes' if source.official else ''} | {_cell(source.note)} |"
        )
    return [*out, ""]


def render_markdown(tree: PolicyTree) -> str:
    """The tree as a Markdown page: the confidence marks, a table per domain (parameter,
    year from, value with its unit, mark, sources), then the list of sources."""
    first, last = tree.years()
    head = [
        "# The NHS financial rules by year",
        "",
        f"<!-- Generated by finsim.policy.render_markdown from the '{tree.name}' policy tree. "
        f"Do not edit by hand: run `{REGENERATE}`. -->",
        "",
        f"{_cell(tree.title)}, {first} to {last}: the national finance and payment "
        "parameters of the English NHS by financial year (April to March), each value with "
        "its sources and a confidence mark. " + " ".join(tree.description.split()),
        "",
        f"This page is generated from the tree shipped in `finsim.policy` (the YAML files in "
        f"`src/finsim/policy/{tree.name}/`); regenerate it with `{REGENERATE}`. In Python, "
        f'`finsim.policy.load().at("2018/19")` gives the rules in force in a year and '
        '`.diff("2018/19", "2019/20")` what changed; a file of your own with '
        "`extends: england` can change any value (a proposed scheme). From the command line, "
        "`finsim policy show 2019/20` prints the rules in force in a year with their sources, "
        "and `finsim policy diff 2018/19 2019/20` what changed (both take `--domain` and "
        "`--policy FILE`).",
        "",
        "## Confidence marks {#confidence-marks}",
        "",
        "Every value carries the mark the fact sheet gives it:",
        "",
        *(f"- **{mark}**: {meaning}." for mark, meaning in CONFIDENCE_MEANINGS.items()),
        "",
        "A U value is shown as *(unconfirmed)*: never quote it as a fact. The sources were read "
        "through a search tool that shows the opening part of each page, so C and S mean the "
        "figure was in that opening text; details deeper in long documents were not seen.",
        "",
        "## How to read the tables {#how-to-read}",
        "",
        "- **from**: the first financial year a value applies (from 1 April). **to**: the last "
        "year it applies, either the year before the next value or the last year its sources "
        "cover; **onward** means no later value is known.",
        "- **ended**: the rule stops that year. **unknown**: the rule held, but the sources "
        "do not give the figure; an earlier value does not run on into it.",
        "- Units: "
        + "; ".join(f"{_UNIT_WORDS[u]}: {UNITS[u]}" for u in ("share", "rate", "growth", "ratio"))
        + ". Money is in £ million unless the unit says £ billion. A list (one value per "
        "quarter, say) is shown separated by slashes.",
        "",
        _counts(tree),
        "",
        "## Domains {#domains}",
        "",
        *(f"- [{title}](#{d.replace('_', '-')})" for d, (title, _) in tree.domains.items()),
        "",
    ]
    body = [line for domain in tree.domains for line in _domain_section(tree, domain)]
    return "\n".join([*head, *body, *_sources_section(tree)]).rstrip("\n") + "\n"
