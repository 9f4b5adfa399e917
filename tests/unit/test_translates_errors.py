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


@pytest.mark.parametrize(
    ("versions", "refused"),
    [
        ({"redis": "7.2.4", "search": 20811, "ReJSON": 20609}, True),  # Redis Stack 7.2
        ({"redis": "8.2.3", "search": 21005, "ReJSON": 20803}, False),  # the embedded one
        ({"redis": "8.0.2", "search": 80002}, False),  # Redis 8's own numbering
        ({"redis": "7.4.0"}, False),  # modules not listed: taken at its word
    ],
)
def test_a_query_engine_without_float16_vectors_is_refused(
    versions: dict[str, object], refused: bool
) -> None:
    from remem.errors import IncompatibleBackend
    from remem.store.connection import require_search_version

    if refused:
        with pytest.raises(IncompatibleBackend, match=r"2\.8\.11; remem needs 2\.10"):
            require_search_version(versions)
    else:
        require_search_version(versions)
