"""`remem serve` as an operator runs it, with REMEM_LOG_FORMAT=json: every line on stderr is a
JSON object, uvicorn's own included, and a request's records carry its id."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx

from remem.config import Settings
from tests.serving import free_port


def serve(settings: Settings, stderr: Path, **env: str) -> tuple[subprocess.Popen[bytes], str]:
    """`remem serve --auth token` on a free port with the test's Redis, its stderr into
    ``stderr``, once it answers: (process, base URL)."""
    port = free_port()
    environ = {
        **os.environ,
        "REMEM_REDIS_URL": settings.redis_url or "",
        "REMEM_KEY_PREFIX": settings.key_prefix,
        "REMEM_WORKING_MEMORY_INDEX": settings.working_memory_index,
        "REMEM_LONG_TERM_MEMORY_INDEX": settings.long_term_memory_index,
        **env,
    }
    command = [shutil.which("remem") or "remem", "serve", "--auth", "token", "--port", str(port)]
    with stderr.open("wb") as err:
        proc = subprocess.Popen(command, env=environ, stdout=subprocess.DEVNULL, stderr=err)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, stderr.read_text()
        try:
            if httpx.get(f"{url}/v1/health").status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def test_json_logs_of_a_served_request_carry_its_id(settings: Settings, tmp_path: Path) -> None:
    stderr = tmp_path / "stderr"
    env = {"REMEM_LOG_FORMAT": "json", "REMEM_CORS_ORIGINS": '["https://app.example"]'}
    proc, url = serve(settings, stderr, **env)
    try:
        headers = {"Authorization": "Bearer rmm_000000000000_nope", "X-Request-ID": "req-json-1"}
        refused = httpx.get(f"{url}/v1/working-memory/", headers=headers)
        assert refused.status_code == 401 and refused.headers["x-request-id"] == "req-json-1"
        preflight = httpx.options(
            f"{url}/v1/working-memory/",
            headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"},
        )  # fmt: skip
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    finally:
        proc.terminate()
        proc.wait(20)
    records = [json.loads(line) for line in stderr.read_text().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records), records
    loggers = {r["logger"] for r in records}
    assert "uvicorn.error" in loggers, loggers  # "Started server process", "Shutting down"
    audited = [r for r in records if r.get("request_id") == "req-json-1"]
    assert audited and any("auth.failure" in r["message"] for r in audited), records
