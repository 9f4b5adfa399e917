"""The task functions, registered with Docket by name (``TASKS``).

A task's arguments are plain strings (a session's parts; a summary view's, task's and scope's
ids); what it works with (the stores, the embedder) is the ``Lifecycle`` the process bound to
the Docket's name when its worker started. Failures of the session tasks are retried with
exponential backoff (a summary view run writes its failure to its task record instead); a task
whose worker died is redelivered by
Docket after the worker's redelivery timeout. Both repeat work safely: promotion keeps the
memories' ids and extraction derives them from the messages, so a repeated run updates what
an earlier one stored instead of adding copies.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from docket import CurrentDocket, CurrentExecution, Docket, Execution, ExponentialRetry

from remem.background.extraction import Extraction
from remem.background.periodic import Maintenance
from remem.background.promotion import Promoter
from remem.background.summarization import NotExtractedYet, SessionChanged, Summarization
from remem.background.summary_views import Scope, SummaryViews
from remem.errors import BackendUnavailable, LLMOutputInvalid
from remem.logs import quiet_expected_retries
from remem.metrics import task_run
from remem.store.failures import TaskFailures
from remem.store.working import Session

Task = Callable[..., Awaitable[Any]]
log = logging.getLogger(__name__)

# 6 attempts 1 s apart doubling to 32 s: a Redis restart or an embedder outage of about a
# minute is ridden out; after that the next write to the session schedules the task again.
RETRY_ATTEMPTS = 6
RETRY_MIN = timedelta(seconds=1)
RETRY_MAX = timedelta(seconds=32)

# Failures the retry is there for, and the level a retried attempt logs them at (no traceback;
# ``remem.logs``): waiting for extraction or for a changing session is the normal order of
# things; Redis, the embedder or the LLM briefly unavailable, or an LLM answer invalid twice,
# is worth a warning. Anything else keeps Docket's ERROR and traceback.
EXPECTED_RETRIES: dict[type[BaseException], int] = {
    NotExtractedYet: logging.INFO,
    SessionChanged: logging.INFO,
    BackendUnavailable: logging.WARNING,  # LLMUnavailable and EmbeddingUnavailable included
    LLMOutputInvalid: logging.WARNING,
}


@dataclass
class Lifecycle:
    """What the tasks of one Docket work with, in this process."""

    promoter: Promoter
    extraction: Extraction
    summarization: Summarization | None = None  # set by Resources once built
    # Schedules the session's next extraction after the debounce (TaskQueue.extract_again).
    extract_again: Callable[[Session], Awaitable[None]] | None = None
    summary_views: SummaryViews | None = None  # set by Resources once built
    maintenance: Maintenance | None = None  # periodic compaction and forgetting
    failures: TaskFailures | None = None  # remem's list of failed runs, set by Resources


_bound: dict[str, Lifecycle] = {}


def bind(docket_name: str, lifecycle: Lifecycle) -> None:
    """Give the tasks of ``docket_name`` their lifecycle in this process, as its worker starts
    (and log the retries it will make as ``EXPECTED_RETRIES`` says)."""
    quiet_expected_retries(EXPECTED_RETRIES)
    _bound[docket_name] = lifecycle


def unbind(docket_name: str) -> None:
    _bound.pop(docket_name, None)


@asynccontextmanager
async def counted(
    kind: str, execution: Execution, docket: Docket, attempts: int = RETRY_ATTEMPTS
) -> AsyncIterator[None]:
    """The run's ``remem_task_*`` metrics (``remem.metrics``), and a failed run in remem's list
    of failures (``store.failures``): the last attempt's whatever it raised, an earlier one's
    unless its exception is an expected wait (``EXPECTED_RETRIES`` below WARNING)."""
    with task_run(kind, attempt=execution.attempt, redelivered=execution.redelivered):
        try:
            yield
        except Exception as exc:
            final = execution.attempt >= attempts
            level = next((v for k, v in EXPECTED_RETRIES.items() if isinstance(exc, k)), None)
            lifecycle = _bound.get(docket.name)
            failures = lifecycle.failures if lifecycle is not None else None
            if failures is not None and (final or level is None or level >= logging.WARNING):
                error = f"{type(exc).__name__}: {str(exc).partition(chr(10))[0]}"
                with contextlib.suppress(Exception):  # the list must not hide the failure
                    await failures.record(
                        execution.key, execution.function_name, error, execution.attempt, final
                    )
            raise


def _lifecycle(docket: Docket) -> Lifecycle:
    try:
        return _bound[docket.name]
    except KeyError:  # a worker runs only once its process bound the Docket
        raise RuntimeError(f"no lifecycle bound to the docket {docket.name!r}") from None


async def promote_memories(
    session_id: str,
    user_id: str | None,
    namespace: str | None,
    docket: Docket = CurrentDocket(),
    retry: ExponentialRetry = ExponentialRetry(RETRY_ATTEMPTS, RETRY_MIN, RETRY_MAX),
    execution: Execution = CurrentExecution(),
) -> int:
    """Move the session's unpersisted structured memories to long-term memory."""
    async with counted("promote", execution, docket):
        return await _lifecycle(docket).promoter.promote(Session(session_id, user_id, namespace))


async def extract_memories(
    session_id: str,
    user_id: str | None,
    namespace: str | None,
    docket: Docket = CurrentDocket(),
    retry: ExponentialRetry = ExponentialRetry(RETRY_ATTEMPTS, RETRY_MIN, RETRY_MAX),
    execution: Execution = CurrentExecution(),
) -> int:
    """Turn the session's messages not yet extracted into long-term memories; if messages
    are left after the run (written during it), schedule the next run. The write marked the
    session due too; both land on the session's one task key and coalesce, and this one does
    not depend on the due set (a safety net that costs a schedule only when messages are left)."""
    session = Session(session_id, user_id, namespace)
    lifecycle = _lifecycle(docket)
    async with counted("extract", execution, docket):
        done = await lifecycle.extraction.run(session)
        if lifecycle.extract_again is not None and await lifecycle.extraction.left(session):
            await lifecycle.extract_again(session)
    return done


async def summarize_working_memory(
    session_id: str,
    user_id: str | None,
    namespace: str | None,
    window: int,
    docket: Docket = CurrentDocket(),
    retry: ExponentialRetry = ExponentialRetry(RETRY_ATTEMPTS, RETRY_MIN, RETRY_MAX),
    execution: Execution = CurrentExecution(),
) -> int:
    """Fold the session's oldest messages into its context once they pass the threshold of
    ``window`` tokens (an LLM failure raises: nothing is written, the retry runs it again)."""
    summarization = _lifecycle(docket).summarization
    if summarization is None:
        raise RuntimeError("summarisation is not set up in this process")
    async with counted("summarize", execution, docket):
        return await summarization.run(Session(session_id, user_id, namespace), window)


def _maintenance(docket: Docket) -> Maintenance:
    maintenance = _lifecycle(docket).maintenance
    if maintenance is None:
        raise RuntimeError("periodic work is not set up in this process")
    return maintenance


# Periodic tasks have no retry: a failed run is logged, and the next interval runs again.
async def compact_memories(
    docket: Docket = CurrentDocket(), execution: Execution = CurrentExecution()
) -> int:
    """Periodic compaction of every namespace; logs the counts, returns memories merged away."""
    async with counted("compact", execution, docket, attempts=1):
        before, after = await _maintenance(docket).compact()
    log.info("periodic compaction: %d memories before, %d after", before, after)
    return before - after


async def forget_memories(
    docket: Docket = CurrentDocket(), execution: Execution = CurrentExecution()
) -> int:
    """Periodic forgetting by the configured policy; logs the counts, returns the deleted."""
    async with counted("forget", execution, docket, attempts=1):
        done = await _maintenance(docket).forget()
    log.info("periodic forgetting: %d memories scanned, %d deleted", done.scanned, done.deleted)
    return done.deleted


async def refresh_summary_view(
    view_id: str,
    task_id: str,
    namespace: str | None,
    user_id: str | None,
    docket: Docket = CurrentDocket(),
    execution: Execution = CurrentExecution(),
) -> None:
    """Summarise every partition of a summary view within the scope, keeping the task record
    (``background.summary_views``) up to date. Not retried: a failure is written to the record."""
    views = _lifecycle(docket).summary_views
    if views is None:
        raise RuntimeError("summary views are not set up in this process")
    async with counted("summary_view", execution, docket, attempts=1):
        await views.run_task(view_id, task_id, Scope(namespace, user_id))


async def refresh_continuous_views(
    docket: Docket = CurrentDocket(), execution: Execution = CurrentExecution()
) -> int:
    """Periodic refresh of every continuous summary view; logs the counts, returns the views
    refreshed."""
    views = _lifecycle(docket).summary_views
    if views is None:
        raise RuntimeError("summary views are not set up in this process")
    async with counted("summary_views", execution, docket, attempts=1):
        refreshed, partitions = await views.refresh_continuous()
    if refreshed:
        log.info(
            "periodic summary views: %d refreshed, %d partitions summarised",
            refreshed, partitions,
        )  # fmt: skip
    return refreshed


TASKS: tuple[Task, ...] = (
    promote_memories,
    extract_memories,
    summarize_working_memory,
    refresh_summary_view,
)
# Due-set member ``periodic:<name>`` -> its task (``tasks.queue``, ``tasks.poller``).
PERIODIC: dict[str, Task] = {
    "compact": compact_memories,
    "forget": forget_memories,
    "views": refresh_continuous_views,
}
