"""The store boundary's one translation: Redis "not there" errors become BackendUnavailable."""

from __future__ import annotations

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from remem.errors import BackendUnavailable
from remem.store.connection import translates_errors


@translates_errors
class Store:
    async def fails(self, exc: Exception) -> None:
        raise exc

    async def _private(self, exc: Exception) -> None:
        raise exc

    def plain(self) -> int:
        return 1


@pytest.mark.parametrize(
    "exc", [RedisConnectionError("refused"), RedisTimeoutError("slow"), OSError("socket gone")]
)
async def test_public_coroutines_translate(exc: Exception) -> None:
    with pytest.raises(BackendUnavailable, match="Redis unavailable"):
        await Store().fails(exc)


async def test_other_errors_and_private_methods_pass_through() -> None:
    with pytest.raises(ValueError):
        await Store().fails(ValueError("a bug, not an outage"))
    with pytest.raises(RedisConnectionError):
        await Store()._private(RedisConnectionError("inside a public call"))
    assert Store().plain() == 1
