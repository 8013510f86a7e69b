"""Deep-merging an overlay (a variant, or a file that ``extends:`` a base) onto a base.

The rule, used for both ``extends:`` and ``variants:``:

* a mapping is merged key by key, recursively;
* a value of ``null`` in the overlay removes the key from the base;
* a list whose items are all mappings with an ``id`` that is a name or number
  (organisations, contracts) is merged item by item by id: an item with a known
  id is merged onto that item, an item with a new id is appended;
* anything else (numbers, strings, other lists) replaces the base value.

Nothing is modified in place: the result is a new structure.
"""

from __future__ import annotations

import copy
from typing import Any


def _is_id_list(value: Any) -> bool:
    # An id is a name or a number; anything else (null, a list) is a mistake that
    # validation reports, so such a list is merged as plain data: replaced.
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and isinstance(item.get("id"), str | int) for item in value)
    )


def deep_merge(base: Any, overlay: Any) -> Any:
    """Return ``overlay`` merged onto ``base`` by the rule in the module docstring."""
    if isinstance(base, dict) and isinstance(overlay, dict):
        out = {k: copy.deepcopy(v) for k, v in base.items()}
        for key, value in overlay.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = deep_merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if _is_id_list(base) and _is_id_list(overlay):
        merged = [copy.deepcopy(item) for item in base]
        position = {item["id"]: i for i, item in enumerate(merged)}
        for item in overlay:
            if item["id"] in position:
                i = position[item["id"]]
                merged[i] = deep_merge(merged[i], item)
            else:
                position[item["id"]] = len(merged)
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(overlay)


PathKey = tuple[str | int, ...]

#: Where each field path of a document was written: (file, line; None where no line is known).
Lines = dict[PathKey, tuple[str, int | None]]


def merge_lines(
    base: Any,
    overlay: Any,
    base_lines: dict[PathKey, Any],
    overlay_lines: dict[PathKey, Any],
    overlay_at: PathKey = (),
) -> dict[PathKey, Any]:
    """Where each value of ``deep_merge(base, overlay)`` was written.

    ``base_lines`` maps field paths of ``base`` to their location, ``overlay_lines``
    maps paths of the overlay (found under ``overlay_at``, e.g. ``("variants", "x")``)
    to theirs. The result maps each path of the merged document to the location of
    the value it came from, following the same rule as :func:`deep_merge`: an
    overlay item merged by id onto ``contracts[3]`` is located at ``contracts[3]``,
    an appended one at its new position, whatever its index in the overlay.
    """
    out: dict[PathKey, Any] = {}

    def copy_from(value: Any, lines: dict[PathKey, Any], src: PathKey, dst: PathKey) -> None:
        if src in lines:
            out[dst] = lines[src]
        if isinstance(value, dict):
            for key, item in value.items():
                copy_from(item, lines, src + (key,), dst + (key,))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                copy_from(item, lines, src + (i,), dst + (i,))

    def merge(b: Any, o: Any, bpath: PathKey, opath: PathKey, mpath: PathKey) -> None:
        if isinstance(b, dict) and isinstance(o, dict):
            # the mapping itself stays where the base wrote it; its keys come from either
            loc = base_lines.get(bpath, overlay_lines.get(opath))
            if loc is not None:
                out[mpath] = loc
            for key, value in b.items():
                if key not in o:
                    copy_from(value, base_lines, bpath + (key,), mpath + (key,))
            for key, value in o.items():
                if value is None:
                    continue
                if key in b:
                    merge(b[key], value, bpath + (key,), opath + (key,), mpath + (key,))
                else:
                    copy_from(value, overlay_lines, opath + (key,), mpath + (key,))
        elif _is_id_list(b) and _is_id_list(o):
            loc = base_lines.get(bpath, overlay_lines.get(opath))
            if loc is not None:
                out[mpath] = loc
            position = {item["id"]: i for i, item in enumerate(b)}
            overlaid = {item["id"] for item in o if item["id"] in position}
            for i, item in enumerate(b):
                if item["id"] not in overlaid:
                    copy_from(item, base_lines, bpath + (i,), mpath + (i,))
            appended: dict[Any, int] = {}
            for j, item in enumerate(o):
                if item["id"] in position:
                    i = position[item["id"]]
                    merge(b[i], item, bpath + (i,), opath + (j,), mpath + (i,))
                else:
                    # a new id given twice is merged onto its first appearance
                    i = appended.setdefault(item["id"], len(b) + len(appended))
                    copy_from(item, overlay_lines, opath + (j,), mpath + (i,))
        else:
            copy_from(o, overlay_lines, opath, mpath)

    merge(base, overlay, (), overlay_at, ())
    return out
