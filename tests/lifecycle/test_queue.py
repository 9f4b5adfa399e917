"""The task queue: one Docket per process, keys under remem's prefix, no connection per task."""

from __future__ import annotations

import httpx
import redis

from remem.config import Settings


def _opened(url: str) -> int:
    """Connections Redis has accepted since it started (this probe's own included)."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_connections_received"])
    finally:
        client.close()


async def test_enqueueing_opens_no_connection_per_task(
    app_client: httpx.AsyncClient, quick: Settings
) -> None:
    """Writes that each schedule tasks, with the worker running them meanwhile, open no
    connection per task once the pools are warm: from the 100th write to the 300th, Redis
    accepts hardly any besides the test's own probes (the upstream server opened a Docket
    connection per task). The task keys sit under the test's key prefix."""
    url = quick.redis_url or ""

    async def put(i: int) -> None:
        body = {
            "namespace": "q",
            "messages": [{"role": "user", "content": f"message {i}"}],
            "memories": [{"id": f"m{i}", "text": f"fact {i}"}],
        }
        r = await app_client.put(f"/v1/working-memory/s{i}", json=body)
        assert r.status_code == 200, r.text

    counts = []
    for i in range(300):
        await put(i)
        if i % 50 == 49:
            counts.append(_opened(url))
    # Each probe opens one; a pool may replace a connection now and then (the whole run
    # shares this Redis), but a connection per task would be 200 or more.
    assert counts[-1] - counts[1] <= 4 + 10, counts
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        keys = list(client.scan_iter(match=f"{quick.key_prefix}tasks:*", count=1000))
    finally:
        client.close()
    assert keys  # Docket's stream, queue and run records, under remem's prefix
