"""Where a namespace's long-term memories live on a Redis Cluster: Redis CPU per search.

    python bench/cluster_layout.py [--namespaces 30] [--per-namespace 300] [--searches 300]

Starts a three-primary cluster from the embedded Redis's wheels (``remem.store.local_cluster``)
and writes the same memories (HASH: namespace TAG, text TEXT, a 64-dimension FLOAT32 vector,
HNSW cosine) twice, under two key layouts, each with one index per primary (its name tagged
with one of the primary's slots, ``store.slots``; prefix the layout's):

- ``spread``: ``mem:<id>``, as remem keys memories today: a namespace's memories on every
  primary, so a namespace's search goes to all three indexes (KNN 10 each, merged);
- ``tagged``: ``mem:{<namespace>}:<id>``: a namespace's memories on the primary of its slot, so
  its search goes to that one index.

For each layout, ``--searches`` KNN 10 searches filtered by a random namespace, then as many
keyword searches (``@namespace:{ns} @text:word``, LIMIT 0 10), all checked against each other
(the same ids, by distance; the same totals). Figures: FT.SEARCH calls and Redis CPU inside
FT.SEARCH (``INFO commandstats`` usec, summed over the primaries) per search, and how the keys
of the namespaces spread over the primaries (share of the keys per primary). A ratio of CPU,
not a wall-clock benchmark: the machine may be shared.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

import numpy as np
from redis.cluster import ClusterNode, RedisCluster

from remem.store.local_cluster import LocalCluster
from remem.store.slots import key_slot, slot_tag

DIMS = 64
WORDS = [f"w{i}" for i in range(200)]


def _index_names(client: RedisCluster, layout: str) -> dict[str, str]:
    """Node name -> an index name whose tag is one of that primary's slots."""
    names: dict[str, str] = {}
    slots = client.cluster_slots(target_nodes=RedisCluster.RANDOM)
    for (first, _last), holders in slots.items():
        host, port = holders["primary"]
        names[f"{host}:{port}"] = f"bench:{layout}:idx:{{{slot_tag(first)}}}"
    return names


def _create(client: RedisCluster, layout: str) -> dict[str, str]:
    names = _index_names(client, layout)
    for name in names.values():
        client.execute_command(
            "FT.CREATE", name, "ON", "HASH", "PREFIX", 1, f"bench:{layout}:mem:",
            "SCHEMA", "namespace", "TAG", "text", "TEXT",
            "v", "VECTOR", "HNSW", 6, "TYPE", "FLOAT32", "DIM", DIMS, "DISTANCE_METRIC", "COSINE",
        )  # fmt: skip
    return names


def _key(layout: str, ns: str, memory_id: str) -> str:
    if layout == "tagged":
        return f"bench:{layout}:mem:{{{ns}}}:{memory_id}"
    return f"bench:{layout}:mem:{memory_id}"


def _write(client: RedisCluster, layout: str, data: list[tuple[str, str, str, bytes]]) -> None:
    pipe = client.pipeline(transaction=False)
    for ns, memory_id, text, vector in data:
        pipe.hset(_key(layout, ns, memory_id), mapping={"namespace": ns, "text": text, "v": vector})
    pipe.execute()


def _node(client: RedisCluster, name: str) -> ClusterNode:
    node = client.get_node(node_name=name)
    assert node is not None
    return node


def _usec(client: RedisCluster) -> tuple[int, int]:
    calls = usec = 0
    for stats in client.info("commandstats", target_nodes=RedisCluster.PRIMARIES).values():
        found = stats.get("cmdstat_FT.SEARCH", {})
        calls, usec = calls + int(found.get("calls", 0)), usec + int(found.get("usec", 0))
    return calls, usec


def _knn(client: RedisCluster, index: str, node: ClusterNode, ns: str, vector: bytes) -> list:
    reply = client.execute_command(
        "FT.SEARCH", index, f"(@namespace:{{{ns}}})=>[KNN 10 @v $B AS d]",
        "PARAMS", 2, "B", vector, "SORTBY", "d", "RETURN", 1, "d", "DIALECT", 2,
        target_nodes=node,
    )  # fmt: skip
    return [(float(reply[i + 1][1]), reply[i].split(":")[-1]) for i in range(1, len(reply), 2)]


def _keyword(client: RedisCluster, index: str, node: ClusterNode, ns: str, word: str) -> tuple:
    reply = client.execute_command(
        "FT.SEARCH", index, f"@namespace:{{{ns}}} @text:{word}", "NOCONTENT", "LIMIT", 0, 10,
        "DIALECT", 2, target_nodes=node,
    )  # fmt: skip
    return int(reply[0]), [k.split(":")[-1] for k in reply[1:]]


def _searches(client: RedisCluster, layout: str, names: dict[str, str], queries: list) -> dict:
    client.config_resetstat(target_nodes=RedisCluster.PRIMARIES)
    before = _usec(client)
    answers = []
    for ns, vector, word in queries:
        if layout == "tagged":
            owner = client.nodes_manager.get_node_from_slot(key_slot(ns))
            targets = [(names[owner.name], owner)]
        else:
            targets = [(index, _node(client, name)) for name, index in names.items()]
        knn = sorted(
            hit for index, node in targets for hit in _knn(client, index, node, ns, vector)
        )
        totals = [_keyword(client, index, node, ns, word) for index, node in targets]
        answers.append(([i for _, i in knn[:10]], sum(t for t, _ in totals)))
    calls, usec = (a - b for a, b in zip(_usec(client), before, strict=True))
    return {"answers": answers, "calls": calls, "usec": usec}


def _shares(client: RedisCluster, layout: str) -> list[float]:
    counts = []
    for node in client.get_primaries():
        found = client.execute_command(
            "FT.SEARCH", _index_names(client, layout)[node.name], "*", "LIMIT", 0, 0,
            target_nodes=node,
        )  # fmt: skip
        counts.append(int(found[0]))
    return [c / sum(counts) for c in counts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespaces", type=int, default=30)
    parser.add_argument("--per-namespace", type=int, default=300)
    parser.add_argument("--searches", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(7)
    vectors = np.random.default_rng(7).standard_normal((args.namespaces * args.per_namespace, DIMS))
    namespaces = [f"ns{i}" for i in range(args.namespaces)]
    data = [
        (ns, f"{ns}-m{j}", " ".join(rng.sample(WORDS, 8)), vectors[n].astype(np.float32).tobytes())
        for n, (ns, j) in enumerate((ns, j) for ns in namespaces for j in range(args.per_namespace))
    ]
    queries = [
        (rng.choice(namespaces), rng.choice(data)[3], rng.choice(WORDS))
        for _ in range(args.searches)
    ]
    with LocalCluster(Path(tempfile.mkdtemp())) as cluster:
        client = RedisCluster.from_url(cluster.url, protocol=2, decode_responses=True)
        results = {}
        for layout in ("spread", "tagged"):
            names = _create(client, layout)
            _write(client, layout, data)
            results[layout] = _searches(client, layout, names, queries)
            shares = ", ".join(f"{s:.0%}" for s in _shares(client, layout))
            print(
                f"{layout}: {results[layout]['calls'] / args.searches:.1f} FT.SEARCH a search "
                f"(KNN + keyword), {results[layout]['usec'] / args.searches:.0f} us of Redis "
                f"CPU a search; keys per primary {shares}"
            )
        same = results["spread"]["answers"] == results["tagged"]["answers"]
        print(f"answers identical: {'OK' if same else 'FAIL'}")
        ratio = results["spread"]["usec"] / max(1, results["tagged"]["usec"])
        print(f"spread / tagged Redis CPU a search: {ratio:.2f}")
        client.close()


if __name__ == "__main__":
    main()
