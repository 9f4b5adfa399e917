"""Long-term memories between the managed API's shapes and remem's records.

- A store is remem's namespace of the same name; ``ownerId`` is the record's ``user_id``.
- ``memoryType``: remem's three types (``semantic``, ``episodic``, ``message``), matched
  without regard to case; another is refused (no operation of the API registers custom ones).
- ``attributes`` are kept in the record's ``metadata`` under ``attributes``.
- ``namespaceRef``: the record's ``namespace_id``, a namespace resource of the store's tree
  (``store.namespace_tree``), which must exist (404) and be active (409) to take a record.
  Read back as ``{namespaceId, name, path}`` from the live tree.
- The deprecated ``namespace`` label: the record's ``namespace_label``, kept as written and
  matched without regard to case (never remem's ``namespace``, which is the store). It creates
  no namespace resource; sent with ``namespaceRef`` it is a 400 (the item's error in a bulk
  create). A PATCH's empty one clears it. Label and placement are independent fields.
"""

from __future__ import annotations

from typing import Any

from remem.errors import Conflict, InvalidInput, NotFound
from remem.models.managed import Memory, MemoryEdit, MemoryFieldsEdit, NamespaceRef, NewMemory
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.search import EditMemoryRecordRequest, NewMemoryRecord
from remem.store.longterm.layout import label_tag

Tree = dict[str, dict[str, Any]]  # a store's namespace resources by id, as the store reads them
TYPES = ", ".join(t.value for t in MemoryTypeEnum)
BOTH = "the deprecated namespace label must not be sent with namespaceRef"


def memory_type(value: str) -> MemoryTypeEnum:
    try:
        return MemoryTypeEnum(value.lower())
    except ValueError:
        raise InvalidInput(f"memoryType {value!r} is not one of {TYPES}") from None


def path_of(tree: Tree, node: dict[str, Any]) -> str:
    """The names from the root down to ``node``, joined by ``/``."""
    names, seen = [node["name"]], {node["namespaceId"]}
    parent = tree.get(node["parentId"])
    while parent is not None and parent["namespaceId"] not in seen:
        names.append(parent["name"])
        seen.add(parent["namespaceId"])
        parent = tree.get(parent["parentId"])
    return "/".join(reversed(names))


def placement(tree: Tree, namespace_id: str) -> str:
    """``namespace_id`` if it can take records: 404 missing, 409 archived."""
    node = tree.get(namespace_id)
    if node is None:
        raise NotFound(f"namespace {namespace_id!r} not found")
    if node["state"] == "ARCHIVED":
        raise Conflict(f"namespace {node['name']!r} is archived")
    return namespace_id


def new_record(memory: NewMemory, namespace: str, tree: Tree) -> NewMemoryRecord:
    """The record ``memory`` becomes in the store's namespace (a RememError: why not)."""
    if memory.namespace is not None and memory.namespace_ref is not None:
        raise InvalidInput(BOTH)
    record = NewMemoryRecord(
        id=memory.id,
        text=memory.text,
        user_id=memory.owner_id,
        session_id=memory.session_id,
        namespace=namespace,
        topics=memory.topics,
        namespace_label=memory.namespace,
    )
    if memory.namespace_ref is not None:
        record.namespace_id = placement(tree, memory.namespace_ref.namespace_id)
    if memory.memory_type is not None:
        record.memory_type = memory_type(memory.memory_type)
    if memory.attributes is not None:
        record.metadata = {"attributes": memory.attributes}
    return record


def attributes(record: MemoryRecord) -> dict[str, Any] | None:
    found = (record.metadata or {}).get("attributes")
    return found if isinstance(found, dict) else None


def reference(tree: Tree, namespace_id: str | None) -> NamespaceRef | None:
    node = tree.get(namespace_id) if namespace_id else None
    if node is None:  # none, or a namespace deleted since
        return None
    return NamespaceRef(
        namespace_id=node["namespaceId"], name=node["name"], path=path_of(tree, node)
    )


def memory(record: MemoryRecord, tree: Tree) -> Memory:
    return Memory(
        id=record.id,
        text=record.text,
        created_at=record.created_at,
        updated_at=record.updated_at,
        memory_type=record.memory_type.value,
        session_id=record.session_id,
        owner_id=record.user_id,
        namespace=record.namespace_label,
        namespace_ref=reference(tree, record.namespace_id),
        topics=record.topics,
        attributes=attributes(record),
    )


def memory_json(record: MemoryRecord, tree: Tree) -> dict[str, Any]:
    """``memory(record, tree)`` as its JSON object (camelCase, unset fields left out), built
    without the model: a model a hit was most of what a page of ten cost the app more than the
    other API's answer (bench/managed_cost.py). A test holds the two equal."""
    out: dict[str, Any] = {
        "id": record.id,
        "text": record.text,
        "createdAt": record.created_at,
        "updatedAt": record.updated_at,
        "memoryType": record.memory_type.value,
    }
    if record.session_id is not None:
        out["sessionId"] = record.session_id
    if record.user_id is not None:
        out["ownerId"] = record.user_id
    if record.namespace_label is not None:
        out["namespace"] = record.namespace_label
    if (ref := reference(tree, record.namespace_id)) is not None:
        out["namespaceRef"] = ref.model_dump(by_alias=True)
    if record.topics is not None:
        out["topics"] = record.topics
    if (found := attributes(record)) is not None:
        out["attributes"] = found
    return out


def edit(change: MemoryEdit, tree: Tree) -> EditMemoryRecordRequest | None:
    """A PATCH as remem's edit: only the fields sent; an empty ``sessionId`` clears it;
    ``namespaceRef`` places the memory; ``namespace`` sets the label (empty: clears it)."""
    sent = change.model_fields_set
    if not sent:
        raise InvalidInput("No fields provided for update")
    if change.namespace and change.namespace_ref is not None:
        raise InvalidInput(BOTH)
    out: dict[str, Any] = {}
    if "namespace" in sent:
        out["namespace_label"] = change.namespace or None
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
    if change.namespace_ref is not None:
        out["namespace_id"] = placement(tree, change.namespace_ref.namespace_id)
    return EditMemoryRecordRequest(**out) if out else None


def fields_edit(change: MemoryFieldsEdit, stored: MemoryRecord) -> EditMemoryRecordRequest | None:
    """``PATCH .../fields`` as remem's edit of ``stored``, or a 409 when what it asserts does
    not hold: the stored ``memoryType``, and the placement: ``namespaceRef`` the namespace
    resource, or ``namespace`` the label (without regard to case); neither sent asserts neither
    is stored (both sent: a 400)."""
    if memory_type(change.memory_type) != stored.memory_type:
        raise Conflict(
            f"memory {stored.id!r} is of type {stored.memory_type.value!r}, "
            f"not {change.memory_type!r}"
        )
    if change.namespace and change.namespace_ref is not None:
        raise InvalidInput(BOTH)
    if change.namespace_ref is not None:
        holds = change.namespace_ref.namespace_id == stored.namespace_id
    elif change.namespace:
        holds = label_tag(change.namespace) == label_tag(stored.namespace_label or "")
    else:
        holds = stored.namespace_id is None and stored.namespace_label is None
    if not holds:
        raise Conflict(f"memory {stored.id!r} is not placed as asserted")
    out: dict[str, Any] = {}
    if change.text is not None:
        out["text"] = change.text
    if "attributes" in change.model_fields_set:
        kept = {k: v for k, v in (stored.metadata or {}).items() if k != "attributes"}
        if change.attributes is not None:
            kept["attributes"] = change.attributes
        out["metadata"] = kept or None
    return EditMemoryRecordRequest(**out) if out else None
