"""``remem migrate``, long-term part: the Agent Memory Server's (AMS 0.12-0.15) long-term
memories into remem's layout.

What it reads: one HASH per memory under the prefix of AMS's index ``memory_records``
(``memory_idx``, keys ``memory_idx:<id>``; read from the real server 0.15.2 in
tests/fixtures/ams): ``text``, ``id_`` (0.12-0.13 may also have ``id``),
``namespace``/``user_id``/``session_id`` (``""`` for none), ``memory_type``, ``topics``,
``entities`` and ``extracted_from`` joined by commas, ``pinned`` as 0/1, ``access_count``,
``discrete_memory_extracted``, dates as epoch seconds (``created_at``, ``updated_at``,
``last_accessed``, ``persisted_at``, ``event_date``; ISO strings are read too), and a FLOAT32
vector (``vector``; ``embedding`` in 0.12-0.13) from whatever model that AMS used.

Every field is kept except two that remem derives: ``memory_hash`` (remem's own, which its
deduplication reads) and the vector, re-embedded with remem's model unless the user states
that the model is the same (``reuse_vectors``), since vectors of two models cannot be compared.

Each batch: read the hashes, embed the texts, write every memory whose id remem does not have
(``MemoryDocuments.insert_new``, atomic per memory), read the copies back, and only then
delete the AMS hashes whose copy reads back equal (unless ``keep_source``). Killed anywhere, a
run leaves each memory in AMS, in both (the next run finds the copy equal and removes the
source: nothing doubled), or moved. A memory whose id remem already holds with other content
is left in AMS and reported: when unsure, keep both. ``memory_records`` is dropped first
(its hashes kept; its prefixes remembered under ``Keys.ams_migration`` until no AMS
memory is left), unless ``keep_source``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from remem.embeddings.base import Embedder
from remem.errors import EmbeddingMismatch, InvalidInput
from remem.memory.records import to_doc
from remem.models.memory import MemoryRecord
from remem.store.index_admin import drop_index, index_source
from remem.store.keys import LegacyKeys
from remem.store.legacy import LegacySource
from remem.store.longterm.documents import MemoryDocuments
from remem.upkeep.legacy import Skip, epoch_of, invalid, scan_literal

if TYPE_CHECKING:
    from redis.asyncio import Redis

TAG_LISTS = ("topics", "entities", "extracted_from")
DATES = ("created_at", "updated_at", "last_accessed", "persisted_at", "event_date")
VECTOR_FIELDS = (b"vector", b"embedding")  # 0.14-0.15, 0.12-0.13
# What must read back equal before an AMS hash is deleted (access counts move with searches).
CHECKED = (
    "id",
    "text",
    "namespace",
    "user_id",
    "session_id",
    "memory_type",
    "topics",
    "entities",
    "extracted_from",
    "pinned",
    "discrete_memory_extracted",
    "created_at",
    "event_date",
)


@dataclass
class AmsMemoryReport:
    """What the long-term part did (or would do)."""

    index: str | None = None  # the AMS index found
    prefixes: list[str] = field(default_factory=list)
    found: int = 0
    moved: int = 0
    already_present: int = 0  # remem had an equal copy (an interrupted run): source removed
    sources_removed: int = 0
    vanished: int = 0  # deleted by someone else during the run
    index_dropped: bool = False
    vectors: str = "re-embedded"
    seconds: float = 0.0
    skipped: dict[str, str] = field(default_factory=dict)
    left_alone: dict[str, int] = field(default_factory=dict)  # pattern -> keys found

    @property
    def nothing_to_do(self) -> bool:
        return not (self.found or self.index_dropped)

    def lines(self, dry_run: bool) -> list[str]:
        if self.nothing_to_do:
            return []
        verb = "to move" if dry_run else "moved"
        rate = f" in {self.seconds:,.2f} s" if not dry_run and self.moved else ""
        out = [
            f"  AMS long-term memories {verb}: {self.moved:,} of {self.found:,} "
            f"(vectors {self.vectors}){rate}; {self.already_present:,} already in remem"
        ]
        if self.sources_removed:
            out.append(
                f"  AMS memory hashes {'to remove' if dry_run else 'removed'} once their "
                f"copies read back equal: {self.sources_removed:,}"
            )
        if self.index_dropped:
            out.append(f"  AMS index {self.index!r} {'to drop' if dry_run else 'dropped'}")
        return out

    def left_alone_lines(self) -> list[str]:
        return [
            f"  left in place, not used by remem: {n:,} keys {pattern} "
            f"({LegacyKeys.left_alone[pattern]})"
            for pattern, n in self.left_alone.items()
        ]


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "strict")


def _read(key: str, prefixes: Sequence[str], row: dict[bytes, bytes]) -> MemoryRecord:
    """The record of one AMS hash, or Skip with the reason."""
    try:
        fields = {k.decode(): _text(v) for k, v in row.items() if k not in VECTOR_FIELDS}
    except UnicodeDecodeError:
        raise Skip("a field is not UTF-8 text") from None
    if not fields.get("text"):
        raise Skip(f"no text; fields found: {', '.join(sorted(fields)) or 'none'}")
    memory_id = fields.get("id_") or fields.get("id")
    if not memory_id:  # the key: the index's prefix (``memory_idx``), ``:``, the id
        memory_id = next((key[len(p) :] for p in prefixes if key.startswith(p)), key)
        memory_id = memory_id.removeprefix(":")
    now = time.time()
    values: dict[str, Any] = {
        "id": memory_id,
        "text": fields["text"],
        "namespace": fields.get("namespace") or None,
        "user_id": fields.get("user_id") or None,
        "session_id": fields.get("session_id") or None,
        "memory_type": fields.get("memory_type") or "message",  # AMS's own default on read
        "discrete_memory_extracted": fields.get("discrete_memory_extracted") or "f",
        "pinned": (fields.get("pinned") or "0").strip().lower() in ("1", "true"),
    }
    try:
        values["access_count"] = int(float(fields.get("access_count") or 0))
    except ValueError:
        raise Skip(f"unreadable access_count {fields['access_count']!r}") from None
    for name in TAG_LISTS:
        joined = fields.get(name) or ""  # AMS answers [] for none
        values[name] = [v.strip() for v in joined.split(",") if v.strip()]
    for name in DATES:
        raw = fields.get(name)
        required = name in ("created_at", "updated_at", "last_accessed")
        if raw or required:
            at = epoch_of(raw, now)
            values[name] = datetime.fromtimestamp(at, UTC)  # may overflow: caught below
    try:
        return MemoryRecord.model_validate(values)
    except ValidationError as exc:
        raise invalid(exc) from None


def _parse(key: str, prefixes: Sequence[str], row: dict[bytes, bytes]) -> MemoryRecord:
    try:
        return _read(key, prefixes, row)
    except (OverflowError, OSError, ValueError) as exc:  # a date no datetime can hold
        raise Skip(f"unreadable date ({exc})") from None


def _vector_of(row: dict[bytes, bytes], dims: int) -> np.ndarray:
    raw = next((row[f] for f in VECTOR_FIELDS if f in row), None)
    if raw is None or len(raw) != 4 * dims:
        size = "no vector" if raw is None else f"a vector of {len(raw):,} bytes"
        raise Skip(f"--reuse-vectors: {size}, where remem's model needs {dims} FLOAT32 values")
    return np.frombuffer(raw, dtype=np.float32)


def _same(copy: dict[str, Any] | None, doc: dict[str, Any]) -> bool:
    return copy is not None and all(copy.get(n) == doc.get(n) for n in CHECKED)


async def left_alone(source: LegacySource) -> dict[str, int]:
    """How many keys of each AMS kind remem does not take over (kept as they are)."""
    counts = {pattern: await source.count(pattern) for pattern in LegacyKeys.left_alone}
    return {pattern: n for pattern, n in counts.items() if n}


@dataclass
class AmsMemories:
    """One run over the AMS long-term memories of a Redis."""

    redis: Redis  # text replies: index questions
    source: LegacySource  # bytes in and out: the hashes
    documents: MemoryDocuments
    embedder: Embedder
    report: AmsMemoryReport
    dry_run: bool = False
    keep_source: bool = False
    reuse_vectors: bool = False
    batch: int = 256
    progress: Callable[[str], None] = print
    state: str = ""  # Keys.ams_migration

    async def run(self) -> AmsMemoryReport:
        started = time.perf_counter()
        source = await index_source(self.redis, LegacyKeys.memory_index)
        remembered = await self.source.get(self.state)
        if source is not None and source[0] == LegacyKeys.memory_index:  # not an alias of ours
            self.report.index, self.report.prefixes = source
        elif remembered:  # an earlier run dropped the index
            self.report.prefixes = json.loads(remembered)
        else:
            self.report.prefixes = [LegacyKeys.memory_prefix]
        keys = await self._keys()
        self.report.found = len(keys)
        # The index goes first: deleting a hash it indexes costs Redis an HNSW removal (180 us
        # a memory, 60% of the Redis CPU of a migration, measured at 5,000), and AMS itself
        # recreates a missing index, over the hashes left, when it starts.
        if self.report.index and not self.keep_source:
            self.report.index_dropped = True
            if not self.dry_run:
                await self.source.set(self.state, json.dumps(self.report.prefixes))
                await drop_index(self.redis, self.report.index)
        if self.reuse_vectors:
            self.report.vectors = "reused (--reuse-vectors)"
            if keys:  # a model of another size is told before anything is written
                (row,) = await self.source.rows(keys[:1])
                try:
                    _vector_of(row, self.embedder.dimensions)
                except Skip as exc:
                    raise InvalidInput(f"{exc} ({keys[0]}); run without it to re-embed") from None
        # Two batches in flight: while Redis indexes one (its HNSW inserts are most of its
        # work), this process reads, parses and embeds the next: 5,000 memories 1.7 -> 1.3 s.
        chunks = [keys[i : i + self.batch] for i in range(0, len(keys), self.batch)]
        writing: asyncio.Task[int] | None = None
        done = 0
        for chunk in chunks:
            prepared = await self._prepare(chunk)
            if writing is not None:
                done += await writing
                self._progress(done, len(keys), started)
            writing = asyncio.create_task(self._write(prepared, len(chunk)))
        if writing is not None:
            done += await writing
            self._progress(done, len(keys), started)
        if not self.dry_run and not self.report.skipped and not self.keep_source:
            await self.source.delete(self.state)  # nothing left to find
        self.report.seconds = time.perf_counter() - started
        self.report.left_alone = await left_alone(self.source)
        return self.report

    async def _keys(self) -> list[str]:
        found: list[str] = []
        for prefix in self.report.prefixes:
            pattern = scan_literal(prefix) + "*"
            listed = await self.source.keys(pattern, 1000, "hash")
            found += [k.decode(errors="backslashreplace") for k in listed]
        return sorted(dict.fromkeys(found))  # SCAN can repeat keys

    def _progress(self, done: int, total: int, started: float) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        verb = "checked" if self.dry_run else "migrated"
        self.progress(f"{verb} {done:,} / {total:,} AMS long-term memories ({rate:,.0f}/s)")

    async def _prepare(self, keys: list[str]) -> list[tuple[str, dict[str, Any]]]:
        """The remem documents of these AMS keys (what cannot be read is reported)."""
        report = self.report
        rows = await self.source.rows(keys)
        parsed: list[tuple[str, MemoryRecord, dict[bytes, bytes]]] = []
        for key, row in zip(keys, rows, strict=True):
            if not row:
                report.vanished += 1
                continue
            try:
                parsed.append((key, _parse(key, report.prefixes, row), row))
            except Skip as exc:
                report.skipped[key] = str(exc)
        vectors = await self._vectors(parsed)
        docs: list[tuple[str, dict[str, Any]]] = []
        for (key, record, _), vector in zip(parsed, vectors, strict=True):
            if vector is None:
                continue
            try:
                docs.append((key, to_doc(record, vector)))
            except InvalidInput as exc:
                report.skipped[key] = exc.detail
        return docs

    async def _write(self, docs: list[tuple[str, dict[str, Any]]], size: int) -> int:
        """Write, read back, remove the sources; returns ``size`` (keys handled) for progress."""
        report = self.report
        if self.dry_run:
            written = [False] * len(docs)
        else:
            written = await self.documents.insert_new([d for _, d in docs])
        copies = await self.documents.get_fields([d["id"] for _, d in docs], CHECKED)
        removable = []
        for (key, doc), new, copy in zip(docs, written, copies, strict=True):
            if self.dry_run and copy is None:  # would be written, read back, removed
                report.moved += 1
                removable.append(key)
            elif _same(copy, doc):
                report.moved += new
                report.already_present += not new
                removable.append(key)
            elif new:  # written but not read back equal: a fault, keep the source
                report.skipped[key] = f"memory {doc['id']!r} did not read back equal"
            else:
                report.skipped[key] = (
                    f"remem already holds a different memory with id {doc['id']!r}; both kept "
                    "(delete one by hand)"
                )
        if not self.keep_source and removable:
            if not self.dry_run:
                await self.source.delete(*removable)
            report.sources_removed += len(removable)
        return size

    async def _vectors(
        self, parsed: list[tuple[str, MemoryRecord, dict[bytes, bytes]]]
    ) -> list[np.ndarray | None]:
        dims = self.embedder.dimensions
        if self.dry_run and not self.reuse_vectors:  # validated, never stored
            return [np.zeros(dims, dtype=np.float32)] * len(parsed)
        if self.reuse_vectors:
            out: list[np.ndarray | None] = []
            for key, _, row in parsed:
                try:
                    out.append(_vector_of(row, dims))
                except Skip as exc:
                    self.report.skipped[key] = str(exc)
                    out.append(None)
            return out
        texts = [record.text for _, record, _ in parsed]
        if not texts:
            return []
        vectors = np.asarray(await self.embedder.embed_batch(texts), dtype=np.float32)
        if vectors.shape != (len(texts), dims):
            raise EmbeddingMismatch(
                f"the embedder returned shape {vectors.shape} for {len(texts)} texts of {dims} "
                "dimensions"
            )
        return list(vectors)
