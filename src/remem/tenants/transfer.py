"""``remem memories export`` / ``import``: long-term memories as JSON Lines, streamed both ways
(a batch at a time: a million memories never sit in memory at once).

The first line says what wrote the file: ``{"format": "remem-memories", "version": 1, "model":
..., "dimensions": ...}``; each other line is one memory as ``GET /v1/long-term-memory/{id}``
returns it, plus ``search_text`` when keyword search reads more than the text, and its vector
(``vector``: FLOAT16, base64) so an import into a remem with the same model keeps it instead
of embedding again. Import keeps ids and every field; a memory whose id another namespace or
user owns is not written, and counted. An export of a user's or a namespace's data
(``maintenance.export``, ``GET /v1/export``) also holds its sessions, one line each marked
``"kind": "working_memory"``: import counts those and passes over them.

The managed API's namespace resources of each store exported (every store's, or the
namespace's; none for a user's export, as they are the store's) follow, one line a store:
``{"kind": "managed_namespaces", "store": ..., "namespaces": {id: record}}``. Import writes a
store's tree back as it was, ids kept (the memories placed in them keep their places), unless
the store already has one: two trees are never merged, and the line is counted as skipped.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, cast

import numpy as np
from pydantic import ValidationError

from remem.errors import InvalidInput
from remem.memory.longterm import LongTermMemoryService
from remem.memory.records import read_record, to_doc
from remem.memory.unreadable import Unreadable, reason
from remem.models.memory import MemoryRecord
from remem.models.search import NewMemoryRecord
from remem.store.longterm.layout import VECTOR_DTYPE
from remem.store.namespace_tree import NamespaceTree

FORMAT = "remem-memories"
SESSION_KIND = "working_memory"  # the lines of sessions in an export (maintenance.export)
TREE_KIND = "managed_namespaces"  # a store's namespace resources (the managed API)
VERSION = 1
BATCH = 500


@dataclass
class Transferred:
    memories: int = 0
    refused: int = 0  # import: ids owned by another namespace or user
    skipped: int = 0  # unreadable lines or records
    sessions: int = 0  # working-memory session lines written (export) or passed over (import)
    managed_namespaces: int = 0  # the managed API's namespace resources written or imported
    reembedded: bool = False
    seconds: float = 0.0


def embedder_of(service: LongTermMemoryService) -> tuple[str, int]:
    """The (model, dimensions) of ``service``'s embedder, as a header names them."""
    return service.embedder.name, service.embedder.dimensions


def header(service: LongTermMemoryService) -> dict[str, Any]:
    embedder = service.embedder
    return {
        "format": FORMAT,
        "version": VERSION,
        "model": embedder.name,
        "dimensions": embedder.dimensions,
        "exported_at": round(time.time(), 3),
    }


Visible = Callable[[str | None, str | None], bool]  # (namespace, user_id) -> exported


async def export_memories(
    service: LongTermMemoryService,
    out: IO[str],
    *,
    namespace: str | None = None,
    user_id: str | None = None,
    progress: Callable[[str], None] = print,
    trees: NamespaceTree | None = None,
) -> Transferred:
    """Write the memories (of ``namespace`` / ``user_id`` when given) to ``out``, then the
    namespace resources of the stores exported (``trees``; none for a user's export)."""
    started, done = time.perf_counter(), Transferred()
    out.write(json.dumps(header(service)) + "\n")
    async for line in memory_lines(
        service, namespace=namespace, user_id=user_id, progress=progress, done=done
    ):
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
    if trees is not None and user_id is None:
        async for line in tree_lines(trees, namespace, done):
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
    done.seconds = time.perf_counter() - started
    return done


async def tree_lines(
    trees: NamespaceTree, namespace: str | None, done: Transferred
) -> AsyncIterator[dict[str, Any]]:
    """The export lines of the namespace resources of store ``namespace`` (None: of every
    store holding some), one a store; a store without any has none."""
    for store in [namespace] if namespace is not None else await trees.stores():
        tree = await trees.all(store)
        if tree:
            done.managed_namespaces += len(tree)
            yield {"kind": TREE_KIND, "store": store, "namespaces": tree}


async def memory_lines(
    service: LongTermMemoryService,
    *,
    namespace: str | None = None,
    user_id: str | None = None,
    visible: Visible | None = None,
    progress: Callable[[str], None] = print,
    done: Transferred | None = None,
    id_batches: AsyncIterator[list[str]] | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """The export lines of the memories of ``namespace`` / ``user_id`` (when given) that
    ``visible`` lets through (a caller's scope), a batch at a time. Ids come from
    ``id_batches`` (an index cursor over the scope) or a SCAN of every memory."""
    done = done if done is not None else Transferred()
    documents = service.store.documents
    wanted = _scope(namespace, user_id, visible)
    async for ids in id_batches if id_batches is not None else documents.scan_ids(BATCH):
        if wanted is not None:
            owners = await documents.get_fields(ids, ("namespace", "user_id"), wanted)
            ids = [
                i
                for i, o in zip(ids, owners, strict=True)
                if o is not None and wanted(o.get("namespace"), o.get("user_id"))
            ]
        # On a Redis Cluster an id two namespaces hold is read in the exported one.
        docs = await documents.get_many(ids, wanted)
        hits = await documents.access_counts(ids, wanted)
        for memory_id, doc, extra in zip(ids, docs, hits, strict=True):
            if doc is None:
                continue  # deleted meanwhile
            try:
                record = read_record(doc, memory_id, MemoryRecord)
            except Unreadable as exc:
                progress(f"skipped: {exc.detail}")
                done.skipped += 1
                continue
            line = record.model_dump(mode="json")
            line["access_count"] += extra
            if doc.get("search_text") and doc["search_text"] != doc["text"]:
                line["search_text"] = doc["search_text"]
            vector = np.asarray(doc["embedding"], dtype=VECTOR_DTYPE)
            line["vector"] = base64.b64encode(vector.tobytes()).decode()
            done.memories += 1
            yield line
        progress(f"exported {done.memories:,} memories")


def _scope(namespace: str | None, user_id: str | None, visible: Visible | None) -> Visible | None:
    """The (namespace, user_id) an export takes: of ``namespace`` and ``user_id`` when given,
    that ``visible`` lets through; None: every memory."""
    if namespace is None and user_id is None and visible is None:
        return None

    def wanted(ns: str | None, user: str | None) -> bool:
        return (
            (namespace is None or ns == namespace)
            and (user_id is None or user == user_id)
            and (visible is None or visible(ns, user))
        )

    return wanted


async def _batches(lines: Iterable[str], size: int) -> AsyncIterator[list[tuple[int, str]]]:
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=2):
        if line.strip():
            batch.append((number, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


async def import_memories(
    service: LongTermMemoryService,
    source: IO[str],
    *,
    progress: Callable[[str], None] = print,
    trees: NamespaceTree | None = None,
) -> Transferred:
    """Read an export back: ids and fields kept, vectors kept when the model is the same;
    each store's namespace resources written back (``trees``) where the store has none."""
    started, done = time.perf_counter(), Transferred()
    try:
        header = json.loads(source.readline() or "{}")
    except ValueError:
        header = {}
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InvalidInput(f"not a remem export: its first line must be a {FORMAT!r} header")
    if header.get("version") != VERSION:
        raise InvalidInput(f"export format version {header.get('version')!r} is not {VERSION}")
    embedder = service.embedder
    same_model = (header.get("model"), header.get("dimensions")) == embedder_of(service)
    done.reembedded = not same_model
    async for batch in _batches(source, BATCH):
        records: list[NewMemoryRecord] = []
        vectors: list[np.ndarray | None] = []
        for number, line in batch:
            try:
                raw = json.loads(line)
                if isinstance(raw, dict) and raw.get("kind") == SESSION_KIND:
                    done.sessions += 1  # an export of a user's data: memories only come back
                    continue
                if isinstance(raw, dict) and raw.get("kind") == TREE_KIND:
                    await _restore(trees, raw, number, done, progress)
                    continue
                vector = raw.pop("vector", None)
                records.append(NewMemoryRecord.model_validate(raw))
            except (ValueError, ValidationError, AttributeError) as exc:
                detail = reason(exc) if isinstance(exc, ValidationError) else str(exc)
                progress(f"line {number} skipped: {detail}")
                done.skipped += 1
                continue
            vectors.append(_vector(vector, embedder.dimensions) if same_model else None)
        if any(v is None for v in vectors):
            missing = [r.text for r, v in zip(records, vectors, strict=True) if v is None]
            made = iter(await service.embed(missing))
            vectors = [v if v is not None else next(made) for v in vectors]
        docs = []
        for record, vector in zip(records, vectors, strict=True):
            try:
                docs.append(to_doc(record, cast(np.ndarray, vector)))
            except InvalidInput as exc:
                progress(f"memory {record.id!r} skipped: {exc.detail}")
                done.skipped += 1
        written = await service.store.documents.upsert_many(docs)
        done.refused += sum(w.refused for w in written)
        done.memories += sum(not w.refused for w in written)
        progress(f"imported {done.memories:,} memories")
    done.seconds = time.perf_counter() - started
    return done


async def _restore(
    trees: NamespaceTree | None,
    line: dict[str, Any],
    number: int,
    done: Transferred,
    progress: Callable[[str], None],
) -> None:
    """Write one store's exported namespace resources back, or say why not (skipped)."""
    store, tree = line.get("store"), line.get("namespaces")
    if not isinstance(store, str) or not isinstance(tree, dict) or trees is None:
        progress(f"line {number} skipped: namespace resources not imported here")
        done.skipped += 1
    elif await trees.restore(store, tree):
        done.managed_namespaces += len(tree)
    else:
        progress(f"line {number} skipped: store {store!r} already has namespace resources")
        done.skipped += 1


def _vector(encoded: object, dimensions: int) -> np.ndarray | None:
    """The exported vector, or None (embed again) when it is missing or of another size."""
    if not isinstance(encoded, str):
        return None
    try:
        vector = np.frombuffer(base64.b64decode(encoded), dtype=VECTOR_DTYPE)
    except ValueError:
        return None
    return vector.astype(np.float32) if vector.shape == (dimensions,) else None
