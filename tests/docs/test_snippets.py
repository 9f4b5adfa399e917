"""Every fenced block of the docs (docs/*.md) and of the README runs, or is checked, as a reader
would use it: a page's blocks in order, against a remem served for that page.

- ``python``: run as written in a subprocess, against a remem of its own (the port changed);
- ``bash``: each command run for real, curl with ``--fail-with-body`` so an HTTP error fails,
  ``remem`` pointed at the page's Redis; a command that cannot run in a test is in ``NOT_RUN``
  with the reason, and any other command fails the test;
- ``json`` and ``text``: checked by the name in the comment above them (``CHECKS``), or, named
  ``output``, compared with what the block before printed (``blocks.match_output``).

A new block that none of these covers fails its page."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from redis.asyncio import Redis

from remem.app import build_app
from remem.config import Settings
from tests.ams_fixture import load_ams_fixture
from tests.auth.test_jwt import Issuer
from tests.docs.blocks import Block, blocks, commands, match_output
from tests.serving import private_redis, served

ROOT = Path(__file__).resolve().parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SHOWN = "http://127.0.0.1:8000"  # where the pages say remem serves

NOT_RUN = {
    "python3 -m venv .venv && . .venv/bin/activate && pip install . && remem serve": (
        "installs remem into a new virtualenv, then serves on the fixed port 8000 until stopped "
        "(.ci/run runs the install)"
    ),
    'pip install -e ".[dev]" && python3 -m pytest': "the install and the suite: .ci/run runs both",
    'redis-cli -u "$REDIS_URL" BGSAVE': (
        "a backup of the reader's own Redis; redis-cli does not come with remem"
    ),
    "REDIS_URL=redis://your-redis:6379 remem serve --host 0.0.0.0 --port 8000 --auth token": (
        "serves on every address at the fixed port 8000 until stopped"
    ),
    "remem serve --host 0.0.0.0 --auth token": (
        "serves on every address at the fixed port 8000 until stopped"
    ),
    "mkdocs serve": "serves the site at the fixed port 8000 until stopped",
    "mkdocs build --strict --site-dir /tmp/remem-site": "tests/docs/test_site.py runs this build",
}
RUNNABLE = re.compile(r"^(?:[A-Z_]+=\S+ )*(?:curl|remem|sleep) ")


@dataclass
class World:
    """What a page's blocks run against: a served remem (``url``), the environment that points
    ``remem`` at its Redis, a scratch directory, and the values a page shows that a run
    replaced (a token id shown in an output block, then used by a later command)."""

    settings: Settings
    url: str
    cwd: Path
    bound: dict[str, str] = field(default_factory=dict)
    printed: str = ""  # what the last block printed, for an ``output`` block

    @property
    def env(self) -> dict[str, str]:
        return {
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "HOME": os.environ.get("HOME", str(self.cwd)),
            "REDIS_URL": self.settings.redis_url or "",
            "REMEM_KEY_PREFIX": self.settings.key_prefix,
            "REMEM_WORKING_MEMORY_INDEX": self.settings.working_memory_index,
            "REMEM_LONG_TERM_MEMORY_INDEX": self.settings.long_term_memory_index,
            "REMEM_DATA_DIR": str(self.cwd / "data"),
        }

    def adapt(self, text: str) -> str:
        """The text with the page's addresses and shown values replaced by this run's."""
        for shown, real in self.bound.items():
            text = text.replace(shown, real)
        text = text.replace("redis://your-redis:6379", self.settings.redis_url or "")
        text = text.replace(SHOWN, self.url)
        host = self.url.removeprefix("http://")
        return text.replace("localhost:8000", host).replace("127.0.0.1:8000", host)


async def run(argv: list[str], world: World, *, env: dict[str, str] | None = None) -> str:
    """Run a process without blocking the loop that serves remem; its stdout, or a failure."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=world.cwd,
        env=env or world.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, f"{argv[-1]}\nexit {proc.returncode}\n{err.decode()}"
    return out.decode()


async def run_bash(block: Block, world: World) -> None:
    printed = []
    for command in commands(block.text):
        if command in NOT_RUN:
            continue
        assert RUNNABLE.match(command), (
            f"{block.where}: `{command}` is neither run by this test nor listed in NOT_RUN"
        )
        line = world.adapt(command)
        if line.startswith("curl "):
            line = "curl -sS --fail-with-body " + line.removeprefix("curl ")
        printed.append(await run(["bash", "-c", line], world))
    world.printed = "".join(printed)


async def run_python(block: Block, world: World) -> None:
    """Against a remem of the block's own (a fresh key prefix under the page's), so a snippet
    sees only what it writes, as a reader's first run would."""
    assert SHOWN in block.text, f"{block.where}: a snippet talks to {SHOWN}"
    own = world.settings.model_copy(update=scoped(world.settings, f"py{block.line}"))
    async with served(build_app(own)) as url:
        code = block.text.replace(SHOWN, url)
        world.printed = await run([sys.executable, "-c", code], world)


def scoped(settings: Settings, name: str) -> dict[str, str]:
    """Settings under a prefix inside the page's, which the ``settings`` fixture cleans."""
    prefix = f"{settings.key_prefix}{name}:"
    return {
        "key_prefix": prefix,
        "working_memory_index": f"{prefix}working_memory_idx",
        "long_term_memory_index": f"{prefix}long_term_memory_idx",
    }


async def check_output(block: Block, world: World) -> None:
    world.bound.update(match_output(block.text, world.printed))


async def check_mcp_stdio(block: Block, world: World) -> None:
    server = json.loads(block.text)["mcpServers"]["remem"]
    params = StdioServerParameters(
        command=shutil.which(server["command"], path=world.env["PATH"]) or server["command"],
        args=server["args"],
        env={**world.env, **server["env"]},
    )
    async with Client(params) as client:
        await tool(client, "create_long_term_memories", memories=[{"text": "stdio says hello"}])
        found = await tool(client, "search_long_term_memory", text="hello")
    assert found["memories"][0]["namespace"] == server["env"]["REMEM_MCP_DEFAULT_NAMESPACE"]


async def check_mcp_http(block: Block, world: World) -> None:
    url = json.loads(block.text)["mcpServers"]["remem"]["url"]
    assert url.startswith(SHOWN)
    async with Client(world.adapt(url)) as client:
        tools = (await client.list_tools()).tools
    assert len(tools) == 10 and "search_long_term_memory" in {t.name for t in tools}


async def check_mcp_http_token(block: Block, world: World) -> None:
    """The page's headers map with a real token, against the same Redis served with tokens."""
    server = json.loads(block.text)["mcpServers"]["remem"]
    made = await run(
        ["remem", "token", "create", "--namespace", "support", "--role", "write"], world
    )
    token = made.strip().split("\n")[-1]
    headers = {
        k: v.replace("<token from remem token create>", token) for k, v in server["headers"].items()
    }
    guarded = world.settings.model_copy(update={"auth_mode": "token"})
    async with served(build_app(guarded)) as url:
        http = create_mcp_http_client(headers=headers)
        async with Client(
            streamable_http_client(server["url"].replace(SHOWN, url), http_client=http)
        ) as client:
            await tool(client, "create_long_term_memories", memories=[{"text": "token says hello"}])
            found = await tool(client, "search_long_term_memory", text="hello")
    assert {m["namespace"] for m in found["memories"]} == {"support"}


async def check_jwt_claims(block: Block, world: World) -> None:
    """The page's claims, signed by an issuer of the test's own with a later ``exp``, let a
    caller into its namespaces and no other."""
    claims = json.loads(block.text)
    issuer = Issuer()
    issuer.add("k1")
    async with served(issuer.app()) as keys:
        settings = world.settings.model_copy(
            update={
                "auth_mode": "oauth2",
                "oauth2_issuer_url": claims["iss"],
                "oauth2_audience": claims["aud"],
                "oauth2_jwks_url": f"{keys}/jwks.json",
            }
        )
        token = issuer.token(**{**claims, "exp": int(time.time()) + 300})
        headers = {"Authorization": f"Bearer {token}"}
        async with served(build_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
            allowed = await http.get("/v1/working-memory/?namespace=acme/support", headers=headers)
            refused = await http.get("/v1/working-memory/?namespace=acme/billing", headers=headers)
    assert allowed.status_code == 200, allowed.text
    assert refused.status_code == 403, refused.text


async def check_layers(block: Block, world: World) -> None:
    """The layer diagram draws the rows of the import contracts (.importlinter), in order."""
    drawn = []
    for line in block.text.split("\n"):
        if line and not line[0].isspace():
            names = re.split(r"\s{2,}", line)[0].split(" | ")
            drawn.append(
                " | ".join(
                    f"remem.{n.strip().removesuffix('/').removesuffix('.py')}" for n in names
                )
            )
    rows = (ROOT / ".importlinter").read_text().split("layers =\n")[1].split("\n")
    layers = [row.strip() for row in rows[: rows.index("")]]
    assert drawn == layers


async def check_prometheus_scrape(block: Block, world: World) -> None:
    """The scrape configuration names the shown address and a path the page's remem answers
    in the Prometheus text format (read by prometheus-client's own parser)."""
    import yaml
    from prometheus_client.parser import text_string_to_metric_families

    (job,) = yaml.safe_load(block.text)["scrape_configs"]
    (target,) = job["static_configs"][0]["targets"]
    assert f"http://{target}" == SHOWN, target
    assert job["authorization"]["credentials_file"]
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{world.url}{job['metrics_path']}")
    assert r.status_code == 200, r.text
    names = {family.name for family in text_string_to_metric_families(r.text)}
    assert {"http_requests", "remem_search_duration_seconds"} <= names, names


async def check_json_log(block: Block, world: World) -> None:
    """The line shown is what REMEM_LOG_FORMAT=json writes for that record in that request:
    the same fields, in the same order, but the time."""
    import logging

    from remem.logs import JsonFormatter, RequestContext, request_id

    shown = json.loads(block.text)
    level = logging.getLevelNamesMapping()[shown["level"]]
    record = logging.LogRecord(shown["logger"], level, __file__, 0, shown["message"], None, None)
    record.error_id = shown.get("error_id")
    token = request_id.set(shown.get("request_id"))
    try:
        RequestContext().filter(record)
    finally:
        request_id.reset(token)
    written = json.loads(JsonFormatter().format(record))
    assert list(written) == list(shown), written
    assert {**written, "time": shown["time"]} == shown and shown["time"].endswith("Z")


CHECKS: dict[str, Callable[[Block, World], Awaitable[None]]] = {
    "output": check_output,
    "mcp-stdio": check_mcp_stdio,
    "mcp-http": check_mcp_http,
    "mcp-http-token": check_mcp_http_token,
    "jwt-claims": check_jwt_claims,
    "json-log": check_json_log,
    "layers": check_layers,
    "prometheus-scrape": check_prometheus_scrape,
}
# Blocks of pages this project does not mark (docs/architecture.md has its own owner): by page
# and place among the page's blocks.
UNMARKED = {("architecture.md", 0): "layers"}


async def tool(client: Client, name: str, **arguments: Any) -> Any:
    result = await client.call_tool(name, arguments)
    text = result.content[0].text  # type: ignore[union-attr]
    assert not result.is_error, f"{name}: {text}"
    return json.loads(text)


async def run_block(block: Block, world: World, place: int) -> None:
    if block.lang == "python":
        await run_python(block, world)
    elif block.lang == "bash":
        await run_bash(block, world)
    else:
        name = block.marker or UNMARKED.get((block.page, place))
        assert block.lang in ("json", "text", "yaml", "") and name in CHECKS, (
            f"{block.where}: a ```{block.lang} block needs a check (a marker named in CHECKS)"
        )
        await CHECKS[name](block, world)


@asynccontextmanager
async def world_for(page: Path, settings: Settings, tmp: Path) -> AsyncIterator[World]:
    """The page's remem: served on the test Redis, or, for switching-from-ams.md, a Redis of
    its own holding what the real AMS 0.15.2 wrote (AMS's keys have no prefix to keep apart)."""
    if page.name != "switching-from-ams.md":
        async with served(build_app(settings)) as url:
            yield World(settings, url, tmp)
        return
    with private_redis(tmp) as (url, _):
        redis = Redis.from_url(url)
        await load_ams_fixture(redis)
        await redis.aclose()
        yield World(Settings(redis_url=url, llm_base_url=None, llm_api_key=None), SHOWN, tmp)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
async def test_every_block_of_the_page_runs(page: Path, settings: Settings, tmp_path: Path) -> None:
    async with world_for(page, settings, tmp_path) as world:
        for place, block in enumerate(blocks(page)):
            await run_block(block, world, place)


def test_every_listed_command_is_still_on_a_page() -> None:
    shown = {
        c for page in PAGES for b in blocks(page) if b.lang == "bash" for c in commands(b.text)
    }
    assert set(NOT_RUN) <= shown, set(NOT_RUN) - shown
