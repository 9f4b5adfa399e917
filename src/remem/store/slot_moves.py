"""Hash slots moved between the primaries of a ``LocalCluster``, as ``redis-cli --cluster
reshard`` moves them: each slot marked importing on the receiver and migrating on the giver,
its keys sent over with ``MIGRATE`` in batches, then given to the receiver on every node."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import redis

MOVE_CHUNK = 32  # slots moved together by LocalCluster.move_slots


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
