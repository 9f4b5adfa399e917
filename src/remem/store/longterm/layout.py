"""How a long-term memory is laid out in Redis: one HASH per memory, its vector once, in binary.

Measured with 5,000 memories of 256 dimensions in the embedded Redis (``used_memory`` delta per
memory, index included): one JSON document with the vector as JSON numbers took 10,300 bytes
(the numbers as JSON nodes, and the vector again in the index); a HASH with a FLOAT32 vector
5,300; the same with the hash kept as a listpack (``hash-max-listpack-value``, which the
embedded Redis raises, see ``store.embedded``) 4,000; with FLOAT16 vectors 3,000 (the index
keeps its own copy of each vector, so its type counts twice). FLOAT16 keeps a unit vector's
components within 5e-4, far under what ranking reads (LoCoMo recall unchanged, see README).

A field's kind decides its encoding: tag fields and texts as they are; tag lists joined by
``TAG_SEPARATOR`` (what the index splits on); numbers and nested values as JSON; ``pinned`` as
``true``/``false``; the vector as FLOAT16 bytes. None is no field at all, and ``search_text``
(when it is the text) and the ``DEFAULTS`` are left out: the hash holds only what differs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

from remem.store.longterm.attributes import ATTRIBUTE_TAGS, attribute_tags
from remem.store.schema import TAG_SEPARATOR

VECTOR = "embedding"
VECTOR_TYPE = "FLOAT16"  # as the index declares it (store.schema.vector_field)
VECTOR_DTYPE = np.float16
TEXTS = frozenset(
    {
        "id",
        "text",
        "session_id",
        "user_id",
        "namespace",
        "memory_type",
        "extraction_strategy",
        "memory_hash",
        "discrete_memory_extracted",
        "search_text",
        "search_terms",
        "origin",
        "role",
        "namespace_id",
        "namespace_label",
    }
)
TAG_LISTS = frozenset(
    {"topics", "entities", "supersedes", "superseded_by", "merged_ids", ATTRIBUTE_TAGS}
)
FLAGS = frozenset({"pinned"})
LABEL_TAG = "namespace_label_tag"  # the managed namespace label, casefolded (never read back)
# Written by json.dumps of a number; read back with float() (an int stays an int).
NUMBERS = frozenset(
    {
        "created_at",
        "updated_at",
        "last_accessed",
        "persisted_at",
        "event_date",
        "access_count",
        "valid_at",
        "invalid_at",
    }
)
# Values most memories have, left out of the hash and read back as these (about 150 bytes a
# memory with the index entries they would take; 3,110 bytes a memory at 10,000 with them).
DEFAULTS: dict[str, Any] = {
    "pinned": False,
    "access_count": 0,
    "discrete_memory_extracted": "f",
    "extraction_strategy_config": {},
}


def label_tag(label: str) -> str:
    """How the index holds a managed namespace label, and how a filter names it: casefolded."""
    return label.casefold()


def vector_bytes(vector: Any) -> bytes:
    """A vector as the hash and the index hold it."""
    return np.asarray(vector, dtype=VECTOR_DTYPE).tobytes()


def encode(doc: Mapping[str, Any]) -> dict[str, bytes | str]:
    """The hash fields of a memory's document (see the module docstring)."""
    out: dict[str, bytes | str] = {}
    for name, value in doc.items():
        if name in (ATTRIBUTE_TAGS, LABEL_TAG):
            continue  # derived below, never kept from an older read
        if value is None or (
            name in DEFAULTS and value == DEFAULTS[name] and type(value) is type(DEFAULTS[name])
        ):
            continue
        if name == VECTOR:
            out[name] = vector_bytes(value)
        elif name in TAG_LISTS and isinstance(value, list | tuple):
            out[name] = TAG_SEPARATOR.join(str(v) for v in value)
        elif name in FLAGS and isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif name in TEXTS and isinstance(value, str):
            out[name] = value
        else:
            out[name] = json.dumps(value)
    if out.get("search_text") == out.get("text"):
        out.pop("search_text", None)
    if tags := attribute_tags(doc.get("metadata")):  # store.longterm.attributes
        out[ATTRIBUTE_TAGS] = TAG_SEPARATOR.join(tags)
    if label := doc.get("namespace_label"):  # matched without regard to case
        out[LABEL_TAG] = label_tag(str(label))
    return out


def flat(fields: Mapping[str, bytes | str]) -> list[bytes | str]:
    """``encode``'s fields as HSET's arguments: name, value, name, value..."""
    return [part for pair in fields.items() for part in pair]


def decode_value(name: str, raw: bytes) -> Any:
    """One hash field's value, as the document held it."""
    if name == VECTOR:
        return np.frombuffer(raw, dtype=VECTOR_DTYPE).astype(np.float64).tolist()
    text = raw.decode("utf-8", "replace")
    if name in TEXTS:
        return text
    if name in TAG_LISTS:
        return text.split(TAG_SEPARATOR) if text else []
    if name in FLAGS:
        return text == "true"
    if name in NUMBERS:  # dates and counts: int() / float() cost a tenth of json.loads
        try:
            return int(text) if text.lstrip("-").isdigit() else float(text)
        except ValueError:
            pass
    try:
        return json.loads(text)
    except ValueError:
        return text  # written by hand: read as it is


def decode(pairs: Mapping[bytes, bytes]) -> dict[str, Any]:
    """The document of a memory's hash (HGETALL's answer)."""
    doc = {(n := name.decode()): decode_value(n, raw) for name, raw in pairs.items()}
    for name, value in DEFAULTS.items():
        doc.setdefault(name, _copy(value))
    if "search_text" not in doc and "text" in doc:
        doc["search_text"] = doc["text"]
    return doc


def decode_fields(names: list[str], values: list[bytes | None]) -> dict[str, Any]:
    """The fields a memory has of ``names`` (HMGET's answer; a missing one is left out)."""
    doc = {n: decode_value(n, raw) for n, raw in zip(names, values, strict=True) if raw is not None}
    for name in names:
        if name in DEFAULTS and name not in doc:
            doc[name] = _copy(DEFAULTS[name])
    if "search_text" in names and "search_text" not in doc and "text" in doc:
        doc["search_text"] = doc["text"]
    return doc


def _copy(value: Any) -> Any:
    return dict(value) if isinstance(value, dict) else value
