"""Long-term memories between the managed API's shapes and remem's records.

- A store is remem's namespace of the same name; ``ownerId`` is the record's ``user_id``.
- ``memoryType``: remem's three types (``semantic``, ``episodic``, ``message``), matched
  without regard to case; another is refused (no operation of the API registers custom ones).
- ``attributes`` are kept in the record's ``metadata`` under ``attributes``.
- Namespace labels and ``namespaceRef`` placements inside a store are not served yet: sent,
  they are refused (a 400, or the item's error in a bulk create).
"""

from __future__ import annotations

from typing import Any

from remem.errors import Conflict, InvalidInput
from remem.models.managed import Memory, MemoryEdit, MemoryFieldsEdit, NewMemory
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.search import EditMemoryRecordRequest, NewMemoryRecord

TYPES = ", ".join(t.value for t in MemoryTypeEnum)
NO_PLACEMENTS = "namespace labels and namespaceRef inside a store are not served yet"


def memory_type(value: str) -> MemoryTypeEnum:
    try:
        return MemoryTypeEnum(value.lower())
    except ValueError:
        raise InvalidInput(f"memoryType {value!r} is not one of {TYPES}") from None


def new_record(memory: NewMemory, namespace: str) -> NewMemoryRecord:
    """The record ``memory`` becomes in the store's namespace (InvalidInput: why not)."""
    if memory.namespace is not None or memory.namespace_ref is not None:
        raise InvalidInput(NO_PLACEMENTS)
    record = NewMemoryRecord(
        id=memory.id,
        text=memory.text,
        user_id=memory.owner_id,
        session_id=memory.session_id,
        namespace=namespace,
        topics=memory.topics,
    )
    if memory.memory_type is not None:
        record.memory_type = memory_type(memory.memory_type)
    if memory.attributes is not None:
        record.metadata = {"attributes": memory.attributes}
    return record


def attributes(record: MemoryRecord) -> dict[str, Any] | None:
    found = (record.metadata or {}).get("attributes")
    return found if isinstance(found, dict) else None


def memory(record: MemoryRecord) -> Memory:
    return Memory(
        id=record.id,
        text=record.text,
        created_at=record.created_at,
        updated_at=record.updated_at,
        memory_type=record.memory_type.value,
        session_id=record.session_id,
        owner_id=record.user_id,
        topics=record.topics,
        attributes=attributes(record),
    )


def edit(change: MemoryEdit) -> EditMemoryRecordRequest | None:
    """A PATCH as remem's edit: only the fields sent; an empty ``sessionId`` clears it. None:
    nothing to change (an empty ``namespace``, clearing a label no record has)."""
    sent = change.model_fields_set
    if not sent:
        raise InvalidInput("No fields provided for update")
    if change.namespace_ref is not None or change.namespace:
        raise InvalidInput(NO_PLACEMENTS)
    out: dict[str, Any] = {}
    if "text" in sent:
        if change.text is None:
            raise InvalidInput("text cannot be cleared")
        out["text"] = change.text
    if "topics" in sent:
        out["topics"] = change.topics
    if "memory_type" in sent and change.memory_type is not None:
        out["memory_type"] = memory_type(change.memory_type)
    if "owner_id" in sent:
        if change.owner_id is None:
            raise InvalidInput("ownerId cannot be cleared")
        out["user_id"] = change.owner_id
    if "session_id" in sent:
        out["session_id"] = change.session_id or None
    return EditMemoryRecordRequest(**out) if out else None


def fields_edit(change: MemoryFieldsEdit, stored: MemoryRecord) -> EditMemoryRecordRequest | None:
    """``PATCH .../fields`` as remem's edit of ``stored``, or a 409 when what it asserts does
    not hold: the stored ``memoryType``, and no placement (remem's records have none yet, so a
    ``namespace`` or ``namespaceRef`` sent never matches)."""
    if memory_type(change.memory_type) != stored.memory_type:
        raise Conflict(
            f"memory {stored.id!r} is of type {stored.memory_type.value!r}, "
            f"not {change.memory_type!r}"
        )
    if change.namespace or change.namespace_ref is not None:
        raise Conflict(f"memory {stored.id!r} has no namespace placement")
    out: dict[str, Any] = {}
    if change.text is not None:
        out["text"] = change.text
    if "attributes" in change.model_fields_set:
        kept = {k: v for k, v in (stored.metadata or {}).items() if k != "attributes"}
        if change.attributes is not None:
            kept["attributes"] = change.attributes
        out["metadata"] = kept or None
    return EditMemoryRecordRequest(**out) if out else None
