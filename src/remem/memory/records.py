"""A long-term memory as stored and as read back: ``to_doc`` makes the stored document of a
record (validated: ids, tags, dates as epoch seconds rounded to microseconds, the vector, the
keyword words and the text's hash), ``read_record`` the record of a stored document."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from remem.errors import InvalidInput
from remem.memory.filters import epoch
from remem.memory.identifiers import check_id, check_tags, optional_id
from remem.memory.sameness import hash_of
from remem.memory.unreadable import Unreadable, reason
from remem.memory.words import search_terms
from remem.models.memory import MemoryRecord

RECORD_FIELDS = tuple(MemoryRecord.model_fields)
# Never sent back: the vector and keyword text (large), the origin flag and merged ids (internal).
STORED_ONLY = frozenset({"embedding", "search_text", "search_terms", "origin", "merged_ids"})
DATE_FIELDS = (
    "created_at",
    "updated_at",
    "last_accessed",
    "persisted_at",
    "event_date",
    "valid_at",
    "invalid_at",
)
SERVER = "server"  # the ``origin`` of memories whose id the server made (extraction)

R = TypeVar("R", bound=MemoryRecord)


def now() -> float:
    return round(time.time(), 6)


def to_doc(record: MemoryRecord, vector: np.ndarray) -> dict[str, Any]:
    """The stored document of ``record`` (validated)."""
    if not record.text or not record.text.strip():
        raise InvalidInput(f"memory text cannot be empty (memory id: {record.id})")
    doc = record.model_dump(mode="json", exclude={"search_text"})
    for name in DATE_FIELDS:
        value = getattr(record, name)
        doc[name] = None if value is None else epoch(value)
    doc["id"] = check_id("id", record.id)
    for name in ("namespace", "user_id", "session_id", "role"):
        doc[name] = optional_id(name, doc[name])
    doc["namespace_id"] = optional_id("namespace_id", record.namespace_id)
    doc["namespace_label"] = optional_id("namespace_label", record.namespace_label)
    check_id("extraction_strategy", doc["extraction_strategy"])
    doc["topics"] = check_tags("topics", record.topics)
    doc["entities"] = check_tags("entities", record.entities)
    doc["supersedes"] = check_tags("supersedes", record.supersedes)
    doc["superseded_by"] = check_tags("superseded_by", record.superseded_by)
    if doc["valid_at"] is None:
        doc["valid_at"] = doc["event_date"] if doc["event_date"] is not None else doc["created_at"]
    doc["search_text"] = getattr(record, "search_text", None) or record.text
    doc["search_terms"] = search_terms(doc["text"], doc["search_text"])
    doc["embedding"] = stored_vector(vector)
    doc["memory_hash"] = hash_of(doc)
    return doc


def stored_vector(vector: np.ndarray) -> np.ndarray:
    """A vector as the store takes it (which keeps it in binary, see store.longterm.layout)."""
    return np.asarray(vector, dtype=np.float32)


def from_doc(doc: dict[str, Any]) -> dict[str, Any]:
    """MemoryRecord fields of a stored document (dates as datetimes).

    Raises ValueError naming the field for a date no datetime can hold."""
    out = {k: v for k, v in doc.items() if k not in STORED_ONLY}
    for name in DATE_FIELDS:
        if out.get(name) is not None:
            try:
                out[name] = datetime.fromtimestamp(float(out[name]), UTC)
            except (ValueError, OverflowError, OSError, TypeError) as exc:
                raise ValueError(f"{name}: {out[name]!r} is not a date ({exc})") from None
    return out


def read_record(doc: dict[str, Any], memory_id: str, model: type[R], **extra: Any) -> R:
    """The record of a stored document, or Unreadable saying what in it cannot be read."""
    try:
        return model.model_validate({**from_doc(doc), **extra})
    except ValueError as exc:  # pydantic's ValidationError included
        raise Unreadable(
            f"memory {memory_id!r} is stored in a form this server cannot read ({reason(exc)}); "
            "delete it or store it again under the same id"
        ) from None
