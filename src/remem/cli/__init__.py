"""The ``remem`` command: serve, worker, mcp, migrate, reindex, config, doctor, sessions,
memories, token."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from remem.cli import data, erase, tokens
from remem.cli.errors import CliError, RememGroup, UsageError, say, translate
from remem.cli.options import DataDir, RedisUrl, given
from remem.config import Settings
from remem.errors import RememError
from remem.logs import configure as configure_logging

# Markdown, so a docstring's lines are one paragraph in the help, wrapped to the terminal.
app = typer.Typer(
    cls=RememGroup,
    help="remem: memory for AI agents on Redis.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(data.sessions, name="sessions")
app.add_typer(data.memories, name="memories")
app.add_typer(tokens.token, name="token")
app.command("erase")(erase.erase)


def _print_version(value: bool) -> None:
    if value:
        from remem import __version__

        typer.echo(f"remem {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug", help="On an unexpected error, show its traceback (to report a bug)."
        ),
    ] = False,
) -> None:
    """remem: memory for AI agents on Redis."""


def _settings(data_dir: Path | None, redis_url: str | None) -> Settings:
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if redis_url is not None:
        overrides["redis_url"] = redis_url
    return Settings(**overrides)  # type: ignore[arg-type]


@app.command()
def serve(
    host: Annotated[
        str | None,
        typer.Option(
            help="Address [REMEM_HOST, 127.0.0.1].",
            callback=given("leave the option out for REMEM_HOST or 127.0.0.1"),
        ),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port [REMEM_PORT, 8000].", min=1, max=65535)
    ] = None,
    workers: Annotated[int, typer.Option(help="Server processes sharing one Redis.", min=1)] = 1,
    no_worker: Annotated[
        bool,
        typer.Option(
            "--no-worker",
            help="Run no background tasks here: leave them to `remem worker` processes "
            "[REMEM_RUN_WORKER=false].",
        ),
    ] = False,
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth",
            help="disabled, token (API tokens: `remem token create`) or oauth2 (JWTs) "
            "[REMEM_AUTH_MODE, disabled]. Disabled refuses a non-loopback --host unless "
            "REMEM_ALLOW_REMOTE_WITHOUT_AUTH=true.",
        ),
    ] = None,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Serve the REST API (starting an embedded Redis unless REDIS_URL is set), running
    background tasks in-process unless --no-worker."""
    from remem.auth.modes import check_auth_settings, check_bind
    from remem.cli import serving

    if no_worker:  # the server processes build their settings from the environment
        os.environ["REMEM_RUN_WORKER"] = "false"
    if auth is not None:
        if auth not in ("disabled", "token", "oauth2"):
            raise UsageError(f"--auth {auth!r}: one of disabled, token, oauth2")
        os.environ["REMEM_AUTH_MODE"] = auth
    settings = _settings(data_dir, redis_url)
    configure_logging(settings.log_level, settings.log_format)
    try:  # before anything starts: a server must not run less protected than asked
        check_auth_settings(settings)
        check_bind(settings, host or settings.host)
    except RememError as exc:  # a refusal of the setup as a whole: a failure, not usage
        raise CliError(exc.detail) from exc
    if settings.redis_url:  # say plainly, before any server starts, if this Redis won't do
        _run(_preflight(settings))
    # Worker processes rebuild the settings from the environment.
    os.environ["REMEM_DATA_DIR"] = str(settings.data_dir)
    if settings.redis_url:
        os.environ["REMEM_REDIS_URL"] = settings.redis_url
    address = (host or settings.host, port or settings.port)
    serving.run(*address, workers, settings.log_level, settings.log_format)


@app.command()
def worker(data_dir: DataDir = None, redis_url: RedisUrl = None) -> None:
    """Run background tasks (promotion, extraction) for the servers sharing this Redis; run
    as many as wanted."""
    from remem.runtime import run_worker

    settings = _settings(data_dir, redis_url)
    configure_logging(settings.log_level, settings.log_format)
    _run(run_worker(settings))


@app.command()
def migrate(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, change nothing.")] = False,
    batch: Annotated[int, typer.Option(help="Keys per SCAN batch.", min=1)] = 500,
    keep_source: Annotated[
        bool,
        typer.Option(
            "--keep-source",
            help="Keep the Agent Memory Server's long-term memories, their index and its "
            "summary views after copying them (to go back to it).",
        ),
    ] = False,
    reuse_vectors: Annotated[
        bool,
        typer.Option(
            "--reuse-vectors",
            help="Keep the Agent Memory Server's vectors instead of re-embedding: only when "
            "it used the very model remem is configured with.",
        ),
    ] = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Move the Agent Memory Server's data into remem: working memory (string or JSON keys
    and the `sessions` sorted sets), long-term memories (re-embedded with remem's model) and
    summary views with their summaries; convert long-term memories stored as JSON by earlier
    remem versions to hashes in place. Idempotent; safe to re-run, and to run again after an
    interruption."""
    from remem.upkeep.migrate import run_migration

    settings = _settings(data_dir, redis_url)
    _run(
        run_migration(
            settings,
            dry_run=dry_run,
            batch=batch,
            keep_source=keep_source,
            reuse_vectors=reuse_vectors,
        )
    )


@app.command()
def mcp(
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Serve the MCP tools over stdio (for Claude Desktop, Cursor, VS Code...): the same
    memories as `remem serve`, whose HTTP server also answers MCP at /mcp."""
    settings = _settings(data_dir, redis_url)
    # On stderr: stdout carries the protocol.
    configure_logging(settings.log_level, settings.log_format)
    try:
        _run(_serve_mcp_stdio(settings))
    except RememError as exc:
        # Stopped by a refusal (REMEM_MCP_TOKEN revoked or expired): the SDK's thread reading
        # stdin is still blocked in read() and would keep the process alive; everything else
        # has been closed by now.
        error = translate(exc)
        say(error.message)
        sys.stderr.flush()
        os._exit(error.exit_code)


async def _serve_mcp_stdio(settings: Settings) -> None:
    from remem.auth import LOCAL_ADMIN
    from remem.auth.context import acting_as
    from remem.mcp.server import build_server
    from remem.runtime import Resources

    async with Resources(settings) as res:
        server = build_server(
            lambda: res,
            default_namespace=settings.mcp_default_namespace,
            default_user_id=settings.mcp_default_user_id,
        )
        # The local admin by default (the process runs as whoever started it); with
        # REMEM_MCP_TOKEN, that token's principal, for as long as the token holds.
        if settings.mcp_token is None:
            with acting_as(LOCAL_ADMIN):
                await server.run_stdio_async()
            return
        from remem.auth.tokens import TokenStore, watch

        key = settings.token_hash_key
        store = TokenStore(res.redis, res.keys, key.get_secret_value() if key else None)
        token = settings.mcp_token.get_secret_value()
        with acting_as((await store.check(token)).principal()):
            serving = asyncio.create_task(server.run_stdio_async())
            watching = asyncio.create_task(watch(store, token))
            done, _ = await asyncio.wait({serving, watching}, return_when="FIRST_COMPLETED")
            for task in (serving, watching):
                task.cancel()
            for task in done:
                task.result()  # the watcher's Unauthenticated: "token ... was revoked"


@app.command()
def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Check that this setup can serve (Redis and its modules, the embedding model, the
    indexes, the LLM) and say how to fix what cannot. Exit code: the number of failures."""
    import dataclasses
    import json

    from remem.cli.doctor import diagnose

    checks = asyncio.run(diagnose(_settings(data_dir, redis_url)))
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    else:
        for check in checks:
            typer.echo(check.line())
    raise typer.Exit(sum(c.failed for c in checks))


@app.command()
def version() -> None:
    """Print remem's version."""
    _print_version(True)


@app.command()
def reindex(
    batch: Annotated[int, typer.Option(help="Memories per embedding batch.", min=1)] = 256,
    data_dir: DataDir = None,
    redis_url: RedisUrl = None,
) -> None:
    """Re-embed every long-term memory with the configured embedding model and rebuild the
    index (after changing REMEM_EMBEDDING_PROVIDER / model)."""
    from remem.upkeep.reindex import run_reindex

    _run(run_reindex(_settings(data_dir, redis_url), batch=batch))


@app.command("config")
def show_config() -> None:
    """Print the configuration variables as a Markdown table."""
    from remem.config import settings_table

    typer.echo(settings_table())


async def _preflight(settings: Settings) -> None:
    from remem.store.connection import check_modules, open_redis

    redis = await open_redis(
        settings.redis_url or "",
        timeout=settings.redis_timeout_seconds,
        max_connections=2,
        coordinator=settings.coordinator,
    )
    try:
        await check_modules(redis)
    finally:
        await redis.aclose()


def _run(coro: object) -> None:
    """Run a command's work; its errors reach the user through ``cli.errors``."""
    asyncio.run(coro)  # type: ignore[arg-type]


def main() -> None:
    app()
