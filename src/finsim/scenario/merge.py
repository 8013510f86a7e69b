"""Deep-merging an overlay (a variant, or a file that ``extends:`` a base) onto a base.

The rule, used for both ``extends:`` and ``variants:``:

* a mapping is merged key by key, recursively;
* a value of ``null`` in the overlay removes the key from the base;
* a list whose items are all mappings with an ``id`` (organisations, contracts)
  is merged item by item by id: an item with a known id is merged onto that
  item, an item with a new id is appended;
* anything else (numbers, strings, other lists) replaces the base value.

Nothing is modified in place: the result is a new structure.
"""

from __future__ import annotations

import copy
from typing import Any


def _is_id_list(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "id" in item for item in value)
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
