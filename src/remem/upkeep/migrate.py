"""``remem migrate``: move the Redis Agent Memory Server's (AMS) working memory into remem's layout.

What it reads, in the same Redis:

* ``working_memory:[<namespace>:][<user_id>:]<session_id>``: one session each, either a STRING
  holding JSON (AMS <= 0.9) or a RedisJSON document (AMS 0.12-0.15), maybe with a TTL. Parts are
  joined by ``:`` and left out when empty, so the key is ambiguous and never parsed: namespace,
  user_id and session_id come from the document (session_id falls back to the key's last part).
  Timestamps are int epoch seconds or ISO strings.
* ``sessions`` and ``sessions:<namespace>``: sorted sets of session ids that AMS never pruned when
  a session expired. Each member is counted live (remem has the session) or dead, then the set
  is deleted.
* ``working_memory_idx``: AMS 0.15's own index over ``working_memory:``, dropped (documents kept)
  so that remem's alias can take the name.
* ``working_memory:migration:complete`` / ``:remaining``: AMS's lazy-migration markers, deleted.

It also converts remem's own long-term memories from the JSON layout of earlier versions to
the HASH layout, in place (``store.longterm.convert``), and builds their index; moves AMS's
long-term memories (``upkeep.ams_memories``) and its summary views with their stored summaries
(``upkeep.ams_views``).

Keys are read and moved a SCAN batch at a time by two Lua scripts; each session's move is atomic:
written to ``Keys.working_memory(...)`` with the remaining TTL unless a remem document is already
there (written since, so newer), then the legacy key deleted. Values that do not validate stay in
place and are reported. Stop the AMS first; running again is safe. Single Redis node only: the
scripts touch keys in many hash slots.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from remem.config import Settings
from remem.errors import InvalidInput
from remem.memory.identifiers import check_id, optional_id
from remem.memory.working import session_document
from remem.models.working import UpdateWorkingMemory
from remem.progress import report as progress_line
from remem.runtime import Resources
from remem.store.connection import backend_errors
from remem.store.index_admin import drop_index, index_source
from remem.store.keys import LegacyKeys
from remem.store.legacy import LegacySource, refuse_cluster
from remem.store.longterm.convert import convert_long_term
from remem.store.schema import ensure_index, ensure_long_term_index, working_memory_index
from remem.upkeep.ams_memories import AmsMemories, AmsMemoryReport
from remem.upkeep.ams_views import AmsViewReport, AmsViews
from remem.upkeep.legacy import Skip, epoch_of, invalid

AMS_INDEX = "working_memory_idx"
AMS_PREFIX = "working_memory:"
AMS_MARKERS = (b"working_memory:migration:complete", b"working_memory:migration:remaining")


@dataclass
class MigrationReport:
    """What a run did (or, with ``dry_run``, would do)."""

    dry_run: bool = False
    strings_moved: int = 0
    json_moved: int = 0
    already_present: int = 0
    expired: int = 0
    skipped: dict[str, str] = field(default_factory=dict)  # legacy key -> reason
    markers_removed: int = 0
    sets_removed: int = 0
    members_live: int = 0
    members_dead: int = 0
    indexes_dropped: list[str] = field(default_factory=list)
    memories_converted: int = 0  # long-term memories moved from the JSON to the HASH layout
    long_term: AmsMemoryReport = field(default_factory=AmsMemoryReport)
    views: AmsViewReport = field(default_factory=AmsViewReport)

    @property
    def nothing_to_do(self) -> bool:
        """True when nothing was (or would be) changed; skipped keys do not count."""
        counts = (self.strings_moved, self.json_moved, self.already_present, self.expired)
        done = (self.markers_removed, self.sets_removed, self.indexes_dropped)
        moved = (self.memories_converted, self.views.found)
        return not any((*counts, *done, *moved)) and self.long_term.nothing_to_do

    def summary(self) -> str:
        head = "remem migrate --dry-run (nothing changed)" if self.dry_run else "remem migrate"
        done, gone = ("to move", "to remove") if self.dry_run else ("moved", "removed")
        lines = [f"{head}: nothing to do" if self.nothing_to_do else f"{head}:"]
        if not self.nothing_to_do:
            lines.append(
                f"  working memory {done}: {self.strings_moved:,} string and {self.json_moved:,} "
                f"JSON documents; {self.already_present:,} already in remem (legacy copy {gone}), "
                f"{self.expired:,} expired meanwhile\n  session sorted sets {gone}: "
                f"{self.sets_removed:,}, with {self.members_live:,} live and "
                f"{self.members_dead:,} dead members (expired sessions AMS still listed)"
            )
            lines += [f"  AMS index {n!r} {gone} (documents kept)" for n in self.indexes_dropped]
            if self.markers_removed:
                lines.append(f"  AMS migration markers {gone}: {self.markers_removed}")
            if self.memories_converted:
                verb = "to convert" if self.dry_run else "converted"
                lines.append(
                    f"  long-term memories {verb} from the JSON to the HASH layout: "
                    f"{self.memories_converted:,}"
                )
            lines += self.long_term.lines(self.dry_run)
            lines += self.views.lines(self.dry_run)
        lines += self.long_term.left_alone_lines()
        if self.skipped:
            lines.append(f"  skipped, left in place: {len(self.skipped):,}")
            lines += [f"    {key}: {why}" for key, why in list(self.skipped.items())[:20]]
        return "\n".join(lines)


def convert(
    key: bytes, value: bytes, now: float
) -> tuple[str, str | None, str | None, dict[str, Any]]:
    """(session_id, user_id, namespace, remem document) of one legacy value, or raise Skip.

    The document is the one ``WorkingMemoryService.put`` writes, with the legacy timestamps.
    """
    try:
        raw = json.loads(value)
    except ValueError as exc:  # bad UTF-8 included
        raise Skip(f"unparseable JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise Skip(f"not a JSON object but {type(raw).__name__}")
    ids = [raw.get(name) for name in ("session_id", "namespace", "user_id")]
    if not all(v is None or isinstance(v, str) for v in ids):
        raise Skip("session_id, namespace and user_id must be strings")
    try:
        session_id = check_id("session_id", ids[0] or key.decode().rsplit(":", 1)[-1])
        # An empty AMS namespace or user id means none (remem refuses "" from clients).
        namespace = optional_id("namespace", ids[1] or None)
        user_id = optional_id("user_id", ids[2] or None)
    except UnicodeDecodeError:
        raise Skip("no session_id in the document and the key is not UTF-8") from None
    except InvalidInput as exc:
        raise Skip(exc.detail) from None
    fields = UpdateWorkingMemory.model_fields
    try:
        body = UpdateWorkingMemory.model_validate(
            {k: v for k, v in raw.items() if k in fields and v is not None}
        )
    except ValidationError as exc:
        raise invalid(exc) from None
    created = epoch_of(raw.get("created_at"), now)
    updated = epoch_of(raw.get("updated_at"), created)
    doc = session_document(
        body,
        session_id=session_id,
        namespace=namespace,
        user_id=user_id,
        created_at=created,
        updated_at=updated,
        last_accessed=epoch_of(raw.get("last_accessed"), updated),
    )
    return session_id, user_id, namespace, doc


async def run_migration(
    settings: Settings,
    *,
    dry_run: bool = False,
    batch: int = 500,
    keep_source: bool = False,
    reuse_vectors: bool = False,
    echo: Callable[[str], None] = print,
    progress: Callable[[str], None] = progress_line,
) -> MigrationReport:
    """Migrate (or with ``dry_run`` only count), print the summary with ``echo``, return it."""
    report = MigrationReport(dry_run=dry_run)
    await refuse_cluster(settings.redis_url, settings.redis_timeout_seconds)
    async with Resources(settings, ensure_indexes=False) as res:
        source = LegacySource.from_url(res.redis_url, settings.redis_timeout_seconds)
        try:
            with backend_errors():
                spec = working_memory_index(res.keys, settings.working_memory_index)
                for name in dict.fromkeys((spec.name, AMS_INDEX)):  # real indexes, not aliases
                    if await index_source(res.redis, name) == (name, [AMS_PREFIX]):
                        report.indexes_dropped.append(name)
                        if not dry_run:
                            await drop_index(res.redis, name)
                if not dry_run:
                    await ensure_index(res.redis, res.keys, spec)
                holder = await index_source(res.redis, spec.name)
                use_index = holder is not None and holder[0] != spec.name  # remem's alias
                run = _Migration(res, source, report, max(1, batch), progress, use_index)
                await run.move_keys()
                await run.check_sets()
                converted, skipped = await convert_long_term(
                    res.redis, res.keys, batch=max(1, batch), dry_run=dry_run, progress=progress
                )
                report.memories_converted = converted
                report.skipped |= skipped
                if not dry_run:
                    index, dims = settings.long_term_memory_index, res.embedder.dimensions
                    await ensure_long_term_index(res.redis, res.keys, index, dims)
                await _long_term_and_views(
                    res, source, report, keep_source, reuse_vectors, batch, progress
                )
        finally:
            await source.close()
    progress_line.end()  # a line redrawn on a terminal ends before the summary
    echo(report.summary())
    return report


async def _long_term_and_views(
    res: Resources,
    source: LegacySource,
    report: MigrationReport,
    keep_source: bool,
    reuse_vectors: bool,
    batch: int,
    progress: Callable[[str], None],
) -> None:
    """AMS's long-term memories, then its summary views, into ``report``."""
    await AmsMemories(
        res.redis,
        source,
        res.long_term.store.documents,
        res.embedder,
        report.long_term,
        dry_run=report.dry_run,
        keep_source=keep_source,
        reuse_vectors=reuse_vectors,
        batch=max(1, min(batch, 256)),
        progress=progress,
        state=res.keys.ams_migration,
    ).run()
    report.skipped |= report.long_term.skipped
    views = res.summary_views.views
    await AmsViews(source, views, report.views, report.dry_run, keep_source).run()
    report.skipped |= report.views.skipped


@dataclass
class _Migration:
    res: Resources
    source: LegacySource
    report: MigrationReport
    batch: int
    progress: Callable[[str], None]
    use_index: bool  # whether remem's index can tell a sorted-set member is live
    sessions: set[tuple[str | None, str]] = field(default_factory=set)  # moved: (ns, id)
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(16))

    async def move_keys(self) -> None:
        keys = await self.source.keys(LegacyKeys.working_memory_pattern, self.batch)
        verb = "checked" if self.report.dry_run else "migrated"
        for start in range(0, len(keys), self.batch):
            await self._move_batch(keys[start : start + self.batch])
            self.progress(f"{verb} {min(start + self.batch, len(keys)):,} / {len(keys):,} keys")

    async def _move_batch(self, keys: list[bytes]) -> None:
        report, now = self.report, time.time()
        replies = await self.source.read_sessions(keys)
        moves: list[tuple[bytes, str, str, bool, tuple[str | None, str]]] = []
        markers: list[bytes] = []
        for key, reply in zip(keys, replies, strict=True):
            kind, name = reply[0].decode(), key.decode(errors="backslashreplace")
            if kind == "none":
                report.expired += 1
            elif kind not in ("string", "ReJSON-RL"):
                report.skipped[name] = f"unexpected Redis type {kind}"
            elif key in AMS_MARKERS and not reply[1].lstrip().startswith(b"{"):
                markers.append(key)
            else:
                try:
                    session_id, user_id, namespace, doc = convert(key, reply[1], now)
                except Skip as exc:
                    report.skipped[name] = str(exc)
                    continue
                new_key = self.res.keys.working_memory(session_id, user_id, namespace)
                moves.append(
                    (key, new_key, json.dumps(doc), kind == "string", (namespace, session_id))
                )
        report.markers_removed += len(markers)
        if report.dry_run:
            there = await self.source.exist([new_key for _, new_key, _, _, _ in moves])
            outcomes = [b"present" if n else b"moved" for n in there]
        else:
            await self.source.delete(*markers)
            pairs = [k for legacy, new_key, _, _, _ in moves for k in (legacy, new_key)]
            outcomes = await self.source.move_sessions(pairs, [m[2] for m in moves])
        for (legacy, _, _, is_string, session), outcome in zip(moves, outcomes, strict=True):
            result = outcome.decode()
            if result == "expired":
                report.expired += 1
            elif result not in ("present", "moved"):
                report.skipped[legacy.decode(errors="backslashreplace")] = (
                    f"Redis refused it: {result}"
                )
            else:
                self.sessions.update((session, (None, session[1])))  # `sessions` matches any
                if result == "present":
                    report.already_present += 1
                elif is_string:
                    report.strings_moved += 1
                else:
                    report.json_moved += 1

    async def check_sets(self) -> None:
        found = await self.source.keys(LegacyKeys.sessions_pattern, self.batch, "zset")
        names = [k for k in found if k == b"sessions" or k.startswith(b"sessions:")]
        shown = 0
        for key in names:
            namespace = key.removeprefix(b"sessions").removeprefix(b":").decode(errors="replace")
            members = await self.source.members(key, self.batch)
            for start in range(0, len(members), self.batch):
                chunk = members[start : start + self.batch]
                live = sum(await asyncio.gather(*(self._live(namespace or None, m) for m in chunk)))
                self.report.members_live += live
                self.report.members_dead += len(chunk) - live
            self.report.sets_removed += 1
            if not self.report.dry_run:
                await self.source.delete(key)
            checked = self.report.members_live + self.report.members_dead
            if checked - shown >= self.batch or key == names[-1]:
                shown = checked
                self.progress(
                    f"checked {checked:,} members of {self.report.sets_removed:,} / "
                    f"{len(names):,} sorted sets"
                )

    async def _live(self, namespace: str | None, member: bytes) -> bool:
        """Whether remem has this session (namespace None: in any namespace)."""
        session_id = member.decode(errors="replace")
        if (namespace, session_id) in self.sessions:
            return True
        if not self.use_index:
            return False
        try:
            check_id("session_id", session_id)
        except InvalidInput:
            return False
        async with self.limit:
            found = await self.res.working.store.find(session_id, namespace, None, limit=1)
        return bool(found)
