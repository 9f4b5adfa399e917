"""``remem sessions ...`` and ``remem memories ...``: the data, from the command line, through
the same services as the REST API (so the same rules and errors). Human output by default,
``--json`` for scripts; errors on stderr in one line (exit 1), as every remem command."""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Annotated, Any, TypeVar

import typer
from pydantic import BaseModel

from remem.config import Settings
from remem.progress import report

T = TypeVar("T")

sessions = typer.Typer(help="Working memory: list, show and delete sessions.", no_args_is_help=True)
memories = typer.Typer(
    help="Long-term memory: search, show, delete, export and import.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")]
Namespace = Annotated[str | None, typer.Option(help="Namespace.")]
UserId = Annotated[str | None, typer.Option("--user-id", help="User id.")]
DataDir = Annotated[
    Path | None, typer.Option(help="Data directory of the embedded Redis [REMEM_DATA_DIR].")
]
RedisUrl = Annotated[
    str | None, typer.Option(help="Use this Redis instead of the embedded one [REDIS_URL].")
]


def _with_resources(
    data_dir: Path | None, redis_url: str | None, work: Callable[[Any], Awaitable[T]]
) -> T:
    """Run ``work(resources)`` against the configured Redis; a remem error is one line on
    stderr and exit code 1."""
    import asyncio

    from remem.errors import RememError
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

    try:
        return asyncio.run(run())
    except RememError as exc:
        typer.echo(f"remem: {exc.detail}", err=True)
        raise typer.Exit(1) from exc


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
    """Session ids, newest first."""
    found = _with_resources(
        data_dir,
        redis_url,
        lambda res: res.working.list_sessions(
            namespace=namespace,
            user_id=user_id,
            limit=limit,
            offset=offset,
            sort="created_at",
            descending=True,
        ),
    )
    _print(found, as_json, "\n".join([*found.sessions, f"({found.total:,} in all)"]))


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


@memories.command("search")
def search_memories(
    text: Annotated[str, typer.Argument(help="What to look for.")] = "",
    mode: Annotated[str, typer.Option(help="semantic, keyword or hybrid.")] = "hybrid",
    namespace: Namespace = None,
    user_id: UserId = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    as_json: Json = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """The memories most relevant to TEXT (newest first without text)."""
    from remem.models.search import SearchRequest

    body: dict[str, Any] = {"text": text, "search_mode": mode, "limit": limit}
    if namespace:
        body["namespace"] = {"eq": namespace}
    if user_id:
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
        str | None, typer.Option("--user-id", "--user", help="User id (only their memories).")
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
    from remem.tenants.export import export_lines
    from remem.tenants.transfer import Transferred, export_memories

    def run(res: Any) -> Awaitable[Any]:
        async def write(out: IO[str]) -> Transferred:
            if not sessions:
                return await export_memories(
                    res.long_term, out, namespace=namespace, user_id=user_id, progress=report
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
    also = f" and {done.sessions:,} sessions" if sessions else ""
    report(f"exported {done.memories:,} memories{also} in {done.seconds:.1f} s")
    report.end()


def erase(
    user_id: Annotated[
        str | None, typer.Option("--user", "--user-id", help="Erase this user's data.")
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(help="Erase this namespace (with --user: only the user's data in it)."),
    ] = None,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Erase everything of a user (everywhere, or in --namespace) or of a namespace: sessions,
    long-term memories, their access counters and pending tasks. Prints the receipt as JSON;
    the audit log keeps it."""
    from remem.auth import LOCAL_ADMIN
    from remem.tenants.erase import erase as run_erase

    def run(res: Any) -> Awaitable[Any]:
        return run_erase(res, LOCAL_ADMIN, user_id=user_id, namespace=namespace)

    receipt = _with_resources(data_dir, redis_url, run)
    _print(receipt, True, "")


@memories.command("import")
def import_(
    source: Annotated[Path, typer.Argument(help="A file `remem memories export` wrote.")],
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Read memories back from an export: ids and fields kept; vectors kept when the embedding
    model is the same, made again otherwise."""
    from remem.tenants.transfer import import_memories

    def run(res: Any) -> Awaitable[Any]:
        async def go() -> Any:
            with source.open(encoding="utf-8") as lines:
                return await import_memories(res.long_term, lines, progress=report)

        return go()

    done = _with_resources(data_dir, redis_url, run)
    report.end()
    vectors = "embedded again (another model)" if done.reembedded else "kept"
    typer.echo(
        f"imported {done.memories:,} memories in {done.seconds:.1f} s (vectors {vectors}); "
        f"{done.refused:,} refused (id owned by another namespace or user), "
        f"{done.skipped:,} unreadable skipped"
    )
    if done.refused or done.skipped:
        raise typer.Exit(2)
