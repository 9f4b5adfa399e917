"""The managed API's SDK, ``redis-agent-memory`` 0.4.1, and the upstream server's client,
``agent-memory-client``, both pointed at one remem served over real HTTP."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from agent_memory_client import MemoryAPIClient, MemoryClientConfig
from redis_agent_memory import AgentMemory

from remem.api.app import create_app
from remem.config import Settings
from tests.serving import served

warnings.filterwarnings("ignore", category=DeprecationWarning)
STORE = "store-s"


@dataclass
class Both:
    url: str
    sdk: AgentMemory  # store STORE
    ams: MemoryAPIClient  # namespace STORE

    def store(self, store_id: str) -> AgentMemory:
        return AgentMemory(server_url=self.url, store_id=store_id)


@pytest.fixture
async def both(settings: Settings) -> AsyncIterator[Both]:
    async with served(create_app(settings)) as url:
        ams = MemoryAPIClient(MemoryClientConfig(base_url=url, default_namespace=STORE))
        try:
            async with AgentMemory(server_url=url, store_id=STORE) as sdk:
                yield Both(url, sdk, ams)
        finally:
            await ams.close()
