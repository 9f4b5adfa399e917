"""`remem serve` refuses, before starting anything, to run less protected than asked: auth
disabled on an address other machines reach, or upstream settings that contradict the mode."""

from __future__ import annotations

import httpx
import pytest

from remem.auth.modes import is_loopback
from remem.config import Settings
from tests.cli.test_data_commands import remem
from tests.serving import free_port


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.5.0.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("", False),
     ("192.168.1.2", False), ("myhost.example", False)],
)  # fmt: skip
def test_loopback_addresses(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_refuses_a_public_bind_with_auth_disabled(settings: Settings) -> None:
    done = remem(settings, "serve", "--host", "0.0.0.0", "--port", str(free_port()), check=False)
    assert done.returncode == 1
    assert done.stderr.startswith("remem: refusing to listen on 0.0.0.0 with auth disabled")
    assert "REMEM_ALLOW_REMOTE_WITHOUT_AUTH" in done.stderr


OAUTH2 = {"OAUTH2_ISSUER_URL": "https://i.test", "OAUTH2_AUDIENCE": "a"}


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ((), {"DISABLE_AUTH": "true", "AUTH_MODE": "token"}, "DISABLE_AUTH=true contradicts"),
        (("--auth", "token"), {"DISABLE_AUTH": "true"}, "DISABLE_AUTH=true contradicts"),
        ((), {"DISABLE_AUTH": "false"}, "DISABLE_AUTH=false but no auth mode"),
        (("--auth", "oauth2"), {}, "needs REMEM_OAUTH2_ISSUER_URL and REMEM_OAUTH2_AUDIENCE"),
        (("--auth", "oauth2"), {**OAUTH2, "OAUTH2_ALGORITHMS": '["HS256"]'}, "'HS256' is not"),
        (("--auth", "oauth2"), {**OAUTH2, "OAUTH2_ALGORITHMS": '["none"]'}, "'none' is not"),
        (("--auth", "token"), {"REMEM_TOKEN_HASH_KEY": "short"}, "at least 32 characters"),
        (("--auth", "oauth2"), {"TOKEN_AUTH_ENABLED": "true"}, "TOKEN_AUTH_ENABLED=true contr"),
        ((), {"TOKEN_AUTH_ENABLED": "true", "DISABLE_AUTH": "true"}, "DISABLE_AUTH=true contr"),
        (("--auth", "open"), {}, "one of disabled, token, oauth2"),
    ],
)  # fmt: skip
def test_serve_refuses_settings_that_would_leave_it_less_protected(
    settings: Settings, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    done = remem(settings, "serve", "--port", str(free_port()), *args, check=False, **env)
    assert done.returncode != 0 and message in done.stderr, done.stderr


def test_serve_binds_publicly_with_auth_disabled_only_when_told(settings: Settings) -> None:
    """With REMEM_ALLOW_REMOTE_WITHOUT_AUTH=true it starts (and answers on loopback too)."""
    import os
    import shutil
    import subprocess
    import time

    port = free_port()
    env = {
        **os.environ,
        "REMEM_REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        "REMEM_ALLOW_REMOTE_WITHOUT_AUTH": "true",
    }
    proc = subprocess.Popen(
        [shutil.which("remem") or "remem", "serve", "--host", "0.0.0.0", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v1/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(20)


def test_the_upstream_token_switch_alone_means_token_mode() -> None:
    assert Settings(token_auth_enabled=True).auth_mode == "token"
    assert Settings(token_auth_enabled=True, auth_mode="oauth2").auth_mode == "oauth2"
    assert Settings().auth_mode == "disabled"
