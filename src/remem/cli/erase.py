"""``remem erase``: everything of a user or a namespace, through the same operation as
``POST /v1/erasures`` (as the local admin, into the same audit log). It asks first, showing
what it will erase counted now, since nothing brings the data back; ``--yes`` answers for a
script, and without a terminal to ask on it is required."""

from __future__ import annotations

import asyncio
import sys
from typing import Annotated, Any

import typer

from remem.cli.data import _print, _with_resources
from remem.cli.errors import CliError, UsageError
from remem.cli.options import DataDir, RedisUrl, scope


def erase(
    user_id: Annotated[
        str | None,
        typer.Option(
            "--user",
            "--user-id",
            help="Erase this user's data.",
            callback=scope("user id", "name the user to erase"),
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            help="Erase this namespace (with --user: only the user's data in it).",
            callback=scope("namespace", "name the namespace to erase"),
        ),
    ] = None,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes", "-y", help="Erase without asking (needed when stdin is not a terminal)."
        ),
    ] = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Erase everything of a user (everywhere, or in --namespace) or of a namespace: sessions,
    long-term memories, their access counters and pending tasks. Asks first, showing what it
    will erase (--yes: does not). Prints the receipt as JSON; the audit log keeps it."""
    from remem.auth import LOCAL_ADMIN
    from remem.tenants.erase import erase as run_erase

    if user_id is None and namespace is None:
        raise UsageError("name a user_id (--user), a namespace (--namespace), or both")
    if not yes and not sys.stdin.isatty():
        raise UsageError("erase asks before erasing, and stdin is not a terminal: add --yes")

    async def run(res: Any) -> Any:
        if not yes:
            what = await _erasing(res, user_id, namespace)
            asked = f"Erase {what}? This cannot be undone"
            if not await asyncio.to_thread(typer.confirm, asked, default=False):
                raise CliError("nothing erased")
        return await run_erase(res, LOCAL_ADMIN, user_id=user_id, namespace=namespace)

    receipt = _with_resources(data_dir, redis_url, run)
    _print(receipt, True, "")


async def _erasing(res: Any, user_id: str | None, namespace: str | None) -> str:
    """What an erase of this user and/or namespace would remove, counted now."""
    from remem.models.search import SearchRequest

    listed = await res.working.list_sessions(
        namespace=namespace,
        user_id=user_id,
        limit=0,
        offset=0,
        sort="created_at",
        descending=True,
    )
    body: dict[str, Any] = {"text": "", "limit": 1}
    if namespace is not None:
        body["namespace"] = {"eq": namespace}
    if user_id is not None:
        body["user_id"] = {"eq": user_id}
    found = await res.long_term.search(SearchRequest.model_validate(body))
    who = f"user {user_id!r}" if user_id is not None else f"namespace {namespace!r}"
    if user_id is not None:
        who += f" in namespace {namespace!r}" if namespace is not None else " (every namespace)"
    return (
        f"everything of {who}: {_count(listed.total, 'session')} and "
        f"{_count(found.total, 'long-term memory', 'long-term memories')}, with their access "
        "counters and pending tasks"
    )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else many or one + 's'}"
