"""``remem token create | list | revoke``: API tokens, managed on the server's own Redis (as the
other data commands: whoever can run them there could read Redis anyway). Each create and
revoke goes into the audit log as the local admin. A token is printed once, alone on the last
line of ``create``'s output, and never again: only its keyed hash is kept."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from remem.cli.data import _with_resources
from remem.cli.options import DataDir, Json, RedisUrl

token = typer.Typer(
    help="API tokens: create, list and revoke.", no_args_is_help=True, rich_markup_mode="markdown"
)


def _store(res: Any) -> Any:
    from remem.tenants.tokens import token_store

    return token_store(res)


def _when(moment: float | None) -> str:
    if moment is None:
        return "never"
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@token.command("create")
def create(
    namespace: Annotated[
        list[str],
        typer.Option(
            "--namespace",
            help="A namespace the token may use: exact, a prefix ending in `*`, or `*` for "
            "all. Repeat for several.",
        ),
    ],
    user: Annotated[
        str | None, typer.Option("--user", help="Only this user's data (default: any).")
    ] = None,
    role: Annotated[str, typer.Option(help="read, write or admin.")] = "read",
    expires_in: Annotated[
        float | None, typer.Option("--expires-in", help="Days until it expires (default: never).")
    ] = None,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Make a token and print it, once, alone on the last line."""
    from remem.auth import LOCAL_ADMIN

    async def work(res: Any) -> tuple[str, Any]:
        seconds = expires_in * 86_400 if expires_in is not None else None
        secret, info = await _store(res).create(
            namespace, role=role, user_id=user, expires_in_seconds=seconds
        )
        await res.audit.record(
            "token.create",
            LOCAL_ADMIN,
            token_id=info.id,
            namespaces=list(info.namespaces),
            role=info.role,
            user_id=info.user_id,
            expires_at=info.expires_at,
        )
        return secret, info

    secret, info = _with_resources(data_dir, redis_url, work)
    typer.echo(
        f"token {info.id}: namespaces {' '.join(info.namespaces)}, role {info.role}, "
        f"user {info.user_id or '(any)'}, expires {_when(info.expires_at)}"
    )
    typer.echo("Keep it now: it is not stored and cannot be shown again.")
    typer.echo(secret)


@token.command("list")
def list_tokens(
    as_json: Json = False, data_dir: DataDir = None, redis_url: RedisUrl = None
) -> None:
    """Every token's id, status, scope and dates (never a secret: none is stored)."""
    found = _with_resources(data_dir, redis_url, lambda res: _store(res).list())
    if as_json:
        typer.echo(json.dumps([info.as_dict() for info in found], indent=2))
        return
    now = time.time()
    for info in found:
        typer.echo(
            f"{info.id}  {info.status(now):8} {info.role:6} {' '.join(info.namespaces)}  "
            f"user={info.user_id or '*'}  created={_when(info.created_at)}  "
            f"expires={_when(info.expires_at)}"
        )
    typer.echo(f"({len(found):,} token{'' if len(found) == 1 else 's'})")


@token.command("revoke")
def revoke(
    token_id: Annotated[str, typer.Argument(help="The token's id (`remem token list`).")],
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Revoke a token: every server refuses it from now on."""
    from remem.auth import LOCAL_ADMIN

    async def work(res: Any) -> Any:
        from remem.tenants.tokens import revoke_token

        return await revoke_token(res, LOCAL_ADMIN, token_id)

    info = _with_resources(data_dir, redis_url, work)
    typer.echo(f"revoked token {info.id}")
