"""Fixtures: one embedded Redis for the test run (the same launcher `remem serve` uses), a fresh
key prefix and index per test, and the app through ASGI transport with its lifespan."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import redis

from remem.api.app import create_app
from remem.config import Settings
from remem.runtime import Resources
from remem.store.embedded import EmbeddedRedis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The embedded Redis, or the server ``REMEM_TEST_REDIS_URL`` names (CI runs the suite a
    second time against a Redis it started on a TCP port: the way servers share one Redis)."""
    given = os.environ.get("REMEM_TEST_REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")))
    url = server.acquire()
    yield url
    server.release()


def pytest_report_header(config: pytest.Config) -> list[str]:
    from remem.store.embedded import find_binaries

    try:
        found = find_binaries()
    except Exception as exc:  # the header must not hide the real failure
        return [f"embedded redis: unavailable ({exc})"]
    return [f"embedded redis: {found.server.name} + {found.search.name} + {found.json.name}"]


@pytest.fixture(scope="session", autouse=True)
def _versions_line(redis_url: str, request: pytest.FixtureRequest) -> None:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    modules = {m["name"]: m["ver"] for m in client.module_list()}
    version = client.info("server")["redis_version"]
    client.close()
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        where = "REMEM_TEST_REDIS_URL" if os.environ.get("REMEM_TEST_REDIS_URL") else "embedded"
        reporter.write_line(
            f"redis {version}, search {modules.get('search')}, json {modules.get('ReJSON')} "
            f"({where}: {redis_url})"
        )


@pytest.fixture
def settings(redis_url: str) -> Iterator[Settings]:
    """A fresh key prefix and index names per test; afterwards the test's indexes are dropped
    with their documents, so a run leaves the shared Redis as it found it (six hundred tests
    left 1,200 indexes behind, which every FT._LIST and start-up then walked)."""
    prefix = f"t{uuid.uuid4().hex[:10]}:"
    yield Settings(
        redis_url=redis_url,
        key_prefix=prefix,
        working_memory_index=f"{prefix}working_memory_idx",
        long_term_memory_index=f"{prefix}long_term_memory_idx",
        # No LLM, whatever the environment says (OPENAI_API_KEY would configure OpenAI's):
        # tests that want one point these at tests/llm_server.py.
        llm_base_url=None,
        llm_api_key=None,
    )
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        for name in client.execute_command("FT._LIST"):
            if name.startswith(prefix):
                client.execute_command("FT.DROPINDEX", name, "DD")
        for alias_or_key in client.scan_iter(match=f"{prefix}*", count=1000):
            client.unlink(alias_or_key)
    except redis.ConnectionError:
        pass  # a test that stopped Redis on purpose; nothing left to clean
    finally:
        client.close()


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with Resources(settings) as res:
        yield res


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The real app over ASGI transport, lifespan included."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://remem") as http:
            yield http
