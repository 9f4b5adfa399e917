"""Every Redis key remem reads or writes is named here.

A working-memory key is ``<prefix>wm:{<namespace>}:<user_id>:<session_id>``. Each part is
percent-encoded, so ``:``, ``{`` and ``}`` inside a value can never be read as a separator, and an
absent part is the empty string (empty values are normalised to "absent" before they get here).
The namespace sits in a hash tag, so in a Redis Cluster every session of one namespace lands on
the same shard as a per-namespace index would.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar
from urllib.parse import quote, unquote

from remem.store.slots import key_slot, slot_tag


@lru_cache(maxsize=1 << 16)  # search results name the same memories again and again
def encode_part(value: str | None) -> str:
    return "" if not value else quote(value, safe="")


@lru_cache(maxsize=1 << 16)
def decode_part(part: str) -> str | None:
    return unquote(part) if part else None


DUE_REGISTRIES = 16  # on a cluster: the shards of the registry of due sets (``due_registry``)
PERIODIC_TAG = "%periodic"  # the due set of periodic work: no percent-encoded namespace is this


@dataclass(frozen=True)
class Keys:
    """``cluster``: name the keys for a Redis Cluster, where what one script or MULTI names
    must share a hash slot (docs/architecture.md, "Which keys share a slot"); a single Redis
    keeps the names it always had."""

    prefix: str = "remem:"
    cluster: bool = False

    @property
    def working_memory_prefix(self) -> str:
        return f"{self.prefix}wm:"

    def working_memory(self, session_id: str, user_id: str | None, namespace: str | None) -> str:
        return (
            f"{self.working_memory_prefix}{{{encode_part(namespace)}}}:"
            f"{encode_part(user_id)}:{encode_part(session_id)}"
        )

    def parse_working_memory(self, key: str) -> tuple[str | None, str | None, str]:
        """(namespace, user_id, session_id) of a working-memory key."""
        rest = key.removeprefix(self.working_memory_prefix)
        tag, _, tail = rest.partition("}:")
        user, _, session = tail.partition(":")
        return decode_part(tag.removeprefix("{")), decode_part(user), unquote(session)

    def managed_namespaces(self, store: str) -> str:
        """The managed API's namespace resources of one store (a hash: id -> JSON record)."""
        return f"{self.prefix}mns:{{{encode_part(store)}}}"

    @property
    def managed_namespaces_pattern(self) -> str:
        """A SCAN pattern matching every store's namespace resources (``managed_namespaces``)."""
        return f"{self.prefix}mns:{{*}}"

    def parse_managed_namespaces(self, key: str) -> str | None:
        """The store of a ``managed_namespaces`` key."""
        return decode_part(key.removeprefix(f"{self.prefix}mns:{{").removesuffix("}"))

    def index_name(self, base: str, version: str) -> str:
        return f"{self.prefix}idx:{base}:{version}"

    @property
    def schema_lock(self) -> str:
        return f"{self.prefix}lock:schema"

    @property
    def long_term_generation(self) -> str:
        """A token every write of a long-term memory replaces (see store.longterm)."""
        return f"{self.prefix}lt:generation"

    @property
    def access_counts(self) -> str:
        """Hash of memory id -> search hits not in its document's ``access_count``."""
        return f"{self.prefix}lt:access_count"

    def long_term_generation_of(self, memory_key: str) -> str:
        """The generation token beside a memory: on a single Redis the one token
        (``long_term_generation``); on a cluster one per namespace, in its slot
        (``lt:generation:{<ns>}``, see ``memory_tag``)."""
        if not self.cluster:
            return self.long_term_generation
        return f"{self.long_term_generation}:{{{self.memory_tag(memory_key)}}}"

    def access_counts_of(self, memory_key: str) -> str:
        """The access-count hash holding a memory's hits: on a single Redis the one hash
        (``access_counts``); on a cluster one per namespace, in its slot, so a script reads
        a memory and its hits together (``lt:access_count:{<ns>}``, see ``memory_tag``)."""
        if not self.cluster:
            return self.access_counts
        return f"{self.access_counts}:{{{self.memory_tag(memory_key)}}}"

    @property
    def ams_migration(self) -> str:
        """The key prefixes of the upstream server's long-term memories that ``remem migrate``
        found, kept while some are left, since it drops the index that named them."""
        return f"{self.prefix}migrate:ams_memory_prefixes"

    @property
    def attribute_tags_backfilled(self) -> str:
        """Set once every long-term memory has its ``attribute_tags`` (written before the field
        existed, a memory has none until ``store.longterm.backfill`` derives them)."""
        return f"{self.prefix}upkeep:attribute_tags"

    @property
    def audit(self) -> str:
        """The audit log: a stream of admin actions, erasures and auth failures."""
        return f"{self.prefix}audit"

    def auth_token(self, digest: str) -> str:
        """One API token's record, named by the HMAC of the token: a check is one lookup.
        The auth keys share the hash tag ``{auth}``, so they sit on one shard of a cluster and
        a token's record and the index change in one transaction."""
        return f"{self.prefix}{{auth}}:token:{digest}"

    @property
    def auth_tokens(self) -> str:
        """Hash of token id -> digest, for ``remem token list`` and ``revoke``."""
        return f"{self.prefix}{{auth}}:tokens"

    @property
    def auth_hash_key(self) -> str:
        """The generated HMAC key of the tokens (when REMEM_TOKEN_HASH_KEY is unset)."""
        return f"{self.prefix}{{auth}}:hash_key"

    @property
    def summary_views(self) -> str:
        """Hash of summary view id -> the view's JSON. On a cluster the views' keys share the
        tag ``{views}``: deleting a view and its summaries is one MULTI."""
        return f"{self.prefix}{{views}}:views" if self.cluster else f"{self.prefix}views"

    def summary_view_results(self, view_id: str) -> str:
        """Hash of partition key -> the partition's summary JSON, for one view."""
        tag = "{views}:" if self.cluster else ""
        return f"{self.prefix}{tag}view:{encode_part(view_id)}:results"

    def task(self, task_id: str) -> str:
        """A task's record (JSON), kept for ``TASK_TTL`` seconds (see store.views)."""
        return f"{self.prefix}task:{encode_part(task_id)}"

    def rate_limit(self, subject: str) -> str:
        """A caller's rate-limit state (``store.ratelimit``), by its principal's subject."""
        return f"{self.prefix}ratelimit:{encode_part(subject)}"

    @property
    def tasks_due(self) -> str:
        """Sorted set of background work due (``store.due``): member ``<kind>:<what>``,
        score the epoch second it is due. It sits beside the task queue's keys (``tasks:``)."""
        return f"{self.prefix}tasks:due"

    @property
    def tasks_due_since(self) -> str:
        """Hash of due-set member -> when its pending batch was first marked (``store.due``):
        the start of the longest a trailing debounce may hold work back."""
        return f"{self.prefix}tasks:due_since"

    def due_tag(self, member: str) -> str:
        """On a cluster: the hash tag of the due set holding ``member`` (``<kind>:<session
        key>``, ``summarize:<window>:<session key>`` or ``periodic:<name>``) in the session's
        slot: its namespace's tag, for a session without one the tag of its key's slot
        (``slots.slot_tag``); ``PERIODIC_TAG`` for periodic work."""
        start = member.find(self.working_memory_prefix + "{")
        if start < 0:
            return PERIODIC_TAG
        tag = member[start + len(self.working_memory_prefix) + 1 : member.index("}", start)]
        # No namespace: an empty tag, so Redis hashes the whole key; the set takes that slot.
        return tag or slot_tag(key_slot(member[start:]))

    def due_set(self, tag: str) -> tuple[str, str]:
        """The due set and its due-since hash: on a single Redis the one pair for everything
        (``tasks_due``, ``tasks_due_since``); on a cluster the pair of the hash tag ``tag``
        (a namespace's, from ``due_tag``), in that namespace's slot beside its sessions."""
        if not self.cluster:
            return self.tasks_due, self.tasks_due_since
        return f"{self.prefix}tasks:due:{{{tag}}}", f"{self.prefix}tasks:due_since:{{{tag}}}"

    def due_set_of(self, member: str) -> tuple[str, str]:
        """``due_set`` of the set holding ``member`` (a session key, or a member naming one)."""
        if not self.cluster:
            return self.tasks_due, self.tasks_due_since
        return self.due_set(self.due_tag(member))

    def due_registry(self, shard: int) -> str:
        """On a cluster: one of ``DUE_REGISTRIES`` sets of the tags whose due set may hold
        members (a tag's shard is ``due_registry_shard``), so pollers find them."""
        return f"{self.prefix}tasks:due_sets:{{d{shard}}}"

    @property
    def task_failures(self) -> str:
        """Stream of the newest failed task runs (``store.failures``), outside Docket's keys."""
        return f"{self.prefix}task_failures"

    @property
    def memory_prefix(self) -> str:
        """Prefix of every long-term memory document."""
        return f"{self.prefix}mem:"

    def memory(self, memory_id: str, namespace: str | None = None) -> str:
        """Key of one long-term memory: ``<prefix>mem:<percent-encoded id>`` on a single
        Redis (``namespace`` unused); on a cluster ``<prefix>mem:{<namespace>}:<id>``, in its
        namespace's slot beside its sessions (docs/architecture.md, "Long-term memories go to
        their namespace's slot"), ``{}`` for none: Redis then hashes the whole key."""
        if not self.cluster:
            return _memory_key(self.prefix, memory_id)
        return f"{self.prefix}mem:{{{encode_part(namespace)}}}:{encode_part(memory_id)}"

    def parse_memory(self, key: str) -> str:
        """The memory id of a key built by ``memory`` (either form: an encoded id never
        holds ``{``)."""
        if key.startswith(f"{self.prefix}mem:{{"):
            return decode_part(key[key.index("}:", len(self.prefix)) + 2 :]) or ""
        return _memory_id(self.prefix, key)

    def memory_tag(self, memory_key: str) -> str:
        """On a cluster: the hash tag of the slot of a memory's key: its namespace's tag; for
        a memory without one (an empty tag, so Redis hashes the whole key) the tag of that
        key's slot (``slots.slot_tag``), so its generation token and access hash share it."""
        start = memory_key.index("{", len(self.prefix))
        tag = memory_key[start + 1 : memory_key.index("}", start)]
        return tag or slot_tag(key_slot(memory_key))


# Searches name the same memories again and again: both directions are cached.
@lru_cache(maxsize=1 << 16)
def _memory_key(prefix: str, memory_id: str) -> str:
    return f"{prefix}mem:{encode_part(memory_id)}"


@lru_cache(maxsize=1 << 16)
def _memory_id(prefix: str, key: str) -> str:
    return decode_part(key.removeprefix(f"{prefix}mem:")) or ""


class LegacyKeys:
    """Key names of the Redis Agent Memory Server (0.9-0.15), read only by the migration."""

    working_memory_pattern = "working_memory:*"
    sessions_pattern = "sessions*"
    # Long-term memories: one HASH each under this prefix, indexed by this index (the
    # defaults of AMS's REDISVL_INDEX_PREFIX and REDISVL_INDEX_NAME; the index names the prefix
    # a deployment really used).
    memory_prefix = "memory_idx"  # keys are memory_idx:<id>
    memory_index = "memory_records"
    # What else AMS leaves in a Redis, which remem does not take over: pattern -> what it is.
    left_alone: ClassVar[dict[str, str]] = {
        "auth_token:*": "AMS API tokens (remem's authentication issues its own)",
        "task:*": "AMS task records",
        "extraction_pending:*": "AMS extraction bookkeeping",
        "extraction_debounce:*": "AMS extraction bookkeeping",
        "messages:*": "message lists of AMS before 0.9 (not migrated: that layout is refused)",
        "context:*": "session summaries of AMS before 0.9 (not migrated)",
        "metadata:*": "session metadata of AMS before 0.9 (not migrated)",
    }

    @staticmethod
    def working_memory(session_id: str, user_id: str | None, namespace: str | None) -> str:
        return ":".join(p for p in ("working_memory", namespace, user_id, session_id) if p)

    @staticmethod
    def sessions(namespace: str | None) -> str:
        return f"sessions:{namespace}" if namespace else "sessions"
