"""The official client against remem with token auth on, as a tenant would run it.

agent-memory-client 0.14.0 has no auth setting of its own; a deployment that authenticates
sets the bearer token on the client's HTTP client, as with the upstream server. A token scoped
to one namespace and one user then works unchanged: its writes land in its scope and its
searches and memory prompts see only its scope."""

from __future__ import annotations

import warnings

import redis.asyncio as aioredis
from agent_memory_client.exceptions import MemoryClientError
from agent_memory_client.filters import Namespace
from agent_memory_client.models import ClientMemoryRecord, MemoryMessage, WorkingMemory
from pydantic import SecretStr

from remem.api.app import create_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from tests.serving import official_client

warnings.filterwarnings("ignore", category=DeprecationWarning)
HASH_KEY = "client-auth-" + "k" * 32


async def test_a_scoped_token_through_the_official_client(settings: Settings) -> None:
    settings = settings.model_copy(
        update={"auth_mode": "token", "token_hash_key": SecretStr(HASH_KEY)}
    )
    client = aioredis.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        store = TokenStore(client, Keys(settings.key_prefix), HASH_KEY)
        mine, _ = await store.create(["acme"], role="write", user_id="ada")
        theirs, _ = await store.create(["other"], role="write")
    finally:
        await client.aclose()
    app = create_app(settings)
    async with official_client(app, "other") as other:
        other._client.headers["Authorization"] = f"Bearer {theirs}"
        await other.create_long_term_memory(
            [ClientMemoryRecord(text="OTHER tenant likes green tea", namespace="other")]
        )
    async with official_client(app, "acme") as ams:
        try:  # no token: refused
            await ams.get_working_memory("chat", user_id="ada")
            raise AssertionError("served without a token")
        except MemoryClientError as exc:
            assert "401" in str(exc) or "credentials" in str(exc)
        ams._client.headers["Authorization"] = f"Bearer {mine}"
        memory = WorkingMemory(
            session_id="chat",
            user_id="ada",
            messages=[MemoryMessage(role="user", content="I like green tea")],
        )
        put = await ams.put_working_memory("chat", memory, user_id="ada")
        assert put.namespace == "acme" and put.user_id == "ada"
        await ams.create_long_term_memory(
            [ClientMemoryRecord(text="ada likes green tea", namespace="acme", user_id="ada")]
        )
        found = await ams.search_long_term_memory("green tea", namespace=Namespace(eq="acme"))
        assert [m.text for m in found.memories] == ["ada likes green tea"]
        everywhere = await ams.search_long_term_memory("green tea")  # no filter: still narrowed
        assert all("OTHER" not in m.text for m in everywhere.memories)
        prompt = await ams.memory_prompt(
            "what tea?", session_id="chat", user_id="ada", long_term_search={"text": "tea"}
        )
        assert "OTHER" not in str(prompt)
        try:
            await ams.search_long_term_memory("green tea", namespace=Namespace(eq="other"))
            raise AssertionError("searched another tenant's namespace")
        except MemoryClientError as exc:
            assert "outside" in str(exc)
