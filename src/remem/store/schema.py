"""Index schemas as data, and the code that makes the live index match them.

Each index is declared once (``IndexSpec``). Its live name carries a hash of the declaration
(``<prefix>idx:<name>:<hash>``) and the stable name callers use is an alias. At start-up
``ensure_index`` builds the index for the current declaration if it is missing, waits until it has
indexed the existing documents, points the alias at it and drops older versions (documents are
kept). A live index whose attributes differ from its declaration is rebuilt, never kept silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from remem.errors import IncompatibleBackend
from remem.store.connection import is_cluster
from remem.store.coordinator import any_node, coordinated
from remem.store.index_admin import index_info
from remem.store.keys import Keys
from remem.store.slots import COORDINATED_TAG, key_slot, primary_tags

log = logging.getLogger(__name__)

# A value separator that cannot occur in ids: ids with control characters are rejected.
TAG_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class FieldSpec:
    path: str
    name: str
    type: str  # TAG | NUMERIC | TEXT | VECTOR
    sortable: bool = False
    options: tuple[str, ...] = ()

    def args(self) -> list[str]:
        out = [self.path, "AS", self.name, self.type]
        if self.type == "TAG":
            out += ["SEPARATOR", TAG_SEPARATOR, "CASESENSITIVE"]
        out += list(self.options)
        if self.sortable:
            out.append("SORTABLE")
        return out


@dataclass(frozen=True)
class IndexSpec:
    name: str
    prefix: str
    fields: tuple[FieldSpec, ...]
    on: str = "JSON"
    extra: tuple[str, ...] = field(default=())

    @property
    def version(self) -> str:
        canon = json.dumps(
            [self.on, self.prefix, self.extra, [f.args() for f in self.fields]], sort_keys=True
        )
        return hashlib.sha256(canon.encode()).hexdigest()[:10]

    def create_args(self, live_name: str) -> list[str]:
        args = [live_name, "ON", self.on, "PREFIX", "1", self.prefix, *self.extra, "SCHEMA"]
        for f in self.fields:
            args += f.args()
        return args


def working_memory_index(keys: Keys, name: str) -> IndexSpec:
    return IndexSpec(
        name=name,
        prefix=keys.working_memory_prefix,
        fields=(
            FieldSpec("$.session_id", "session_id", "TAG"),
            # A cluster primary's index loads no other slot's document: GROUPBY reads SORTABLE.
            FieldSpec("$.namespace", "namespace", "TAG", sortable=keys.cluster),
            FieldSpec("$.user_id", "user_id", "TAG"),
            # The managed API's namespace resource a session is placed in: one that holds a
            # session is not deleted (api.routers.managed.namespaces).
            FieldSpec("$.namespace_id", "namespace_id", "TAG"),
            FieldSpec("$.created_at", "created_at", "NUMERIC", sortable=True),
            FieldSpec("$.updated_at", "updated_at", "NUMERIC", sortable=True),
            # When the key expires (null: never). Listing leaves out what is past it, as Redis
            # reclaims expired keys lazily (store.working._alive).
            FieldSpec("$.expires_at", "expires_at", "NUMERIC"),
        ),
    )


def _live_attributes(info: dict[str, Any]) -> list[tuple[str, str, str, bool]]:
    out = []
    for attr in info.get("attributes", []):
        flags = attr.get("flags", [])
        out.append((attr["identifier"], attr["attribute"], attr["type"], "SORTABLE" in flags))
    return sorted(out)


def _declared_attributes(spec: IndexSpec) -> list[tuple[str, str, str, bool]]:
    return sorted((f.path, f.name, f.type, f.sortable) for f in spec.fields)


async def _wait_indexed(redis: Redis, name: str, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        info = await index_info(redis, name)
        if info is None or float(info.get("percent_indexed", 1)) >= 1.0:
            return
        if loop.time() > deadline:
            log.warning(
                "index %s still indexing after %.0fs; serving partial results", name, timeout
            )
            return
        await asyncio.sleep(0.05)


async def ensure_index(redis: Redis, keys: Keys, spec: IndexSpec, *, timeout: float = 600) -> str:
    """Make the alias ``spec.name`` point at an index matching ``spec``; return the live name (on
    a cluster: ``ensure_on_every_primary``; with a coordinator, one, tagged ``COORDINATED_TAG``)."""
    if coordinated(redis):
        live, tag = keys.index_name(spec.name, spec.version), f":{{{COORDINATED_TAG}}}"
        stale, where = keys.index_name(spec.name, ""), any_node(redis)
        await _ensure(redis, spec, live + tag, spec.name + tag, stale, where, timeout)
        return live + tag
    if is_cluster(redis):
        return (await ensure_on_every_primary(redis, keys, spec, timeout=timeout))[0]
    live = keys.index_name(spec.name, spec.version)
    await _ensure(redis, spec, live, spec.name, keys.index_name(spec.name, ""), {}, timeout)
    return live


async def ensure_on_every_primary(
    redis: Redis, keys: Keys, spec: IndexSpec, *, timeout: float = 600
) -> list[str]:
    """On a Redis Cluster, whose Query Engine has no coordinator (each primary indexes its own
    keys): the index and alias of ``spec`` on every primary, each name ending in the hash tag of
    one of that primary's slots (``slots.primary_tags``: an index name is routed like a key).
    Returns the live names.

    The client keeps how to do it again (``Cluster.reensure``), for when slots move: a primary
    whose name slot moved gets a new index (built from its keys before it is used), and its
    indexes named in slots it still serves but no longer chosen are dropped. One named in a slot
    the primary gave away can no longer be named, so it cannot be dropped: it is left, still
    indexing that primary's keys (docs/architecture.md, "Slots that move")."""
    if isinstance(again := getattr(redis, "reensure", None), dict):
        again[spec.name] = functools.partial(
            ensure_on_every_primary, redis, keys, spec, timeout=timeout
        )
    made = []
    slot_map = redis.nodes_manager  # type: ignore[attr-defined]
    for node, tag in primary_tags(redis).items():
        live = f"{keys.index_name(spec.name, spec.version)}:{{{tag}}}"
        stale = keys.index_name(spec.name, "")
        where = {"target_nodes": redis.get_node(node_name=node)}  # type: ignore[attr-defined]

        def served_here(name: str, node: str = node) -> bool:
            return bool(slot_map.get_node_from_slot(key_slot(name)).name == node)

        alias = f"{spec.name}:{{{tag}}}"
        await _ensure(redis, spec, live, alias, stale, where, timeout, served_here)
        made.append(live)
    return made


async def _ensure(
    redis: Redis,
    spec: IndexSpec,
    live: str,
    alias: str,
    stale_prefix: str,
    where: dict[str, Any],
    timeout: float,
    droppable: Callable[[str], bool] = lambda name: True,
) -> None:
    """The index ``live`` as ``spec`` declares it, ``alias`` pointing at it, and other
    versions (names under ``stale_prefix``, ``droppable``) dropped; ``FT._LIST`` asked
    ``where``."""
    info = await index_info(redis, live)
    if info is not None and _live_attributes(info) != _declared_attributes(spec):
        log.warning("index %s differs from its declaration; rebuilding it", live)
        await redis.execute_command("FT.DROPINDEX", live)
        info = None
    if info is None:
        try:
            await redis.execute_command("FT.CREATE", *spec.create_args(live))
            log.info("created index %s", live)
        except ResponseError as exc:
            if "already exists" not in str(exc).lower():
                raise
    await _wait_indexed(redis, live, timeout)

    holder = await index_info(redis, alias)
    if holder is not None and holder.get("index_name") == alias:
        raise IncompatibleBackend(
            f"an index named {alias!r} that remem did not create exists in this Redis "
            "(the Agent Memory Server's?): run `remem migrate` to move its data over"
        )
    await redis.execute_command("FT.ALIASUPDATE", alias, live)

    for name in await redis.execute_command("FT._LIST", **where):
        if name.startswith(stale_prefix) and name != live and droppable(name):
            log.info("dropping index %s, replaced by %s (documents kept)", name, live)
            with contextlib.suppress(ResponseError):  # another process dropped it first
                await redis.execute_command("FT.DROPINDEX", name)


# -- long-term memory ------------------------------------------------------------------------
REINDEX_HINT = "run `remem reindex` to re-embed the memories with the configured model"


def vector_field(path: str, name: str, dims: int, vector_type: str = "FLOAT16") -> FieldSpec:
    """An HNSW, COSINE vector field of ``dims`` dimensions (FLOAT16: see store.longterm.layout).

    EF_CONSTRUCTION 100 (the engine's default is 200): every write of a memory re-inserts its
    vector, and 100 made ingest about 15% faster; searches ask for 100 neighbours anyway.
    """
    options: tuple[str, ...] = ("HNSW", "8", "TYPE", vector_type, "DIM", str(dims))
    options += ("DISTANCE_METRIC", "COSINE", "EF_CONSTRUCTION", "100")
    return FieldSpec(path, name, "VECTOR", options=options)


# The fields a summary view may group by (models.views.GROUP_FIELDS), SORTABLE on a cluster: a
# primary's GROUPBY reads what its index keeps, not another slot's memory (longterm.groups_cluster)
GROUPABLE = ("namespace", "user_id", "session_id", "memory_type")


def long_term_memory_index(keys: Keys, name: str, dims: int) -> IndexSpec:
    """``long_term_memory_idx``: one HASH per memory under ``<prefix>mem:`` (``layout``)."""
    tags = (
        "id",
        "session_id",
        "user_id",
        "namespace",
        "memory_type",
        "extraction_strategy",
        "memory_hash",
        "pinned",
        "topics",  # TAG_SEPARATOR-joined lists
        "entities",
        "merged_ids",  # ids merged into a memory: where a GET of one of them is sent
        "role",  # remem: who said what a memory was extracted from
        "namespace_id",  # the managed API's namespace resource it is placed in
        "namespace_label_tag",  # the managed API's namespace label, casefolded (longterm.layout)
        "attribute_tags",  # its typed attributes' values (store.longterm.attributes)
    )
    return IndexSpec(
        name=name,
        prefix=keys.memory_prefix,
        on="HASH",
        # No term positions: keyword search never asks for phrases, and without positions
        # RediSearch's BM25 stops dividing a score by how far apart the matched words are.
        extra=("NOOFFSETS",),
        fields=(
            # Keyword search reads the stemmed words of search_text (memory.words.index_terms).
            FieldSpec("search_terms", "search_text", "TEXT", options=("NOSTEM",)),
            *(FieldSpec(t, t, "TAG", sortable=keys.cluster and t in GROUPABLE) for t in tags),
            FieldSpec("created_at", "created_at", "NUMERIC", sortable=True),
            FieldSpec("updated_at", "updated_at", "NUMERIC", sortable=True),
            FieldSpec("last_accessed", "last_accessed", "NUMERIC", sortable=True),
            FieldSpec("event_date", "event_date", "NUMERIC", sortable=True),
            FieldSpec("access_count", "access_count", "NUMERIC"),
            # Facts that change: what a search leaves out (invalid_at passed) or asks as_of.
            FieldSpec("valid_at", "valid_at", "NUMERIC"),
            FieldSpec("invalid_at", "invalid_at", "NUMERIC"),
            vector_field("embedding", "embedding", dims),
        ),
    )


OLD_LAYOUT_HINT = (
    "stored long-term memories are in the JSON layout of earlier remem versions (about 10 KB a "
    "memory; a HASH with a binary vector now takes under 3 KB): run `remem migrate` to convert "
    "them in place"
)


def _vector_dims(info: dict[str, Any]) -> int | None:
    for attr in info.get("attributes", []):
        if attr.get("type") == "VECTOR":
            return int(attr["dim"])
    return None


def _on_json(info: dict[str, Any]) -> bool:
    return str((info.get("index_definition") or {}).get("key_type", "")).upper() == "JSON"


async def check_vector_dims(
    redis: Redis, keys: Keys, spec: IndexSpec, dims: int, alias: str | None = None, **where: Any
) -> None:
    """Refuse to serve when stored memories cannot be searched with this index: kept in the
    old JSON layout (``remem migrate``), or with vectors of another dimension than the
    embedder's (``remem reindex``).

    Looked at, in order: the index the alias points at, every older version of the index, and
    (when no index exists) one stored memory. Building a new index over old vectors would
    leave every memory unindexed, so this raises ``IncompatibleBackend`` instead. On a
    cluster, asked of each primary: its ``alias``, with ``where`` naming it.
    """
    names = [alias or spec.name]
    stale_prefix = keys.index_name(spec.name, "")
    listed = await redis.execute_command("FT._LIST", **where)
    names += [n for n in listed if n.startswith(stale_prefix)]
    seen = False
    for name in names:
        info = await index_info(redis, name)
        if info is None:
            continue
        if _on_json(info) and int(info.get("num_docs", 0)):
            raise IncompatibleBackend(OLD_LAYOUT_HINT)
        seen = True
        live = _vector_dims(info)
        if live is not None and live != dims:
            raise IncompatibleBackend(
                f"index {name!r} holds {live}-dimensional vectors but the embedding model "
                f"gives {dims}: {REINDEX_HINT}"
            )
    if not seen and await _sample_memory(redis, spec, "ReJSON-RL", names[0], where):
        raise IncompatibleBackend(OLD_LAYOUT_HINT)
    for key in await _sample_memory(redis, spec, "hash", names[0], where):
        if not await redis.hexists(key, "search_terms"):
            raise IncompatibleBackend(
                "stored memories predate the keyword index's search_terms field: " + REINDEX_HINT
            )
        if seen:
            return
        size = int(await redis.hstrlen(key, "embedding"))
        stored = size // 2  # FLOAT16
        if size and stored != dims:
            raise IncompatibleBackend(
                f"stored memories have {stored}-dimensional vectors but the embedding model "
                f"gives {dims}: {REINDEX_HINT}"
            )


async def _sample_memory(
    redis: Redis, spec: IndexSpec, kind: str, index: str, where: dict[str, Any]
) -> list[str]:
    """One stored memory's key of Redis type ``kind`` (none when there are none): through the
    index when there is one (hashes only), else by scanning the keyspace (of the node ``where``
    names, on a cluster) until one turns up."""
    if kind == "hash":
        with contextlib.suppress(ResponseError):
            reply = await redis.execute_command(
                "FT.SEARCH", index, "*", "NOCONTENT", "LIMIT", 0, 1, "DIALECT", 2
            )
            return [row["id"] for row in reply.get("results", [])][:1]
    cursor: Any = 0
    while True:
        cursor, found = await redis.scan(
            cursor, match=f"{spec.prefix}*", count=1000, _type=kind, **where
        )
        if isinstance(cursor, dict):  # a cluster client's scan of one node: {node: cursor}
            (cursor,) = cursor.values()
        if found or cursor == 0:
            return [str(k) for k in found[:1]]


async def ensure_long_term_index(
    redis: Redis, keys: Keys, name: str, dims: int, *, timeout: float = 600
) -> str:
    """Check the vector dimension, then ``ensure_index`` the long-term memory index."""
    spec = long_term_memory_index(keys, name, dims)
    if coordinated(redis):  # the one index over the cluster (ensure_index)
        tagged = f"{spec.name}:{{{COORDINATED_TAG}}}"
        await check_vector_dims(redis, keys, spec, dims, tagged, **any_node(redis))
    elif is_cluster(redis):  # each primary's index and memories (ensure_on_every_primary)
        for node, tag in primary_tags(redis).items():
            where = {"target_nodes": redis.get_node(node_name=node)}  # type: ignore[attr-defined]
            await check_vector_dims(redis, keys, spec, dims, f"{spec.name}:{{{tag}}}", **where)
    else:
        await check_vector_dims(redis, keys, spec, dims)
    await _check_listpack(redis, 2 * dims)
    return await ensure_index(redis, keys, spec, timeout=timeout)


async def _check_listpack(redis: Redis, vector_size: int) -> None:
    """Warn when this Redis keeps a memory's hash as a table: 1,000 bytes a memory more than
    as a listpack (store.longterm.layout). A Redis that refuses CONFIG GET is left alone."""
    with contextlib.suppress(ResponseError):
        found = await redis.config_get("hash-max-listpack-value")
        limit = int(found.get("hash-max-listpack-value") or 0)
        if limit < vector_size:
            log.warning(
                "this Redis keeps hashes as listpacks only up to %d-byte values "
                "(hash-max-listpack-value), under a memory's %d-byte vector: each memory takes "
                "about 1 KB more; `CONFIG SET hash-max-listpack-value 4096` (and redis.conf) "
                "avoids it",
                limit,
                vector_size,
            )
