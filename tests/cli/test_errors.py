"""Every error of the `remem` command is one line on stderr starting `remem: `, exit code 2 for
a usage error (a bad option value or argument) and 1 for a failure (a missing file, Redis
unreachable, a record not found). The cases a new user hit run as a user runs them
(subprocesses); a sweep gives every command a bad value through typer's CliRunner."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
import typer.main
from typer.testing import CliRunner

from remem.cli import app
from remem.config import Settings
from tests.cli.test_data_commands import MEMORIES, remem
from tests.serving import free_port

USAGE, FAILURE = 2, 1


def one_error(stderr: str, code: int, exit_code: int) -> str:
    """The error line (after any warning the test Redis logs first): the only line saying
    `remem:`, with no traceback and no panel."""
    assert exit_code == code, stderr
    assert "Traceback" not in stderr and "╭" not in stderr, stderr
    said = [line for line in stderr.splitlines() if line.startswith("remem: ")]
    assert len(said) == 1 and stderr.strip().splitlines()[-1] == said[0], stderr
    return said[0]


def run(settings: Settings, *args: str, stdin: str = "", **env: str) -> Any:
    """`remem` as a user runs it, with ``stdin`` piped in."""
    environ = {
        **os.environ,
        "REMEM_REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        **env,
    }
    return subprocess.run(
        [shutil.which("remem") or "remem", *args], env=environ, input=stdin,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


# -- what a new user hit --------------------------------------------------------------------


def test_importing_a_missing_file_is_a_failure(settings: Settings, tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"
    done = remem(settings, "memories", "import", str(missing), check=False)
    line = one_error(done.stderr, FAILURE, done.returncode)
    assert line == f"remem: {missing}: No such file or directory"


async def test_import_reads_an_export_from_stdin(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    """`remem memories export | remem memories import -`; an empty stdin is not an export."""
    r = await client.post("/v1/long-term-memory/", json={"memories": MEMORIES})
    assert r.status_code == 200, r.text
    exported = remem(settings, "memories", "export").stdout
    remem(settings, "memories", "delete", "m1", "m2", "m3")
    done = run(settings, "memories", "import", "-", stdin=exported)
    assert done.returncode == 0, done.stderr
    assert "imported 3 memories" in done.stdout
    assert (await client.get("/v1/long-term-memory/m2")).json()["text"] == MEMORIES[1]["text"]
    empty = run(settings, "memories", "import", "-")
    assert "not a remem export" in one_error(empty.stderr, USAGE, empty.returncode)


def test_an_unknown_search_mode_is_a_usage_error(settings: Settings) -> None:
    done = remem(settings, "memories", "search", "x", "--mode", "fuzzy", check=False)
    line = one_error(done.stderr, USAGE, done.returncode)
    assert "'--mode'" in line and "'fuzzy'" in line and "hybrid" in line


def test_a_data_dir_that_cannot_be_made_is_a_failure(settings: Settings, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    data_dir = tmp_path / "file" / "remem"
    done = remem(
        settings, "memories", "search", "x", "--data-dir", str(data_dir), check=False,
        REMEM_REDIS_URL="",  # the embedded Redis, in that directory
    )  # fmt: skip
    line = one_error(done.stderr, FAILURE, done.returncode)
    assert line.startswith("remem: ") and "Not a directory" in line


def test_an_unreachable_redis_is_a_failure(settings: Settings) -> None:
    url = f"redis://127.0.0.1:{free_port()}"  # nothing listens there
    done = remem(settings, "sessions", "list", "--redis-url", url, check=False)
    assert "Redis unavailable" in one_error(done.stderr, FAILURE, done.returncode)


# -- every command, a bad value -------------------------------------------------------------

# (arguments, exit code, a fragment of the line). Refused as the options are read, before
# anything starts.
BAD_VALUES = [
    (["config", "--json"], USAGE, "No such option: --json"),
    (["doctor", "--redis-url", ""], USAGE, "'--redis-url': empty"),
    (["erase"], USAGE, "name a user_id (--user), a namespace (--namespace), or both"),
    (["erase", "--namespace", ""], USAGE, "namespace must not be empty"),
    (["mcp", "--redis-url", " "], USAGE, "'--redis-url': empty"),
    (["memories", "delete"], USAGE, "Missing argument 'memory_ids'"),
    (["memories", "export", "--user", ""], USAGE, "user id must not be empty"),
    (["memories", "import"], USAGE, "Missing argument 'source'"),
    (["memories", "search", "x", "--limit", "0"], USAGE, "'--limit'"),
    (["memories", "search", "x", "--namespace", ""], USAGE, "namespace must not be empty"),
    (["memories", "show"], USAGE, "Missing argument 'memory_id'"),
    (["migrate", "--batch", "0"], USAGE, "'--batch'"),
    (["reindex", "--batch", "-1"], USAGE, "'--batch'"),
    (["serve", "--port", "0"], USAGE, "'--port'"),
    (["serve", "--auth", "none"], USAGE, "--auth 'none': one of disabled, token, oauth2"),
    (["serve", "--host", ""], USAGE, "'--host': empty"),
    (["sessions", "delete", "s", "--namespace", " n"], USAGE, "must not start or end with"),
    (["sessions", "list", "--user-id", ""], USAGE, "user id must not be empty"),
    (["sessions", "show", "s", "--namespace", ""], USAGE, "namespace must not be empty"),
    (["token", "create"], USAGE, "Missing option '--namespace'"),
    (["token", "list", "--redis-url", ""], USAGE, "'--redis-url': empty"),
    (["token", "revoke"], USAGE, "Missing argument 'token_id'"),
    (["version", "now"], USAGE, "unexpected extra argument(s) (now)"),
    (["worker", "--redis-url", ""], USAGE, "'--redis-url': empty"),
]


def test_the_sweep_covers_every_command() -> None:
    def leaves(command: Any, path: tuple[str, ...]) -> set[tuple[str, ...]]:
        if not hasattr(command, "commands"):
            return {path}
        return set().union(*(leaves(c, (*path, n)) for n, c in command.commands.items()))

    commands = leaves(typer.main.get_command(app), ())
    swept = {c for c in commands for args, *_ in BAD_VALUES if tuple(args[: len(c)]) == c}
    assert swept == commands, commands - swept


@pytest.mark.parametrize(("args", "code", "says"), BAD_VALUES, ids=lambda v: str(v))
def test_a_bad_value_is_one_line(args: list[str], code: int, says: str) -> None:
    done = CliRunner().invoke(app, args, prog_name="remem")
    line = one_error(done.stderr, code, done.exit_code)
    assert says in line, line
    assert not done.stdout


# Refused by the services, as the API refuses the same values: 400s are usage errors, the
# rest failures.
REFUSED = [
    (["token", "create", "--namespace", "n", "--role", "root"], USAGE, "role 'root'"),
    (["token", "create", "--namespace", "n", "--expires-in", "0"], USAGE, "a positive number"),
    (["token", "revoke", "0123456789ab"], FAILURE, "no token '0123456789ab'"),
    (["sessions", "show", "nope"], FAILURE, "Session nope not found"),
    (["memories", "show", "nope"], FAILURE, "nope"),
]


@pytest.mark.parametrize(("args", "code", "says"), REFUSED, ids=lambda v: str(v))
def test_a_refused_request_is_one_line(
    settings: Settings, args: list[str], code: int, says: str
) -> None:
    env = {
        "REMEM_REDIS_URL": settings.redis_url,
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
    }
    done = CliRunner().invoke(app, args, prog_name="remem", env=env)
    assert says in one_error(done.stderr, code, done.exit_code)


# -- an error remem did not foresee ---------------------------------------------------------


def test_an_unforeseen_error_is_one_line_and_debug_shows_its_traceback() -> None:
    """A command of a group of remem's kind failing in a way nothing translates (a bug)."""
    from remem.cli.errors import RememGroup

    buggy = typer.Typer(cls=RememGroup)

    @buggy.callback()
    def _root(debug: bool = typer.Option(False, "--debug")) -> None:
        """The group's options: --debug, as remem's."""

    @buggy.command()
    def fail() -> None:
        raise KeyError("surprise")

    done = CliRunner().invoke(buggy, ["fail"], prog_name="remem")
    line = one_error(done.stderr, FAILURE, done.exit_code)
    assert line == "remem: unexpected error (KeyError: 'surprise'); `remem --debug ...` shows where"
    debugged = CliRunner().invoke(buggy, ["--debug", "fail"], prog_name="remem")
    assert isinstance(debugged.exception, KeyError)
