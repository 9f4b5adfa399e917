"""Summary views over long-term memory (the upstream server's ``/v1/summary-views``) and the
records of their background runs (``/v1/tasks``).

A view selects memories by exact ``filters`` (user_id, namespace, session_id, memory_type) and
an optional ``time_window_days``, and partitions them by ``group_by`` (a subset of the same
four fields). A partition's summary is made by ``background.view_summarizers`` (the LLM, or a
deterministic digest without one) and stored; listing partitions reads what was stored.

- ``run_partition``: one partition, synchronously, its memories found with one query
  (filters, group values and scope, escaped by ``store.query``).
- ``start_run``: a ``Task`` record (pending) and a Docket task running ``refresh`` in a worker:
  the partitions are found with one FT.AGGREGATE (memories lacking a group_by field belong to
  none, as upstream), each is summarised and stored, and summaries of partitions that no longer
  have memories are removed; the record goes running, then success or failed with the reason.
  A failed run is not retried (the LLM client already retried 429/5xx): run the view again.
- Every method that reads memories takes a ``Scope`` (namespace, user_id): only memories in it
  are read, and summaries are stored and listed per scope, so a caller narrowed to a scope
  never sees a summary made of memories outside it. The API passes the empty scope for now.

Bounds: a partition summarises at most its ``MAX_PARTITION_MEMORIES`` newest memories, and a
full run at most ``MAX_PARTITIONS`` partitions (the Query Engine's default cap on a result set
is 10,000).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError
from ulid import ULID

from remem.background.view_summarizers import PartitionSummary
from remem.errors import Conflict, InvalidInput, NotFound, RememError
from remem.memory.filters import epoch
from remem.memory.identifiers import check_id
from remem.memory.records import RECORD_FIELDS, read_record
from remem.memory.unreadable import Unreadable
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.views import (
    GROUP_FIELDS,
    CreateSummaryViewRequest,
    SummaryView,
    SummaryViewPartitionResult,
    Task,
    TaskStatusEnum,
    TaskTypeEnum,
)
from remem.store.longterm import LongTermStore
from remem.store.query import Between, Filter, HasValue, TagIn, every
from remem.store.views import ViewStore, partition_key, scope_of

log = logging.getLogger(__name__)

MAX_PARTITION_MEMORIES = 10_000
MAX_PARTITIONS = 10_000
READ_BATCH = 500  # documents read a round trip

# Status changes a task may make; staying in a status is allowed (a redelivered run).
_NEXT: dict[TaskStatusEnum, set[TaskStatusEnum]] = {
    TaskStatusEnum.PENDING: {TaskStatusEnum.RUNNING, TaskStatusEnum.FAILED},
    TaskStatusEnum.RUNNING: {TaskStatusEnum.SUCCESS, TaskStatusEnum.FAILED},
    TaskStatusEnum.SUCCESS: set(),
    TaskStatusEnum.FAILED: set(),
}


class ContinuousRefreshFailed(RuntimeError):
    """Continuous views the periodic refresh could not summarise (each ``<id>: <why>``)."""

    def __init__(self, failed: list[str]) -> None:
        super().__init__(f"continuous summary views not refreshed ({len(failed)}): {failed[0]}")
        self.failed = failed


@dataclass(frozen=True)
class Scope:
    """The memories a caller may read: None is no restriction on that field."""

    namespace: str | None = None
    user_id: str | None = None

    def values(self) -> dict[str, str]:
        return {k: v for k, v in (("namespace", self.namespace), ("user_id", self.user_id)) if v}


Schedule = Callable[[str, str, Scope], Awaitable[None]]
"""Schedules ``refresh`` of (view id, task id, scope) on the task queue."""


def _check_value(field: str, value: object, what: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} {field!r} must be a string, not {type(value).__name__}")
    check_id(f"{what} {field!r}", value)
    if field == "memory_type" and value not in {t.value for t in MemoryTypeEnum}:
        kinds = ", ".join(t.value for t in MemoryTypeEnum)
        raise InvalidInput(f"{what} 'memory_type' must be one of {kinds}, not {value!r}")
    return value


def check_request(request: CreateSummaryViewRequest) -> None:
    """Refuse (InvalidInput, 400) what a view cannot run, with the reason."""
    if request.source != "long_term":
        raise InvalidInput(
            "SummaryView.source must be 'long_term'; 'working_memory' is not supported"
        )
    unknown = sorted({f for f in request.group_by if f not in GROUP_FIELDS})
    if unknown:
        raise InvalidInput(
            f"unsupported group_by fields: {', '.join(unknown)} (use {', '.join(GROUP_FIELDS)})"
        )
    if len(set(request.group_by)) != len(request.group_by):
        raise InvalidInput("group_by names a field more than once")
    unknown = sorted(k for k in request.filters if k not in GROUP_FIELDS)
    if unknown:
        raise InvalidInput(
            f"unsupported filter fields: {', '.join(unknown)} (use {', '.join(GROUP_FIELDS)})"
        )
    for field, value in request.filters.items():
        _check_value(field, value, "filter")


def _read_task(text: str) -> Task:
    return Task.model_validate_json(text)


@dataclass
class SummaryViews:
    views: ViewStore
    memories: LongTermStore
    summary: PartitionSummary
    schedule: Schedule | None = None  # set once the task queue is open

    # -- views -------------------------------------------------------------------------------
    async def create(self, request: CreateSummaryViewRequest) -> SummaryView:
        check_request(request)
        view = SummaryView(id=str(ULID()), **request.model_dump())
        await self.views.save_view(view.id, view.model_dump_json())
        return view

    async def list_views(self) -> list[SummaryView]:
        return [SummaryView.model_validate_json(v) for v in await self.views.list_views()]

    async def get(self, view_id: str) -> SummaryView:
        stored = await self.views.get_view(view_id)
        if stored is None:
            raise NotFound(f"SummaryView {view_id!r} not found")
        return SummaryView.model_validate_json(stored)

    async def delete(self, view_id: str) -> None:
        """Delete the view and every summary stored for it."""
        if not await self.views.delete_view(view_id):
            raise NotFound(f"SummaryView {view_id!r} not found")

    # -- partitions --------------------------------------------------------------------------
    def _query(self, view: SummaryView, group: dict[str, str], scope: Scope) -> Filter:
        # The view's filters, the group and the scope each add clauses (AND): a scope narrows
        # a view, never replaces one of its filters.
        exact = [*view.filters.items(), *group.items(), *scope.values().items()]
        clauses: list[Filter | None] = [TagIn(k, (str(v),)) for k, v in exact]
        if view.time_window_days is not None:
            cutoff = datetime.now(UTC) - timedelta(days=view.time_window_days)
            clauses.append(Between("created_at", low=epoch(cutoff)))
        return every(*clauses)

    async def _memories(self, query: Filter) -> list[MemoryRecord]:
        """The newest ``MAX_PARTITION_MEMORIES`` memories matching ``query``, oldest first."""
        _, newest = await self.memories.index.recent(query, MAX_PARTITION_MEMORIES)
        ids = [hit.id for hit in reversed(newest)]
        out: list[MemoryRecord] = []
        for batch in _batches(ids, READ_BATCH):
            docs = await self.memories.documents.get_fields(batch, RECORD_FIELDS)
            for memory_id, doc in zip(batch, docs, strict=True):
                if doc is None:  # deleted since the query
                    continue
                try:
                    out.append(read_record(doc, memory_id, MemoryRecord))
                except Unreadable as exc:  # one bad record must not fail the view
                    log.warning("summary view skipped a memory: %s", exc.detail)
        out.sort(key=lambda m: (m.created_at, m.id))  # ties in created_at in a stable order
        return out

    async def _summarize(
        self, view: SummaryView, group: dict[str, str], scope: Scope
    ) -> SummaryViewPartitionResult:
        memories = await self._memories(self._query(view, group, scope))
        if memories:
            text = await self.summary.summarize(view, group, memories)
        else:
            text = f"No memories found for group {group!r}."  # upstream's words
        result = SummaryViewPartitionResult(
            view_id=view.id, group=group, summary=text, memory_count=len(memories)
        )
        key = partition_key(scope.values(), group)
        await self.views.save_result(view.id, key, result.model_dump_json())
        return result

    async def run_partition(
        self, view_id: str, group: dict[str, str], scope: Scope = Scope()
    ) -> SummaryViewPartitionResult:
        """Summarise one partition now, store the summary and return it."""
        view = await self.get(view_id)
        if set(group) != set(view.group_by):
            raise InvalidInput(
                f"group keys {sorted(group)} must be exactly the view's group_by "
                f"{sorted(view.group_by)}"
            )
        for field, value in group.items():
            _check_value(field, value, "group value")
        return await self._summarize(view, group, scope)

    async def list_partitions(
        self, view_id: str, group_filter: dict[str, str] | None = None, scope: Scope = Scope()
    ) -> list[SummaryViewPartitionResult]:
        """The stored summaries of the view within ``scope`` whose group has every value of
        ``group_filter``, in partition order. Computes nothing."""
        await self.get(view_id)
        prefix = partition_key(scope.values(), {})  # scope part and its "|"
        wanted = group_filter or {}
        out = []
        for key, text in sorted((await self.views.list_results(view_id)).items()):
            if not key.startswith(prefix):
                continue
            result = SummaryViewPartitionResult.model_validate_json(text)
            if all(result.group.get(k) == v for k, v in wanted.items()):
                out.append(result)
        return out

    async def refresh(self, view: SummaryView, scope: Scope = Scope()) -> int:
        """Summarise every partition of the view within ``scope``; how many there were."""
        query = every(self._query(view, {}, scope), *(HasValue(f) for f in view.group_by))
        groups = await self.memories.index.groups(query, view.group_by, MAX_PARTITIONS)
        if len(groups) == MAX_PARTITIONS:
            log.warning("summary view %s: only the first %d partitions", view.id, MAX_PARTITIONS)
        kept = set()
        for group, _ in groups:
            if view.group_by and not all(group.values()):
                continue  # a memory without a value in a group_by field: in no partition
            await self._summarize(view, group, scope)
            kept.add(partition_key(scope.values(), group))
        prefix = partition_key(scope.values(), {})  # scope part and its "|"
        stale = [
            k
            for k in await self.views.list_results(view.id)
            if k.startswith(prefix) and k not in kept
        ]
        await self.views.delete_results(view.id, stale)
        return len(kept)

    async def refresh_continuous(self) -> tuple[int, int]:
        """Refresh every view created with ``continuous`` whole, as the upstream server's
        periodic task does, over the whole store and within every scope a caller ran it in
        (so a tenant's summaries stay as fresh as the admin's): (views refreshed, partitions
        summarised). A view that fails is logged and the others still run; the run then raises
        ``ContinuousRefreshFailed``, so it is counted and listed as failed."""
        refreshed = partitions = 0
        failed: list[str] = []
        for view in await self.list_views():
            if not view.continuous:
                continue
            try:
                for scope in await self._scopes(view.id):
                    partitions += await self.refresh(view, scope)
            except Exception as exc:
                log.warning("summary view %s: periodic refresh failed: %s", view.id, exc)
                failed.append(f"{view.id}: {exc}")
            else:
                refreshed += 1
        if failed:
            raise ContinuousRefreshFailed(failed)
        return refreshed, partitions

    async def _scopes(self, view_id: str) -> list[Scope]:
        """Every scope ``view_id`` has summaries in, and the whole store (as upstream)."""
        found = {Scope()}
        for key in await self.views.list_results(view_id):
            values = scope_of(key)
            found.add(Scope(values.get("namespace"), values.get("user_id")))
        return sorted(found, key=lambda s: (s.namespace or "", s.user_id or ""))

    # -- tasks -------------------------------------------------------------------------------
    async def start_run(
        self, view_id: str, task_id: str | None = None, scope: Scope = Scope()
    ) -> Task:
        """A pending task record for a full run of the view, and the run scheduled. A task id
        already used for this view returns its record and schedules nothing (a retried request
        must not run twice); one used for another view is a Conflict."""
        await self.get(view_id)
        if task_id is not None:
            check_id("task_id", task_id)
        task = Task(
            id=task_id or str(ULID()),
            type=TaskTypeEnum.SUMMARY_VIEW_FULL_RUN,
            view_id=view_id,
        )
        stored = await self.views.create_task(task.id, task.model_dump_json())
        if stored is not None:
            existing = _read_task(stored)
            if existing.view_id != view_id:
                raise Conflict(f"task {task.id!r} exists for another view")
            return existing
        if self.schedule is None:
            raise RuntimeError("summary views have no task queue")
        try:
            await self.schedule(view_id, task.id, scope)
        except RememError as exc:
            await self.set_status(task.id, TaskStatusEnum.FAILED, error=exc.detail)
            raise
        return task

    async def get_task(self, task_id: str) -> Task:
        stored = await self.views.get_task(task_id)
        if stored is None:
            raise NotFound(f"task {task_id!r} not found")
        return _read_task(stored)

    async def set_status(
        self, task_id: str, status: TaskStatusEnum, *, error: str | None = None
    ) -> Task | None:
        """Move the task to ``status`` (with its time) if the state machine allows it; the
        record afterwards, None when there is none. A refused move changes nothing."""
        at = datetime.now(UTC)

        def change(text: str) -> str | None:
            task = _read_task(text)
            if status == task.status or status not in _NEXT[task.status]:
                return None
            task.status = status
            if status == TaskStatusEnum.RUNNING:
                task.started_at = at
            else:
                task.completed_at = at
                task.error_message = error
            return task.model_dump_json()

        stored = await self.views.update_task(task_id, change)
        return None if stored is None else _read_task(stored)

    async def run_task(self, view_id: str, task_id: str, scope: Scope = Scope()) -> None:
        """The body of the background task: the full run, its record kept up to date."""
        task = await self.set_status(task_id, TaskStatusEnum.RUNNING)
        if task is None or task.status != TaskStatusEnum.RUNNING:
            return  # no record (expired), or already finished: nothing to do
        try:
            view = await self.get(view_id)
            count = await self.refresh(view, scope)
        except (RememError, ValidationError) as exc:
            detail = exc.detail if isinstance(exc, RememError) else str(exc)
            await self.set_status(task_id, TaskStatusEnum.FAILED, error=detail)
            return
        except Exception as exc:
            log.exception("summary view run %s failed", task_id)
            await self.set_status(task_id, TaskStatusEnum.FAILED, error=f"internal error: {exc}")
            raise
        log.info("summary view %s: %d partitions summarised (task %s)", view_id, count, task_id)
        await self.set_status(task_id, TaskStatusEnum.SUCCESS)


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
