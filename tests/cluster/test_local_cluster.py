"""The test cluster itself: three primaries from the embedded Redis's wheels, every slot served,
the Query Engine and JSON on each, and a detached cluster that its stop command ends."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import redis
from redis.cluster import RedisCluster

from remem.store.embedded import pid_alive
from remem.store.local_cluster import SLOTS, slot_ranges


def test_slot_ranges_cover_every_slot_once() -> None:
    ranges = slot_ranges(3)
    assert ranges == [(0, 5460), (5461, 10921), (10922, 16383)]
    assert sum(last - first + 1 for first, last in ranges) == SLOTS


def _primaries(url: str) -> list[redis.Redis]:
    with redis.Redis.from_url(url, decode_responses=True) as node:
        nodes = node.cluster("NODES")
    return [
        redis.Redis.from_url(f"redis://{address.split('@')[0]}", decode_responses=True)
        for address, about in nodes.items()
        if "master" in about["flags"]
    ]


def test_three_primaries_share_the_keys_and_each_has_the_modules(cluster_url: str) -> None:
    client = RedisCluster.from_url(cluster_url, decode_responses=True)
    try:
        keys = [f"cluster-test:{i}" for i in range(300)]
        for key in keys:
            client.set(key, "1")
        primaries = _primaries(cluster_url)
        assert len(primaries) == 3
        counts = [len(list(node.scan_iter(match="cluster-test:*"))) for node in primaries]
        assert sum(counts) == 300
        assert min(counts) >= 60, counts  # about a third each
        for node in primaries:
            assert node.cluster("INFO")["cluster_state"] == "ok"
            modules = {m["name"] for m in node.module_list()}
            assert {"search", "ReJSON"} <= modules
            node.close()
        client.delete(*keys)
    finally:
        client.close()


def test_a_detached_cluster_outlives_its_starter_until_stopped(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "remem.store.local_cluster"]
    started = subprocess.run(
        [*command, "start", str(tmp_path), "2"], capture_output=True, text=True, check=True
    )
    url = started.stdout.strip()
    pids = [int(p.read_text()) for p in tmp_path.glob("*/redis.pid")]
    try:
        assert len(pids) == 2 and all(pid_alive(pid) for pid in pids)
        with redis.Redis.from_url(url, decode_responses=True) as node:
            assert node.cluster("INFO")["cluster_state"] == "ok"
    finally:
        stopped = subprocess.run(
            [*command, "stop", str(tmp_path)], capture_output=True, text=True, check=True
        )
    assert stopped.stdout.strip() == "stopped 2 nodes"
    assert not any(pid_alive(pid) for pid in pids)
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url).ping()
