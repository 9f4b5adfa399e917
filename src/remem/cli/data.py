"""``remem sessions ...`` and ``remem memories ...``: the data, from the command line, through
the same services as the REST API (so the same rules and errors). Human output by default,
``--json`` for scripts; errors on stderr in one line, as every remem command (``cli.errors``)."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from remem.cli.options import (
    EVERY_USER,
    DataDir,
    Json,
    Namespace,
    RedisUrl,
    UserId,
    scope,
)
from remem.config import Settings
from remem.progress import report

T = TypeVar("T")

# Markdown, so a docstring's lines are one paragraph in the help, wrapped to the terminal.
sessions = typer.Typer(
    help="Working memory: list, show and delete sessions.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
memories = typer.Typer(
    help="Long-term memory: search, show, delete, export and import.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def _with_resources(
    data_dir: Path | None, redis_url: str | None, work: Callable[[Any], Awaitable[T]]
) -> T:
    """Run ``work(resources)`` against the configured Redis (its errors reach the user in one
    line through ``cli.errors``)."""
    from remem.runtime import Resources

    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if redis_url is not None:
        overrides["redis_url"] = redis_url
    settings = Settings(**overrides)  # type: ignore[arg-type]

    async def run() -> T:
        async with Resources(settings) as res:
            return await work(res)

    return asyncio.run(run())


def _print(value: BaseModel | dict[str, Any] | list[Any], as_json: bool, human: str) -> None:
    if as_json:
        data = value.model_dump(mode="json") if isinstance(value, BaseModel) else value
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(human)


# -- sessions -------------------------------------------------------------------------------


@sessions.command("list")
def list_sessions(
    namespace: Namespace = None,
    user_id: UserId = None,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 20,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: Json = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Sessions, newest first: id, namespace and user."""

    async def work(res: Any) -> tuple[Any, list[str]]:
        found = await res.working.list_sessions(
            namespace=namespace,
            user_id=user_id,
            limit=limit,
            offset=offset,
            sort="created_at",
            descending=True,
        )
        if as_json:  # the API's answer, as GET /v1/working-memory/ gives it
            return found, []
        return found, await _session_rows(res, found.sessions, namespace, user_id)

    found, rows = _with_resources(data_dir, redis_url, work)
    _print(found, as_json, "\n".join([*rows, f"({found.total:,} in all)"]))


async def _session_rows(
    res: Any, ids: list[str], namespace: str | None, user_id: str | None
) -> list[str]:
    """A line per listed session naming its namespace and user: the same id may be a session
    in several namespaces or of several users. The listing answers ids only, so each id's
    sessions are found again (``store.find``) and given to its rows newest first, as the
    listing sorts them; an id with sessions beyond this page names each candidate."""
    owners: dict[str, list[str]] = {}
    for session_id in dict.fromkeys(ids):
        found = await res.working.store.find(session_id, namespace, user_id, limit=100)
        if len(found) > 1:
            found = await _newest_first(res, found)
        names = [_owner(session) for session in found]
        if len(names) > ids.count(session_id):  # some on other pages: which is this one's?
            names = [" or ".join(names)] * ids.count(session_id)
        owners[session_id] = names
    # (none found: it expired between the listing and now)
    return [f"{i}  {owners[i].pop(0) if owners[i] else '(gone)'}" for i in ids]


async def _newest_first(res: Any, found: list[Any]) -> list[Any]:
    created: dict[Any, float] = {}
    for session in found:
        doc = await res.working.store.get(session)
        created[session] = float((doc or {}).get("created_at") or 0)
    return sorted(found, key=lambda session: created[session], reverse=True)


def _owner(session: Any) -> str:
    return f"namespace={session.namespace or '(none)'} user={session.user_id or '(none)'}"


@sessions.command("show")
def show_session(
    session_id: str,
    namespace: Namespace = None,
    user_id: UserId = None,
    as_json: Json = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """A session's messages, summary and memories."""
    found = _with_resources(
        data_dir,
        redis_url,
        lambda res: res.working.get(session_id, namespace=namespace, user_id=user_id),
    )
    lines = [f"session {found.session_id} (namespace {found.namespace}, user {found.user_id})"]
    if found.context:
        lines.append(f"summary: {found.context}")
    lines += [f"{m.role}: {m.content}" for m in found.messages]
    lines += [f"memory {m.id}: {m.text}" for m in found.memories]
    _print(found, as_json, "\n".join(lines))


@sessions.command("delete")
def delete_session(
    session_id: str,
    namespace: Namespace = None,
    user_id: UserId = None,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Delete a session (deleting one that does not exist is not an error)."""
    _with_resources(
        data_dir,
        redis_url,
        lambda res: res.working.delete(session_id, namespace=namespace, user_id=user_id),
    )
    typer.echo(f"deleted session {session_id}")


# -- memories -------------------------------------------------------------------------------


class SearchMode(StrEnum):
    semantic = "semantic"
    keyword = "keyword"
    hybrid = "hybrid"


@memories.command("search")
def search_memories(
    text: Annotated[str, typer.Argument(help="What to look for.")] = "",
    mode: Annotated[SearchMode, typer.Option(help="How to rank.")] = SearchMode.hybrid,
    namespace: Namespace = None,
    user_id: UserId = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: Json = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """The memories most relevant to TEXT (newest first without text)."""
    from remem.models.search import SearchRequest

    body: dict[str, Any] = {"text": text, "search_mode": mode.value, "limit": limit}
    if namespace is not None:
        body["namespace"] = {"eq": namespace}
    if user_id is not None:
        body["user_id"] = {"eq": user_id}
    found = _with_resources(
        data_dir, redis_url, lambda res: res.long_term.search(SearchRequest.model_validate(body))
    )
    lines = [
        f"{m.id}  {m.score if m.score is not None else m.dist:.3f}  {m.text}"
        for m in found.memories
    ]
    _print(found, as_json, "\n".join([*lines, f"({found.total:,} found)"]))


@memories.command("show")
def show_memory(
    memory_id: str, as_json: Json = False, data_dir: DataDir = None, redis_url: RedisUrl = None
) -> None:
    """One memory with every field."""
    found = _with_resources(data_dir, redis_url, lambda res: res.long_term.get(memory_id))
    human = "\n".join(f"{k}: {v}" for k, v in found.model_dump(mode="json").items())
    _print(found, as_json, human)


@memories.command("delete")
def delete_memories(
    memory_ids: Annotated[list[str], typer.Argument(help="Ids of the memories to delete.")],
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Delete memories by id."""
    count = _with_resources(data_dir, redis_url, lambda res: res.long_term.delete(memory_ids))
    typer.echo(f"deleted {count} memories")


@memories.command("export")
def export(
    namespace: Namespace = None,
    user_id: Annotated[
        str | None,
        typer.Option(
            "--user-id",
            "--user",
            help="User id (only their memories).",
            callback=scope("user id", EVERY_USER),
        ),
    ] = None,
    sessions: Annotated[
        bool,
        typer.Option(
            "--sessions",
            help="Also the working-memory sessions of --user / --namespace, as lines of "
            '"kind": "working_memory" (what GET /v1/export streams; import passes over them).',
        ),
    ] = False,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write to this file, not stdout.")
    ] = None,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Write memories as JSON Lines (all, or a namespace's / a user's), streamed."""
    from remem.auth import LOCAL_ADMIN, guard
    from remem.store.namespace_tree import NamespaceTree
    from remem.tenants.export import export_lines
    from remem.tenants.transfer import Transferred, export_memories

    def run(res: Any) -> Awaitable[Any]:
        async def write(out: IO[str]) -> Transferred:
            if not sessions:
                scope = {"namespace": namespace, "user_id": user_id}
                trees = NamespaceTree(res.redis, res.keys)
                return await export_memories(
                    res.long_term, out, **scope, progress=report, trees=trees
                )
            done = Transferred()
            user, ns = guard.export(user_id, namespace, LOCAL_ADMIN)
            async for line in export_lines(
                res, LOCAL_ADMIN, user_id=user, namespace=ns, done=done, progress=report
            ):
                out.write(line)
            return done

        async def go() -> Any:
            if output is None:
                return await write(sys.stdout)
            with output.open("w", encoding="utf-8") as out:
                return await write(out)

        return go()

    done = _with_resources(data_dir, redis_url, run)
    report(_exported(done, sessions))
    report.end()


def _exported(done: Any, sessions: bool) -> str:
    also = f" and {done.sessions:,} sessions" if sessions else ""
    if done.managed_namespaces:
        also += f" and {done.managed_namespaces:,} managed API namespaces"
    return f"exported {done.memories:,} memories{also} in {done.seconds:.1f} s"


@memories.command("import")
def import_(
    source: Annotated[
        Path,
        typer.Argument(help="A file `remem memories export` wrote, or - to read it from stdin."),
    ],
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Read memories back from an export: ids and fields kept; vectors kept when the embedding
    model is the same, made again otherwise."""
    from remem.store.namespace_tree import NamespaceTree
    from remem.tenants.transfer import import_memories

    # Opened before anything starts: a missing file is a failure (exit code 1) at once.
    lines = sys.stdin if str(source) == "-" else source.open(encoding="utf-8")

    def run(res: Any) -> Awaitable[Any]:
        trees = NamespaceTree(res.redis, res.keys)
        return import_memories(res.long_term, lines, progress=report, trees=trees)

    try:
        done = _with_resources(data_dir, redis_url, run)
    finally:
        if lines is not sys.stdin:
            lines.close()
    report.end()
    vectors = "embedded again (another model)" if done.reembedded else "kept"
    typer.echo(
        f"imported {done.memories:,} memories in {done.seconds:.1f} s (vectors {vectors}) "
        f"and {done.managed_namespaces:,} managed API namespaces; "
        f"{done.refused:,} refused (id owned by another namespace or user), "
        f"{done.skipped:,} unreadable skipped"
    )
    if done.refused or done.skipped:
        raise typer.Exit(2)
