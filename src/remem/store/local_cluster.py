"""A Redis Cluster of a few primaries on loopback ports, from the embedded Redis's wheels.

For the tests (``tests/cluster``), benchmarks and CI: every primary is the same ``redis-server``
as the embedded one with the Query Engine and JSON modules, started with ``--cluster-enabled
yes``. They are joined with ``CLUSTER MEET`` and given an equal share of the 16,384 hash slots
with ``CLUSTER ADDSLOTSRANGE``, all through redis-py (the wheels' ``redis-cli`` does not run
everywhere), and the cluster is ready once every node says ``cluster_state:ok`` and knows every
other. No persistence: a throwaway cluster. ``add_replica`` gives a primary a replica,
``failover`` promotes it (as ``CLUSTER FAILOVER`` run by an operator) and ``kill`` stops a node
dead, after which its replica takes over by the cluster's own vote.

``move_slots`` reshards it as ``redis-cli --cluster reshard`` would (``store.slot_moves``), for
the tests of what remem does when slots move.

``python -m remem.store.local_cluster start DIR`` starts one in the background and prints a
node's URL (the pids are in ``DIR/<port>/redis.pid``); ``... stop DIR`` stops it.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from remem.store.embedded import find_binaries, pid_alive
from remem.store.slot_moves import MOVE_CHUNK, SlotMove

SLOTS = 16384


NODE_TIMEOUT_MS = 5000  # cluster-node-timeout: a primary silent this long is failed over
BUS_OFFSET = 10000  # a node's cluster bus listens on its port + 10,000 (so a port <= 55,535)


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A loopback port that is free, and its cluster bus port too."""
    while True:
        port = random.randrange(20000, 65536 - BUS_OFFSET)
        if _free(port) and _free(port + BUS_OFFSET):
            return port


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """The hash slots of each of ``primaries`` nodes: equal contiguous ranges, inclusive."""
    bounds = [SLOTS * i // primaries for i in range(primaries + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(primaries)]


@dataclass
class LocalCluster:
    """``with LocalCluster(dir) as cluster:`` a ready cluster; ``cluster.url`` names one node
    (any node will do for a cluster client), ``cluster.urls`` every primary."""

    data_dir: Path
    primaries: int = 3
    timeout: float = 30.0
    ports: list[int] = field(default_factory=list)  # the primaries it was started with
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)  # ports of the replicas added
    _by_port: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def urls(self) -> list[str]:
        return [f"redis://127.0.0.1:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        return self.urls[0]

    def start(self, *, detach: bool = False) -> str:
        """Start the primaries, join them, give them their slots; wait until the cluster is
        ok. ``detach``: the servers outlive this process (``stop_dir`` stops them)."""
        self.ports = [free_port() for _ in range(self.primaries)]
        for port in self.ports:
            self._spawn(port, detach=detach)
        try:
            self._form()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _spawn(self, port: int, *, detach: bool = False) -> subprocess.Popen[bytes]:
        binaries = find_binaries()
        node_dir = self.data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(binaries.server), "--port", str(port), "--bind", "127.0.0.1",
            "--dir", str(node_dir), "--save", "", "--appendonly", "no",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--pidfile", str(node_dir / "redis.pid"), "--logfile", str(node_dir / "redis.log"),
            "--hash-max-listpack-value", "4096",  # as the embedded Redis (store.embedded)
            "--loadmodule", str(binaries.search), "--loadmodule", str(binaries.json),
        ]  # fmt: skip
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=detach,
        )
        self.procs.append(proc)
        self._by_port[port] = proc
        return proc

    def add_replica(self, primary: int) -> int:
        """Start a node, join it and make it a replica of the primary on port ``primary``; wait
        until it has the primary's data and every node knows it. Its port."""
        port = free_port()
        proc = self._spawn(port)
        with redis.Redis(port=port, socket_timeout=5) as client:
            self._wait(lambda: bool(client.ping()), proc)
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", primary)
            with redis.Redis(port=primary, socket_timeout=5, decode_responses=True) as source:
                primary_id = str(source.cluster("MYID"))
            # It must know the primary before it can follow it.
            self._wait(lambda: primary_id in str(client.cluster("NODES")), proc)
            client.execute_command("CLUSTER", "REPLICATE", primary_id)
            self.replicas.append(port)
            self._wait(lambda: client.info("replication").get("master_link_status") == "up", proc)
        for node in self.live():
            with redis.Redis(port=node, socket_timeout=5) as client:
                self._wait(lambda c=client: self._ready(c), self._by_port[node])
        return port

    def live(self) -> list[int]:
        """The ports of the nodes still running, primaries or replicas."""
        return [p for p in (*self.ports, *self.replicas) if self._by_port[p].poll() is None]

    def primary_ports(self) -> list[int]:
        """The ports of the nodes serving slots now."""
        return sorted(set(self.owners().values()))

    def failover(self, replica: int) -> None:
        """``CLUSTER FAILOVER`` on the replica on port ``replica`` (its primary alive: they
        agree, no acknowledged write is lost); wait until every node names it for its slots."""
        with redis.Redis(port=replica, socket_timeout=5) as client:
            client.execute_command("CLUSTER", "FAILOVER")
        self.wait_primary(replica)

    def kill(self, port: int) -> None:
        """Stop the node on ``port`` dead (SIGKILL): as a crashed machine."""
        proc = self._by_port[port]
        proc.kill()
        proc.wait(10)

    def wait_primary(self, port: int, timeout: float | None = None) -> None:
        """Until every live node says the cluster is ok and names ``port`` for some slots."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            seen = []
            for node in self.live():
                try:
                    with redis.Redis(port=node, socket_timeout=5) as client:
                        info = client.cluster("INFO")
                        ranges = client.execute_command("CLUSTER", "SLOTS")
                except redis.ConnectionError:
                    seen.append(False)
                    continue
                serving = {int(r[2][1]) for r in ranges}
                seen.append(info.get("cluster_state") == "ok" and port in serving)
            if all(seen):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{port} is not a primary after {timeout} s: {self._log()}")
            time.sleep(0.1)

    def _form(self) -> None:
        clients = [redis.Redis(port=port, socket_timeout=5) for port in self.ports]
        try:
            for client, proc in zip(clients, self.procs, strict=True):
                self._wait(lambda c=client: bool(c.ping()), proc)
            for client in clients[1:]:
                client.execute_command("CLUSTER", "MEET", "127.0.0.1", self.ports[0])
            for client, (first, last) in zip(clients, slot_ranges(self.primaries), strict=True):
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
            for client, proc in zip(clients, self.procs, strict=True):
                self._wait(lambda c=client: self._ready(c), proc)
        finally:
            for client in clients:
                client.close()

    def _ready(self, client: redis.Redis) -> bool:
        info = client.cluster("INFO")
        return (
            info.get("cluster_state") == "ok"
            and int(info.get("cluster_known_nodes", 0)) == self.primaries + len(self.replicas)
            and int(info.get("cluster_slots_ok", 0)) == SLOTS
        )

    def _wait(self, ready: object, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"a cluster node exited ({proc.returncode}): {self._log()}")
            try:
                if ready():  # type: ignore[operator]
                    return
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"the cluster was not ready in {self.timeout} s: {self._log()}")
            time.sleep(0.05)

    def owners(self) -> dict[int, int]:
        """Slot -> the port of the primary serving it (as the first live node tells)."""
        with redis.Redis(port=self.live()[0], socket_timeout=5) as client:
            ranges = client.execute_command("CLUSTER", "SLOTS")
        out: dict[int, int] = {}
        for first, last, primary, *_ in ranges:
            out.update(dict.fromkeys(range(int(first), int(last) + 1), int(primary[1])))
        return out

    def move_slots(self, slots: list[int], to_port: int, *, batch: int = 100) -> int:
        """Move ``slots``, keys and all, to the primary on ``to_port``; the keys moved. Slots
        go a chunk at a time (each step of a chunk's slots in one pipeline per node)."""
        with self._clients() as (clients, ids):
            owners = self.owners()
            moved = 0
            chunk: list[SlotMove] = []
            for slot in slots:
                if owners[slot] != to_port:
                    chunk.append(SlotMove(clients, ids, slot, owners[slot], to_port))
                if len(chunk) == MOVE_CHUNK or (chunk and slot == slots[-1]):
                    moved += SlotMove.all(chunk, batch)
                    chunk = []
            return moved + (SlotMove.all(chunk, batch) if chunk else 0)

    @contextlib.contextmanager
    def moving(self, slot: int, to_port: int) -> Iterator[SlotMove]:
        """One slot's move, step by step (``SlotMove``), for a test that looks in between."""
        with self._clients() as (clients, ids):
            yield SlotMove(clients, ids, slot, self.owners()[slot], to_port)

    @contextlib.contextmanager
    def _clients(self) -> Iterator[tuple[dict[int, redis.Redis], dict[int, str]]]:
        clients = {port: redis.Redis(port=port, socket_timeout=10) for port in self.ports}
        try:
            yield clients, {port: client.cluster("MYID") for port, client in clients.items()}
        finally:
            for client in clients.values():
                client.close()

    def drain(self, port: int) -> int:
        """Move every slot of the primary on ``port`` to the others, in equal shares."""
        mine = sorted(slot for slot, owner in self.owners().items() if owner == port)
        others = [p for p in self.ports if p != port]
        moved = 0
        for i, other in enumerate(others):
            moved += self.move_slots(mine[i :: len(others)], other)
        return moved

    def _log(self) -> str:
        tails = []
        for port in (*self.ports, *self.replicas):
            path = self.data_dir / str(port) / "redis.log"
            if path.exists():
                tails.append(f"{port}: " + " | ".join(path.read_text().splitlines()[-3:]))
        return "; ".join(tails) or "(no log)"

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()
        self._by_port.clear()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def stop_dir(data_dir: Path) -> int:
    """Stop the detached nodes whose pid files are under ``data_dir``; return how many."""
    stopped = 0
    for pidfile in sorted(data_dir.glob("*/redis.pid")):
        pid = int(pidfile.read_text().strip() or 0)
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            stopped += 1
    return stopped


def main(argv: list[str]) -> int:
    usage = "usage: python -m remem.store.local_cluster start|stop DIR [PRIMARIES]"
    if len(argv) < 2 or argv[0] not in ("start", "stop"):
        print(usage, file=sys.stderr)
        return 2
    data_dir = Path(argv[1]).absolute()
    if argv[0] == "stop":
        print(f"stopped {stop_dir(data_dir)} nodes")
        return 0
    cluster = LocalCluster(data_dir, primaries=int(argv[2]) if len(argv) > 2 else 3)
    print(cluster.start(detach=True))
    return 0


if __name__ == "__main__":  # pragma: no cover - a command for CI and benchmarks
    sys.exit(main(sys.argv[1:]))
