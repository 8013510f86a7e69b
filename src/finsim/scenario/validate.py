"""Checking a merged scenario document: types first, then references between its parts.

Every problem is collected, then raised together as one ScenarioError. Type
errors come from the pydantic models; reference errors (an unknown organisation
id, a duplicate id, a system in another region, a per-year parameter that does
not reach back to the first simulated year) from :class:`References` and each
mechanism's ``check``.
"""

from __future__ import annotations

import math
import re
import types
import typing
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model

from finsim.calendar import fy_label, parse_fy
from finsim.errors import Problem, did_you_mean, format_path
from finsim.registry import mechanisms
from finsim.scenario.models import EXTERNAL_ACCOUNTS, ID_PATTERN, BaseScenarioModel
from finsim.scenario.params import ByYear
from finsim.scenario.yamlio import limit

PathKey = tuple[str | int, ...]

#: Most organisations (regions, systems, commissioners and providers) in a scenario.
MAX_ORGANISATIONS = 10_000
#: Most contracts in a scenario.
MAX_CONTRACTS = 50_000
#: Most variants in a scenario (each is validated whole when the file is read).
MAX_VARIANTS = 100
#: Largest number (in size) a scenario may hold: money, activity, rates and counts alike.
#: Far above any real figure, it keeps a run's arithmetic finite (products of a few inputs
#: cannot overflow).
MAX_NUMBER = 1e12

_model_cache: dict[tuple[tuple[str, type], ...], type[BaseModel]] = {}


def scenario_model() -> type[BaseModel]:
    """The pydantic model of a whole scenario file, with a section per registered mechanism."""
    registered = mechanisms()
    key = tuple((section, cls) for section, cls in registered.items())
    if key not in _model_cache:
        fields: dict[str, Any] = {
            section: (cls.Config | None, Field(default=None, description=_section_words(cls)))
            for section, cls in registered.items()
        }
        _model_cache[key] = create_model(  # type: ignore[call-overload]
            "Scenario", __base__=BaseScenarioModel, **fields
        )
    return _model_cache[key]


def _section_words(cls: type) -> str:
    """What a mechanism's section holds: the first line of the mechanism's docstring."""
    doc = cls.__dict__.get("__doc__") or ""
    first = doc.strip().split("\n\n")[0]
    return " ".join(first.split()) or f"the section read by the mechanism {cls.__name__}"


# -- pydantic errors into Problems ------------------------------------------------------------


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types a field annotation may hold (unions and Annotated unwrapped)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _keys_at(model: type[BaseModel], loc: PathKey) -> list[str]:
    """The field names allowed at ``loc`` (a path whose last part is a key) in ``model``."""
    candidates: list[Any] = [model]
    for part in loc[:-1]:
        following: list[Any] = []
        for cand in candidates:
            for t in _unwrap(cand):
                origin = typing.get_origin(t)
                if isinstance(part, str) and isinstance(t, type) and issubclass(t, BaseModel):
                    if part in t.model_fields:
                        following.append(t.model_fields[part].annotation)
                elif origin in (list, tuple) and isinstance(part, int):
                    following.extend(typing.get_args(t)[:1])
                elif origin is dict:
                    following.append(typing.get_args(t)[1])
        candidates = following
    keys: list[str] = []
    for cand in candidates:
        for t in _unwrap(cand):
            if isinstance(t, type) and issubclass(t, BaseModel):
                keys.extend(t.model_fields)
    return keys


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: pydantic's phrases, in a scenario writer's words (applied in order).
_PHRASES = (
    ("Input should be", "expected"),
    ("Value error, ", ""),
    ("Assertion failed, ", ""),
    (r"expected a valid dictionary or instance of \w+", "expected a mapping"),
    ("expected a valid dictionary", "expected a mapping"),
    ("expected a valid list", "expected a list"),
    ("expected a valid integer", "expected a whole number"),
    ("expected a valid number", "expected a number"),
    ("expected a valid string", "expected text"),
    ("expected a valid boolean", "expected true or false"),
    ("expected greater than or equal to", "expected a number >="),
    ("expected greater than", "expected a number >"),
    ("expected less than or equal to", "expected a number <="),
    ("expected less than", "expected a number <"),
    ("String should have", "expected text with"),
    ("List should have", "expected a list with"),
)
_ID_HINT = "expected an id: letters, digits, '_', '-' or '.', starting with a letter or digit"


def _in_words(err: Any) -> str:
    if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == ID_PATTERN:
        return _ID_HINT
    msg = str(err["msg"])
    for phrase, words in _PHRASES:
        msg = re.sub(phrase, words, msg)
    return msg


def problems_from_validation(
    exc: ValidationError, model: type[BaseModel], data: Any = None
) -> Iterator[tuple[PathKey, str, str | None]]:
    """Turn pydantic's errors into (path, message, suggestion), in the domain's words.

    When a value fits none of the forms a field allows (``ByYear | 'floor'``), pydantic
    reports one error per form; they are joined into one problem. ``data``, the document
    validated, tells the names pydantic gives those forms from keys written in the file.
    """
    union_messages: dict[PathKey, list[str]] = {}
    out: list[tuple[PathKey, str, str | None]] = []
    for err in exc.errors(include_url=False):
        loc = _data_path(err["loc"], data)
        kind = err["type"]
        if kind == "extra_forbidden" and loc:
            allowed = _keys_at(model, loc)
            key = str(loc[-1])
            message = f"unknown key '{key}'"
            if allowed:
                message += f"; expected one of: {', '.join(allowed)}"
            out.append((loc, message, did_you_mean(key, allowed)))
            continue
        if kind == "missing":
            out.append((loc, "required field is missing", None))
            continue
        if kind == "by_year" and "key" in err.get("ctx", {}):
            loc = (*loc, err["ctx"]["key"])  # the year written, so the line is that year's
        msg = _in_words(err)
        if "input" in err and not isinstance(err["input"], dict):
            got = _describe(err["input"])
            if "got " not in msg and got not in msg:  # our own messages say what they got
                msg += f", got {got}"
        if len(loc) < len(err["loc"]):  # one form of a union
            if loc in union_messages:
                union_messages[loc].append(msg)
                continue
            union_messages[loc] = [msg]
        out.append((loc, msg, None))
    for loc, message, suggestion in out:
        forms = union_messages.get(loc)
        if forms and len(forms) > 1 and message == forms[0]:
            message = "; or ".join(dict.fromkeys(forms))
        yield loc, message, suggestion


def _data_path(loc: tuple[Any, ...], data: Any) -> PathKey:
    """The parts of pydantic's ``loc`` that are keys or positions in ``data``: the names of
    union members that pydantic inserts are dropped, and a key written in the file is kept
    even if it looks like one (a key ``int``, or ``a[b]``)."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, dict) and _has_key(node, part):
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif _is_union_tag(part):
            continue
        else:  # a field that is missing, or past a value that is not what was expected
            node = None
        out.append(part)
    return tuple(out)


def _has_key(mapping: dict[Any, Any], key: Any) -> bool:
    try:
        return key in mapping
    except TypeError:
        return False


def _is_union_tag(part: Any) -> bool:
    # pydantic inserts the union member's name (e.g. 'function-plain[...]') into loc
    return isinstance(part, str) and ("[" in part or part in {"str", "float", "int", "bool"})


# -- references --------------------------------------------------------------------------------


class References:
    """Cross-checks between the parts of a validated scenario, collecting problems.

    Mechanisms receive one of these in their ``check`` classmethod.
    """

    def __init__(self, model: BaseModel) -> None:
        self.model = model
        self.found: list[tuple[PathKey, str, str | None]] = []
        settings = model.scenario  # type: ignore[attr-defined]
        self.start_year = parse_fy(settings.start)
        self.n_years = settings.years
        self.org_type: dict[str, str] = {name: "external" for name in EXTERNAL_ACCOUNTS}
        self.org_path: dict[str, PathKey] = {}
        orgs = model.organisations  # type: ignore[attr-defined]
        entries: list[tuple[PathKey, str, Any]] = [
            (("organisations", "centre"), "centre", orgs.centre)
        ]
        for group, kind in (
            ("regions", "region"),
            ("systems", "system"),
            ("commissioners", "commissioner"),
            ("providers", "provider"),
        ):
            for i, org in enumerate(getattr(orgs, group)):
                entries.append((("organisations", group, i, "id"), kind, org))
        for path, kind, org in entries:
            if org.id in EXTERNAL_ACCOUNTS:
                self.add(path, f"'{org.id}' is reserved for the external account of that name")
            elif org.id in self.org_path:
                self.add(
                    path, f"duplicate id '{org.id}' (also {format_path(self.org_path[org.id])})"
                )
            else:
                self.org_type[org.id] = kind
                self.org_path[org.id] = path
        self.region_of_system = {s.id: s.region for s in orgs.systems}
        for i, system in enumerate(orgs.systems):
            self.org(("organisations", "systems", i, "region"), system.region, ("region",))
        for group in ("commissioners", "providers"):
            for i, member in enumerate(getattr(orgs, group)):
                path = ("organisations", group, i)
                if self.org(path + ("system",), member.system, ("system",)) and member.region:
                    if self.org(path + ("region",), member.region, ("region",)):
                        actual = self.region_of_system[member.system]
                        if actual != member.region:
                            self.add(
                                path + ("region",),
                                f"'{member.id}' is said to be in region '{member.region}' but its "
                                f"system '{member.system}' is in region '{actual}'",
                            )

    def add(self, path: PathKey, message: str, suggestion: str | None = None) -> None:
        """Record a problem at ``path``."""
        self.found.append((path, message, suggestion))

    def ids(self, *kinds: str) -> list[str]:
        """The ids of organisations of the given kinds (all kinds if none given)."""
        return [i for i, k in self.org_type.items() if not kinds or k in kinds]

    def org(self, path: PathKey, org_id: str, kinds: tuple[str, ...]) -> bool:
        """Check that ``org_id`` names an organisation of one of ``kinds``; record a problem if not."""
        kind = self.org_type.get(org_id)
        if kind is None:
            expected = " or ".join(kinds)
            self.add(path, f"unknown {expected} '{org_id}'", did_you_mean(org_id, self.ids(*kinds)))
            return False
        if kind not in kinds:
            self.add(path, f"'{org_id}' is a {kind}; expected a {' or '.join(kinds)}")
            return False
        return True

    def check_uncertain(self) -> None:
        """Each uncertain input names a number in the scenario, with low <= high."""
        items = getattr(self.model, "uncertain", None)
        if isinstance(items, _Unchecked) or not items:
            return
        # sections with type errors (in a partly validated model) are reported already
        unchecked = {
            name
            for name in type(self.model).model_fields
            if isinstance(getattr(self.model, name, None), _Unchecked)
        }
        # (python, not JSON: a variant may hold any value, which JSON may not write)
        document = self.model.model_dump(by_alias=True, exclude=unchecked)
        for i, item in enumerate(items):
            path: PathKey = ("uncertain", i)
            if item.path.split(".")[0] in unchecked:
                continue
            node: Any = document
            for part in item.path.split("."):
                key: Any = int(part) if isinstance(node, list) and part.isdigit() else part
                try:
                    node = node[key]
                except (KeyError, IndexError, TypeError):
                    node = None
                    break
            if isinstance(node, bool) or not isinstance(node, int | float):
                self.add(path + ("path",), f"'{item.path}' does not name a number in the scenario")
            if item.high < item.low:
                self.add(path, f"low ({item.low}) is above high ({item.high})")

    def check_years(self) -> None:
        """Every per-year parameter must give a value for the first year it is used: the
        first simulated year, or the second for growth rates (applied into each year)."""
        for path, param in _by_year_fields(self.model, ()):
            first = param.first_year
            needed = self.start_year + (1 if param.from_second_year else 0)
            if first is not None and first > needed and needed < self.start_year + self.n_years:
                what = (
                    "the first simulated year"
                    if needed == self.start_year
                    else "the first year it applies to"
                )
                self.add(
                    path,
                    f"no value for {fy_label(needed)}, {what}: the first year given is "
                    f"{fy_label(first)} (a value applies from its year on)",
                )


def _by_year_fields(value: Any, path: PathKey) -> Iterator[tuple[PathKey, ByYear]]:
    if isinstance(value, ByYear):
        yield path, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _by_year_fields(getattr(value, name), path + (name,))
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _by_year_fields(item, path + (i,))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _by_year_fields(item, path + (key,))


class _UncheckedSection(Exception):
    """Raised when a cross-check reads a section whose types were wrong."""


class _Unchecked:
    """Stands for a section that failed type checks, in a partly validated model.

    Reading anything from it abandons the cross-check that tried, so that a broken
    section never causes misleading reference problems elsewhere.
    """

    __slots__ = ("section",)

    def __init__(self, section: str) -> None:
        self.section = section

    def _refuse(self, *args: Any) -> Any:
        raise _UncheckedSection(self.section)

    __getattr__ = __iter__ = __len__ = __getitem__ = __contains__ = __bool__ = _refuse


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


def cross_check(model: BaseModel) -> list[tuple[PathKey, str, str | None]]:
    """Reference problems of a (possibly partly) validated model: ids, regions, years."""
    refs = References(model)
    refs.check_years()
    refs.check_uncertain()
    for section, cls in mechanisms().items():
        config = getattr(model, section, None)
        if config is None or isinstance(config, _Unchecked):
            continue
        before = len(refs.found)
        try:
            cls.check(config, refs)
        except _UncheckedSection:
            # the check needed a section with type errors: what it found may be misleading
            del refs.found[before:]
    return refs.found


def validate_document(
    data: Any, lines: dict[PathKey, tuple[str, int]], default_file: str
) -> tuple[BaseModel | None, list[Problem]]:
    """Validate a merged document; return (model or None, problems).

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
    model_cls = scenario_model()
    try:
        model = model_cls.model_validate(data)
    except ValidationError as exc:
        problems = [problem(*p) for p in problems_from_validation(exc, model_cls, data)]
        partial = _partial_model(model_cls, data, exc)
        if partial is not None:
            problems += [problem(*p) for p in cross_check(partial)]
        return None, problems
    found = cross_check(model)
    return (model if not found else None), [problem(*p) for p in found]


def _over_limits(data: dict[str, Any]) -> list[tuple[PathKey, str, str | None]]:
    """Problems with a document larger than finsim runs (see MAX_ORGANISATIONS...), found
    before any of it is validated."""
    counted: list[tuple[PathKey, str, int, str, int]] = []
    orgs = data.get("organisations")
    if isinstance(orgs, dict):
        groups = [orgs.get(g) for g in ("regions", "systems", "commissioners", "providers")]
        n = sum(len(g) for g in groups if isinstance(g, list))
        counted.append(
            (("organisations",), "organisations", n, "MAX_ORGANISATIONS", MAX_ORGANISATIONS)
        )
    for key, name, default in (
        ("contracts", "MAX_CONTRACTS", MAX_CONTRACTS),
        ("variants", "MAX_VARIANTS", MAX_VARIANTS),
    ):
        value = data.get(key)
        if isinstance(value, list | dict):
            counted.append(((key,), key, len(value), name, default))
    found: list[tuple[PathKey, str, str | None]] = []
    for path, what, n, name, default in counted:
        most = limit(name, default)
        if n > most:
            found.append((path, f"{n:,} {what}; the limit is {most:,} (FINSIM_{name})", None))
    return found + _too_large_numbers(data)


def _short(number: float) -> str:
    return f"{number:g}".replace("e+", "e")


def _too_large_numbers(data: Any, most_shown: int = 20) -> list[tuple[PathKey, str, str | None]]:
    """Numbers larger in size than MAX_NUMBER (non-finite ones are the models' to report)."""
    largest = limit("MAX_NUMBER", int(MAX_NUMBER))
    found: list[tuple[PathKey, str, str | None]] = []
    stack: list[tuple[PathKey, Any]] = [((), data)]
    while stack and len(found) < most_shown:
        path, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((path + (k,), v) for k, v in reversed(list(value.items())))
        elif isinstance(value, list):
            stack.extend((path + (i,), v) for i, v in reversed(list(enumerate(value))))
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, int) and abs(value) > largest:
                shown = (
                    f"{value:.3e}"
                    if abs(value) < 1e300
                    else f"a number of {len(str(abs(value)))} digits"
                )
            elif isinstance(value, float) and math.isfinite(value) and abs(value) > largest:
                shown = f"{value:.3e}"
            else:
                continue
            found.append(
                (
                    path,
                    f"expected a number of size at most {_short(largest)} (FINSIM_MAX_NUMBER), got {shown}",
                    None,
                )
            )
    return found


def _locate(
    path: PathKey, lines: dict[PathKey, tuple[str, int]], default_file: str
) -> tuple[str, int | None]:
    for n in range(len(path), -1, -1):
        if path[:n] in lines:
            return lines[path[:n]]
    return default_file, None
