"""A memory's ``attributes`` (the managed API's typed fields, kept in its ``metadata``) as
values of one TAG field of the long-term index, ``attribute_tags``, so filtering on them is a
query, not a scan.

Each filterable attribute gives one tag per value: a string, a number or a boolean one; a list
of strings and numbers one per item (marked as a list's, so ``{"list": [...]}`` finds lists
only and ``{"string": ...}`` strings only). A tag is a digest of ``[kind, name, value]``, with
numbers in one form (``1`` and ``1.0`` are one number): a fixed-size value the index matches
exactly whatever the name or value holds (commas, braces, any length). Objects, and lists
holding anything else, are kept and returned but not indexed.
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

ATTRIBUTE_TAGS = "attribute_tags"


def number(value: float) -> str:
    """A number in one form: an integral one as an integer."""
    if math.isfinite(value) and float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def tag(kind: str, name: str, value: Any) -> str:
    """The tag of one value of attribute ``name`` (``kind``: string, number, boolean, or
    list:string / list:number for a list's item)."""
    text = json.dumps([kind, name, value], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def scalar(value: Any) -> tuple[str, Any] | None:
    """(kind, value as tagged) of a string, number or boolean; None for anything else."""
    if isinstance(value, bool):
        return "boolean", value
    if isinstance(value, int | float) and math.isfinite(value):
        return "number", number(value)
    if isinstance(value, str):
        return "string", value
    return None


def attribute_tags(metadata: Any) -> list[str]:
    """The tags of the filterable attributes in a memory's ``metadata``."""
    found = metadata.get("attributes") if isinstance(metadata, dict) else None
    if not isinstance(found, dict):
        return []
    tags: list[str] = []
    for name, value in found.items():
        if isinstance(value, list):
            items = [scalar(v) for v in value]
            if all(i is not None and i[0] != "boolean" for i in items):
                tags += [tag(f"list:{i[0]}", name, i[1]) for i in items if i is not None]
        elif (one := scalar(value)) is not None:
            tags.append(tag(one[0], name, one[1]))
    return list(dict.fromkeys(tags))
