"""Token mode over real HTTP, with tokens made by `remem token create` (a user's process), and
revoked by `remem token revoke` (another process) while the server runs."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time

import httpx
import pytest

from remem.api.app import create_app
from remem.auth.bearer import FailureLog
from remem.config import Settings
from remem.runtime import Resources
from tests.cli.test_data_commands import remem
from tests.serving import served

SESSIONS = "/v1/working-memory/"


@pytest.fixture
def token_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"auth_mode": "token"})


def create_token(settings: Settings, *args: str) -> str:
    done = remem(settings, "token", "create", *args)
    return done.stdout.strip().splitlines()[-1]


async def test_a_token_from_the_cli_is_the_key_and_its_revocation_holds_at_once(
    token_settings: Settings,
) -> None:
    token = create_token(token_settings, "--namespace", "acme", "--role", "write")
    assert token.startswith("rmm_") and " " not in token
    async with served(create_app(token_settings)) as url, httpx.AsyncClient(base_url=url) as http:
        ok = await http.get(SESSIONS, headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        # Another process revokes it; the very next request, on this already-warm server, fails.
        token_id = token[4:16]
        remem(token_settings, "token", "revoke", token_id)
        refused = await http.get(SESSIONS, headers={"Authorization": f"Bearer {token}"})
        assert refused.status_code == 401
        assert refused.json() == {
            "detail": f"token {token_id} was revoked",
            "code": "unauthenticated",
        }


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing credentials"),
        ("Basic dXNlcjpwYXNz", "only the Bearer scheme"),
        ("Bearer", "Bearer then one credential"),
        ("Bearer a b", "Bearer then one credential"),
        ("Bearer not-a-token", "not a remem API token"),
        ("Bearer rmm_0123456789ab_" + "x" * 43, "unknown token 0123456789ab"),
    ],
)
async def test_requests_without_a_good_token_get_401_saying_why(
    token_settings: Settings, header: str | None, reason: str
) -> None:
    headers = {"Authorization": header} if header is not None else {}
    async with served(create_app(token_settings)) as url, httpx.AsyncClient(base_url=url) as http:
        answer = await http.get(SESSIONS, headers=headers)
        assert answer.status_code == 401
        assert reason in answer.json()["detail"]
        assert answer.headers["www-authenticate"] == "Bearer"
        # Open paths stay open: health holds no memory.
        assert (await http.get("/v1/health", headers=headers)).status_code == 200


async def test_auth_failures_are_audited_with_the_token_id_never_the_secret(
    token_settings: Settings,
) -> None:
    token = create_token(token_settings, "--namespace", "n")
    remem(token_settings, "token", "revoke", token[4:16])
    app = create_app(token_settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        await http.get(SESSIONS, headers={"Authorization": f"Bearer {token}"})
        await http.get(SESSIONS)
        entries = await app.state.resources.audit.entries(10)
    failures = [e for e in entries if e["action"] == "auth.failure"]
    assert [e["details"]["reason"] for e in failures] == [
        "missing credentials: send Authorization: Bearer <token>",
        f"token {token[4:16]} was revoked",
    ]
    assert failures[1]["details"]["token_id"] == token[4:16]
    assert all(e["caller"] == "anonymous" and e["outcome"] == "refused" for e in failures)
    assert token[17:] not in json.dumps(entries)
    actions = [e["action"] for e in entries]
    assert "token.create" in actions and "token.revoke" in actions  # the CLI's, as local admin
    created = next(e for e in entries if e["action"] == "token.create")
    assert created["caller"] == "local" and created["details"]["namespaces"] == ["n"]


async def test_a_flood_of_bad_tokens_writes_a_bounded_audit(resources: Resources) -> None:
    """At most the burst (50) plus 20 a second; the next entry counts those left out."""
    failures = FailureLog(lambda: resources)
    started = time.monotonic()
    for _ in range(500):
        await failures.refused("unknown token", "rmm_0123456789ab_x", "token")
    elapsed = time.monotonic() - started
    written = len(await resources.audit.entries(1000))
    assert 50 <= written <= 50 + elapsed * 20 + 1
    await asyncio.sleep(0.1)
    await failures.refused("unknown token", None, "token")
    last = (await resources.audit.entries(1))[0]["details"]
    assert last["suppressed"] == 500 - written and "token_id" not in last


async def test_token_list_never_prints_a_secret(token_settings: Settings) -> None:
    one = create_token(token_settings, "--namespace", "a", "--namespace", "b/*", "--user", "ada")
    two = create_token(token_settings, "--namespace", "*", "--role", "admin", "--expires-in", "2")
    remem(token_settings, "token", "revoke", two[4:16])
    human = remem(token_settings, "token", "list").stdout
    listed = json.loads(remem(token_settings, "token", "list", "--json").stdout)
    for token in (one, two):
        secret = token[17:]
        assert secret not in human and secret not in json.dumps(listed)
    assert [(t["id"], t["status"], t["namespaces"], t["user_id"], t["role"]) for t in listed] == [
        (one[4:16], "active", ["a", "b/*"], "ada", "read"),
        (two[4:16], "revoked", ["*"], None, "admin"),
    ]
    assert listed[1]["expires_at"] - listed[1]["created_at"] == pytest.approx(2 * 86_400)
    assert "(2 tokens)" in human


def test_the_cli_refuses_bad_token_requests_in_one_line(token_settings: Settings) -> None:
    done = remem(
        token_settings, "token", "create", "--namespace", "n", "--role", "root", check=False
    )
    # One line saying why, and no traceback (a Redis with small listpack settings, as CI's
    # TCP pass starts, adds its own warning line before it).
    assert done.returncode == 2 and "Traceback" not in done.stderr  # a bad option value
    assert done.stderr.strip().splitlines()[-1].startswith("remem: role 'root'")
    done = remem(token_settings, "token", "revoke", "0123456789ab", check=False)
    assert done.returncode == 1 and "no token '0123456789ab'" in done.stderr


async def test_stdio_mcp_refuses_a_revoked_token(
    token_settings: Settings, resources: Resources
) -> None:
    token = create_token(token_settings, "--namespace", "n")
    remem(token_settings, "token", "revoke", token[4:16])
    done = remem(token_settings, "mcp", check=False, REMEM_MCP_TOKEN=token)
    assert done.returncode == 1 and f"token {token[4:16]} was revoked" in done.stderr


def test_stdio_mcp_acting_as_a_token_stops_within_a_second_of_its_revocation(
    token_settings: Settings,
) -> None:
    token = create_token(token_settings, "--namespace", "n")
    env = {
        **os.environ,
        "REMEM_REDIS_URL": token_settings.redis_url or "",
        "REMEM_KEY_PREFIX": token_settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": token_settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": token_settings.long_term_memory_index,
        "REMEM_MCP_TOKEN": token,
    }
    proc = subprocess.Popen(
        [shutil.which("remem") or "remem", "mcp"], env=env, text=True,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"}}}  # fmt: skip
        proc.stdin.write(json.dumps(hello) + "\n")
        proc.stdin.flush()
        assert '"serverInfo"' in proc.stdout.readline()  # serving, as the token
        remem(token_settings, "token", "revoke", token[4:16])
        revoked_at = time.monotonic()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError(proc.stderr.read()[-3000:]) from None
        assert proc.returncode == 1
        assert time.monotonic() - revoked_at < 3
        assert f"token {token[4:16]} was revoked" in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_health_probes_without_credentials_are_not_audited_as_failures(
    token_settings: Settings,
) -> None:
    """A load balancer polling /v1/health must not fill the audit log with refusals."""
    app = create_app(token_settings)
    async with served(app) as url, httpx.AsyncClient(base_url=url) as http:
        for _ in range(5):
            assert (await http.get("/v1/health")).status_code == 200
        assert (await http.get("/openapi.json")).status_code == 200
        entries = await app.state.resources.audit.entries(100)
    assert [e for e in entries if e["action"] == "auth.failure"] == []


async def test_mcp_over_http_takes_the_same_bearer_token(token_settings: Settings) -> None:
    from remem.app import build_app

    token = create_token(token_settings, "--namespace", "n")
    hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "test", "version": "0"}}}  # fmt: skip
    headers = {"Accept": "application/json, text/event-stream"}
    async with served(build_app(token_settings)) as url, httpx.AsyncClient(base_url=url) as http:
        refused = await http.post("/mcp", json=hello, headers=headers)
        assert refused.status_code == 401 and "missing credentials" in refused.json()["detail"]
        ok = await http.post(
            "/mcp", json=hello, headers={**headers, "Authorization": f"Bearer {token}"}
        )
        assert ok.status_code == 200 and "serverInfo" in ok.text
