"""Whether a Redis Cluster's Query Engine has a coordinator (one index over every primary),
and where index commands that name no key go (docs/architecture.md, "Redis Cluster")."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from remem.errors import IncompatibleBackend


def coordinated(redis: Redis) -> bool:
    """Whether ``redis`` is a cluster whose Query Engine has a coordinator (``open_redis``
    asked, ``has_coordinator``): one index spans every primary, as on a single Redis."""
    return bool(getattr(redis, "coordinated", False))


def any_node(redis: Redis) -> dict[str, Any]:
    """Where to send a command naming no key (``FT._LIST``) that any node answers alike: on a
    cluster, its default node (redis-py cannot route it alone); nowhere in particular on a
    single Redis."""
    if isinstance(redis, RedisCluster):
        return {"target_nodes": redis.get_default_node()}
    return {}


def index_holders(redis: Redis) -> list[dict[str, Any]]:
    """Where the indexes are, to list or drop them (``FT._LIST`` names a node's own): every
    primary of a cluster without a coordinator, any node of one with a coordinator (its indexes
    are on every shard, and a drop reaches them all), a single Redis itself."""
    if isinstance(redis, RedisCluster) and not coordinated(redis):
        return [{"target_nodes": node} for node in redis.get_primaries()]
    return [any_node(redis)]


_NO_KEYS = "no key arguments"


async def has_coordinator(cluster: RedisCluster) -> bool:
    """Whether the cluster's Query Engine has a coordinator, asked of every primary.

    Without one (RediSearch 2.x as Redis Stack ships it: the modules remem embeds) ``FT.SEARCH``
    names its index as a key: a cluster routes it to the node serving the name's slot, which
    searches only its own keys, so remem keeps an index on every primary and merges
    (``store.fanout``). A coordinator (Redis 8 open source in cluster mode, Redis Software and
    Cloud) registers ``FT.SEARCH`` with no key argument: any node takes it, asks every shard
    and merges, and an index created anywhere is created on every shard. The question is the
    one remem's layout rests on, ``COMMAND GETKEYS FT.SEARCH <name> *``: the name, or "the
    command has no key arguments". Primaries that disagree, or that refuse the question, are
    refused: a wrong guess would double answers or miss keys (where an ACL refuses it, the
    operator says, ``REMEM_CLUSTER_COORDINATOR``)."""
    answers: dict[str, bool] = {}
    for node in cluster.get_primaries():
        try:
            got = await cluster.execute_command(
                "COMMAND GETKEYS", "FT.SEARCH", "remem:probe", "*", target_nodes=node
            )
        except ResponseError as exc:
            if _NO_KEYS not in str(exc).lower():
                raise IncompatibleBackend(
                    f"remem could not tell whether the Query Engine of {node.name} has a "
                    f"coordinator: COMMAND GETKEYS FT.SEARCH answered {exc}. Allow that "
                    "command, or say which: REMEM_CLUSTER_COORDINATOR=yes (Redis 8 in cluster "
                    "mode, Redis Software and Cloud) or no (Redis Stack's modules)"
                ) from exc
            answers[node.name] = True
        else:
            answers[node.name] = not got
    if len(set(answers.values())) > 1:
        having = sorted(name for name, has in answers.items() if has)
        raise IncompatibleBackend(
            "the primaries of this Redis Cluster disagree on the Query Engine's coordinator "
            f"(present on {', '.join(having)} only): give every node the same modules"
        )
    return any(answers.values())
