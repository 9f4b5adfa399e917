"""A Redis Cluster of a few primaries on loopback ports, from the embedded Redis's wheels.

For the tests (``tests/cluster``), benchmarks and CI: every primary is the same ``redis-server``
as the embedded one with the Query Engine and JSON modules, started with ``--cluster-enabled
yes``. They are joined with ``CLUSTER MEET`` and given an equal share of the 16,384 hash slots
with ``CLUSTER ADDSLOTSRANGE``, all through redis-py (the wheels' ``redis-cli`` does not run
everywhere), and the cluster is ready once every node says ``cluster_state:ok`` and knows every
other. No replicas, no persistence: a throwaway cluster.

``move_slots`` reshards it as ``redis-cli --cluster reshard`` would, for the tests of what remem
does when slots move: each slot marked importing on the receiver and migrating on the giver, its
keys sent over with ``MIGRATE`` in batches, then given to the receiver on every node.

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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import redis

from remem.store.embedded import find_binaries, pid_alive

SLOTS = 16384


MOVE_CHUNK = 32  # slots moved together by move_slots
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
    ports: list[int] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def urls(self) -> list[str]:
        return [f"redis://127.0.0.1:{port}" for port in self.ports]

    @property
    def url(self) -> str:
        return self.urls[0]

    def start(self, *, detach: bool = False) -> str:
        """Start the primaries, join them, give them their slots; wait until the cluster is
        ok. ``detach``: the servers outlive this process (``stop_dir`` stops them)."""
        binaries = find_binaries()
        self.ports = [free_port() for _ in range(self.primaries)]
        for port in self.ports:
            node_dir = self.data_dir / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            args = [
                str(binaries.server), "--port", str(port), "--bind", "127.0.0.1",
                "--dir", str(node_dir), "--save", "", "--appendonly", "no",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "5000", "--pidfile", str(node_dir / "redis.pid"),
                "--logfile", str(node_dir / "redis.log"),
                "--hash-max-listpack-value", "4096",  # as the embedded Redis (store.embedded)
                "--loadmodule", str(binaries.search), "--loadmodule", str(binaries.json),
            ]  # fmt: skip
            self.procs.append(
                subprocess.Popen(
                    args,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=detach,
                )
            )
        try:
            self._form()
        except BaseException:
            self.stop()
            raise
        return self.url

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
            and int(info.get("cluster_known_nodes", 0)) == self.primaries
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
        """Slot -> the port of the primary serving it (as the first node tells)."""
        with redis.Redis(port=self.ports[0], socket_timeout=5) as client:
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
        for port in self.ports:
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


@dataclass
class SlotMove:
    """A slot's move from the primary on port ``source`` to the one on ``target``: ``begin``
    (importing there, migrating here), ``send`` its keys with ``MIGRATE``, ``end`` (the slot
    given to the receiver on every node, the receiver first)."""

    clients: dict[int, redis.Redis]
    ids: dict[int, str]
    slot: int
    source: int
    target: int

    def begin(self) -> None:
        self.clients[self.target].execute_command(
            "CLUSTER", "SETSLOT", self.slot, "IMPORTING", self.ids[self.source]
        )
        self.clients[self.source].execute_command(
            "CLUSTER", "SETSLOT", self.slot, "MIGRATING", self.ids[self.target]
        )

    def send(self, *, batch: int = 100, at_most: int | None = None) -> int:
        """Send keys of the slot over (all, or ``at_most``); how many."""
        giver, sent = self.clients[self.source], 0
        while at_most is None or sent < at_most:
            count = batch if at_most is None else min(batch, at_most - sent)
            keys = giver.execute_command("CLUSTER", "GETKEYSINSLOT", self.slot, count)
            if not keys:
                break
            giver.execute_command(
                "MIGRATE", "127.0.0.1", self.target, "", 0, 10_000, "REPLACE", "KEYS", *keys
            )
            sent += len(keys)
        return sent

    def end(self) -> None:
        self.send()
        for port in self._receiver_first():
            self.clients[port].execute_command(
                "CLUSTER", "SETSLOT", self.slot, "NODE", self.ids[self.target]
            )

    def _receiver_first(self) -> list[int]:
        others = [p for p in self.clients if p not in (self.source, self.target)]
        return [self.target, self.source, *others]

    @staticmethod
    def all(moves: list[SlotMove], batch: int) -> int:
        """Move every slot of ``moves`` (one receiver), each step pipelined per node."""
        _pipelined(moves, lambda m: [(m.target, "IMPORTING", m.ids[m.source])])
        _pipelined(moves, lambda m: [(m.source, "MIGRATING", m.ids[m.target])])
        sent = sum(m.send(batch=batch) for m in moves)
        _pipelined(moves, lambda m: [(p, "NODE", m.ids[m.target]) for p in m._receiver_first()])
        return sent


def _pipelined(
    moves: list[SlotMove], steps: Callable[[SlotMove], list[tuple[int, str, str]]]
) -> None:
    """``CLUSTER SETSLOT <slot> <state> <node>`` for each step of each move, in one pipeline
    per node, the nodes in the order the first move's steps name them."""
    by_node: dict[int, list[tuple[int, str, str]]] = {}
    for move in moves:
        for port, state, node in steps(move):
            by_node.setdefault(port, []).append((move.slot, state, node))
    for port, commands in by_node.items():
        with moves[0].clients[port].pipeline(transaction=False) as pipe:
            for slot, state, node in commands:
                pipe.execute_command("CLUSTER", "SETSLOT", slot, state, node)
            for reply in pipe.execute(raise_on_error=False):
                # A primary left without slots turns into a replica of the node that took its
                # last one (Redis's replica migration) and refuses the rest: they are given.
                if isinstance(reply, Exception) and "only with masters" not in str(reply):
                    raise reply


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
