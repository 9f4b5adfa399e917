"""Connections to Redis and the check that it can serve remem."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, TypeVar, cast

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.cluster import NodesManager, RedisCluster
from redis.commands.policies import (
    AsyncPolicyResolver,
    AsyncStaticPolicyResolver,
    CommandPolicies,
    RequestPolicy,
    ResponsePolicy,
)
from redis.exceptions import ClusterError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from remem.errors import BackendUnavailable, IncompatibleBackend
from remem.metrics import REDIS_ERRORS
from remem.store.coordinator import coordinated, has_coordinator
from remem.tracing import instrument_redis


def connect(url: str, *, timeout: float, max_connections: int) -> Redis:
    """A client of ``url`` (traced when tracing is on, as its twins)."""
    client: Redis = Redis.from_url(
        url,
        protocol=3,
        decode_responses=True,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
        health_check_interval=30,
    )
    return instrument_redis(client)  # type: ignore[no-any-return]


# How many times each cluster client's slot map changed (``SlotMap``; redis-py's map has
# ``__slots__``, so the count lives here). A process has a handful of cluster clients.
_MAP_CHANGES: dict[NodesManager, int] = {}


class SlotMap(NodesManager):
    """redis-py's map of which node serves each slot, counting its changes
    (``slot_map_version``): the count grows each time the map is read anew or a redirection
    moves a slot, so what was derived from the map (``slots.primary_tags``) is known to still
    hold while the count stays."""

    __slots__ = ()

    async def initialize(self, *args: Any, **kwargs: Any) -> None:
        try:
            await super().initialize(*args, **kwargs)
        finally:
            _MAP_CHANGES[self] = _MAP_CHANGES.get(self, 0) + 1

    async def move_slot(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().move_slot(*args, **kwargs)
        finally:
            _MAP_CHANGES[self] = _MAP_CHANGES.get(self, 0) + 1


def slot_map_version(redis: Redis) -> int | None:
    """How many times ``redis``'s slot map changed; None for a client that does not count."""
    slot_map = getattr(redis, "nodes_manager", None)
    return _MAP_CHANGES.get(slot_map, 0) if isinstance(slot_map, SlotMap) else None


# Query Engine commands whose first argument names an index, which a cluster without a
# coordinator routes like a key (the index lives on the node serving that name's slot).
# redis-py sends them to its default node as keyless commands, which cost a MOVED and a
# second round trip whenever another node serves the name.
_INDEX_COMMANDS = frozenset(
    f"ft.{name}"
    for name in [
        "search",
        "aggregate",
        "info",
        "create",
        "dropindex",
        "alter",
        "tagvals",
        "explain",
        "profile",
        "aliasadd",
        "aliasupdate",
        "aliasdel",
    ]
)
_BY_NAME = CommandPolicies(
    request_policy=RequestPolicy.DEFAULT_KEYED, response_policy=ResponsePolicy.DEFAULT_KEYED
)


class IndexNamesAreKeys(AsyncPolicyResolver):
    """Routes the Query Engine's index commands by the index name's slot (``_INDEX_COMMANDS``);
    every other command as redis-py's own resolver does."""

    def __init__(self, fallback: AsyncPolicyResolver | None = None) -> None:
        self._fallback = fallback or AsyncStaticPolicyResolver()

    async def resolve(self, command_name: str) -> CommandPolicies | None:
        if command_name.lower() in _INDEX_COMMANDS:
            return _BY_NAME
        return await self._fallback.resolve(command_name)

    def with_fallback(self, fallback: AsyncPolicyResolver) -> AsyncPolicyResolver:
        return IndexNamesAreKeys(fallback)


class Cluster(RedisCluster):
    """redis-py's cluster client, remembering how it was opened (``cluster_client``), so its
    RESP2 twin is opened the same way, with its slot map counting changes (``SlotMap``) and
    what rebuilds this process's indexes after slots moved (``reensure``, filled by
    ``schema.ensure_on_every_primary``)."""

    url: str = ""
    timeout: float = 0.0
    node_connections: int = 0
    coordinated: bool = False  # its Query Engine has a coordinator (``has_coordinator``)

    def __init__(self, **kwargs: Any) -> None:
        # Only what ``cluster_client`` passes (through ``from_url``): no defaults of its own
        # beside remem's settings (redis-py's ``port=6379`` would shadow REMEM_PORT's).
        super().__init__(**kwargs)
        self.nodes_manager.__class__ = SlotMap
        self.reensure: dict[str, Callable[[], Awaitable[Any]]] = {}
        self.following = asyncio.Lock()  # one process's re-reads of the map (fanout)
        self.followed = -1  # the map's version after the last


def cluster_client(
    url: str,
    *,
    timeout: float,
    max_connections: int,
    protocol: int,
    decode_responses: bool,
    coordinated: bool = False,
) -> Cluster:
    """A cluster client starting from the node ``url`` names (``max_connections`` a node).
    Index commands go to the node serving the index name's slot (``IndexNamesAreKeys``), or,
    when the Query Engine has a ``coordinated`` index over the cluster, to any node as redis-py
    sends keyless commands (the coordinator declares them so)."""
    client = cast(
        Cluster,
        Cluster.from_url(
            url,
            protocol=protocol,
            decode_responses=decode_responses,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            max_connections=max_connections,
            health_check_interval=30,
            policy_resolver=None if coordinated else IndexNamesAreKeys(),
        ),
    )
    client.url, client.timeout, client.node_connections = url, timeout, max_connections
    client.coordinated = coordinated
    return client


def is_cluster(redis: Redis) -> bool:
    """Whether ``redis`` speaks to a Redis Cluster (``open_redis`` found one)."""
    return isinstance(redis, RedisCluster)


async def open_redis(
    url: str, *, timeout: float, max_connections: int, coordinator: bool | None = None
) -> Redis:
    """A client of ``url``: of one Redis as ``connect`` opens it, or, when the server there is a
    node of a Redis Cluster (``INFO cluster`` says ``cluster_enabled:1``), redis-py's cluster
    client, which finds the other nodes and sends each command to the node holding its keys.
    Nothing is configured: the server says what it is. A unix socket (the embedded Redis) is
    never a cluster, and is not asked.

    The cluster client is handed to the store typed as ``Redis``: both have the command
    methods, pipelines and scripts the store uses; where they differ (the RESP2 twin, commands
    to every primary) the store asks ``is_cluster``.

    ``coordinator``: whether a cluster's Query Engine has a coordinator, when the operator says
    so (``REMEM_CLUSTER_COORDINATOR``); None asks every primary (``has_coordinator``).
    """
    client = connect(url, timeout=timeout, max_connections=max_connections)
    if url.startswith("unix://"):
        return client
    with backend_errors():
        try:
            info = await client.info("cluster")
        except ResponseError:  # INFO refused (an ACL): not a cluster remem can use anyway
            return client
    if not int(info.get("cluster_enabled", 0)):
        return client
    await client.aclose()
    opening = functools.partial(
        cluster_client, url, timeout=timeout, max_connections=max_connections, protocol=3,
        decode_responses=True,
    )  # fmt: skip
    cluster = opening(coordinated=bool(coordinator))
    async with _closed_on_error(cluster):
        await cluster.initialize()
        found = coordinator is None and await has_coordinator(cluster)
    if found:  # opened again, sending index commands as a coordinator takes them
        await cluster.aclose()
        cluster = opening(coordinated=True)
        async with _closed_on_error(cluster):
            await cluster.initialize()
    return cast(Redis, instrument_redis(cluster))


@contextlib.asynccontextmanager
async def _closed_on_error(cluster: Cluster) -> AsyncIterator[None]:
    """``cluster`` closed if opening or asking it fails (the failure raised as a backend's)."""
    try:
        with backend_errors():
            yield
    except BaseException:
        await cluster.aclose()
        raise


def flat_twin(redis: Redis, *, decode_responses: bool = True) -> Redis:
    """A client of the same server, with the same settings, that speaks RESP2 (and answers in
    bytes with ``decode_responses=False``, for binary values such as vectors).

    RESP3 answers FT.SEARCH with a map per result; RESP2 with flat arrays, which redis-py
    parses in half the time (100 KNN results: 0.3 ms of CPU less, 0.16 ms for 100 BM25
    results), so the store sends its hot searches through this twin.
    """
    if isinstance(redis, Cluster):
        twin_of_cluster = cluster_client(
            redis.url,
            timeout=redis.timeout,
            max_connections=redis.node_connections,
            protocol=2,
            decode_responses=decode_responses,
            coordinated=redis.coordinated,
        )
        return cast(Redis, instrument_redis(twin_of_cluster))
    pool = redis.connection_pool
    # redis-py >= 7 adds maintenance-notification handlers to a RESP3 pool's settings over TCP
    # (not over a unix socket); they refuse a RESP2 connection, so the twin leaves them out.
    kwargs = {k: v for k, v in pool.connection_kwargs.items() if "maint_notifications" not in k}
    kwargs["protocol"] = 2
    kwargs["decode_responses"] = decode_responses
    twin = Redis(
        connection_pool=ConnectionPool(
            connection_class=pool.connection_class, max_connections=pool.max_connections, **kwargs
        )
    )
    return instrument_redis(twin)  # type: ignore[no-any-return]


StoreClass = TypeVar("StoreClass", bound=type)


def translates_errors(cls: StoreClass) -> StoreClass:
    """Class decorator, the store boundary's one translation of Redis errors: every public
    coroutine method of ``cls`` turns "Redis is not there" into ``BackendUnavailable`` (with the
    reason), so no call site needs a helper of its own. Private methods are left alone: they
    run inside a public one."""
    for name, method in list(vars(cls).items()):
        if name.startswith("_") or not inspect.iscoroutinefunction(method):
            continue
        setattr(cls, name, _translated(method))
    return cls


def _translated(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    # try/except, not ``backend_errors()``: a generator context manager costs 1-2 µs a call,
    # and a search makes about eleven of these calls.
    @functools.wraps(method)
    async def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    return call


# On a cluster, ClusterError: redis-py gave up following a slot that is moving (its
# redirections' TTL spent, or the cluster down); TryAgainError: a script's keys are split by a
# slot's migration. Both pass once the move ends: a 503, to be retried.
_UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, ClusterError, TryAgainError)


def _unavailable(exc: BaseException) -> BackendUnavailable:
    REDIS_ERRORS.inc()
    return BackendUnavailable(f"Redis unavailable: {exc}")


@contextlib.contextmanager
def backend_errors() -> Iterator[None]:
    """Turn "Redis is not there" into BackendUnavailable, with the reason."""
    try:
        yield
    except _UNAVAILABLE as exc:
        raise _unavailable(exc) from exc


async def ping(redis: Redis) -> None:
    """Redis answers, or ``BackendUnavailable`` saying why not (the health route)."""
    with backend_errors():
        await redis.ping()


async def check_modules(redis: Redis) -> dict[str, Any]:
    """Fail with a clear message unless Redis has the Query Engine and JSON; return versions
    (on a cluster, those of every primary, and ``primaries``: how many)."""
    if isinstance(redis, RedisCluster):
        return await _check_cluster_modules(redis)
    with backend_errors():
        try:
            await redis.execute_command("FT._LIST")
            await redis.execute_command("JSON.TYPE", "remem:probe")
        except ResponseError as exc:
            raise IncompatibleBackend(
                "remem needs Redis with the Query Engine (RediSearch) and JSON modules: "
                "Redis 8, Redis Stack 7.4+, or Redis Cloud/Software with Search and JSON. "
                f"This server answered: {exc}"
            ) from exc
        info = await redis.info("server")
        versions: dict[str, Any] = {"redis": info.get("redis_version")}
        with contextlib.suppress(ResponseError):
            for module in await redis.execute_command("MODULE", "LIST"):
                versions[str(module["name"])] = module["ver"]
    require_search_version(versions)
    return versions


async def _check_cluster_modules(cluster: RedisCluster) -> dict[str, Any]:
    """Every primary must have both modules (without a coordinator each indexes its own
    keys); ``coordinator`` says whether the Query Engine has one (``has_coordinator``)."""
    versions: dict[str, Any] = {}
    primaries = cluster.get_primaries()
    with backend_errors():
        for node in primaries:
            modules = {
                str(m["name"]): m["ver"]
                for m in await cluster.execute_command("MODULE", "LIST", target_nodes=node)
            }
            if not {"search", "ReJSON"} <= modules.keys():
                raise IncompatibleBackend(
                    "remem needs the Query Engine (RediSearch) and JSON modules on every "
                    f"primary of a Redis Cluster; {node.name} has {sorted(modules) or 'none'}"
                )
            info = await cluster.execute_command("INFO", "server", target_nodes=node)
            versions.setdefault("redis", info.get("redis_version"))
            for name, version in modules.items():  # the oldest, if they differ
                versions[name] = min(version, versions.get(name, version))
    versions["primaries"] = len(primaries)
    versions["coordinator"] = coordinated(cast(Redis, cluster))
    require_search_version(versions)
    return versions


# Long-term vectors are FLOAT16 (store.longterm.layout), which the Query Engine indexes from
# RediSearch 2.10 (Redis Stack 7.4; Redis 8 reports its own version, 8.0 and up).
MIN_SEARCH_VERSION = 21000


def require_search_version(versions: dict[str, Any]) -> None:
    """Refuse a Query Engine too old for remem's index, naming what would do. A server that does
    not list its modules (some managed services) is taken at its word."""
    found = versions.get("search")
    if isinstance(found, int) and found < MIN_SEARCH_VERSION:
        major, minor, patch = found // 10000, found // 100 % 100, found % 100
        raise IncompatibleBackend(
            f"this Redis has the Query Engine {major}.{minor}.{patch}; remem needs 2.10 or newer "
            "(FLOAT16 vectors): Redis 8, Redis Stack 7.4+, or Redis Cloud/Software with Search "
            "2.10+"
        )
