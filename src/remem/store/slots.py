"""Hash slots of a Redis Cluster, and a hash tag for each.

A cluster sends a key to the node owning its slot: CRC16 of the key (of its hash tag, the part
between the first ``{`` and the next ``}``, when it has one) modulo 16,384. To put a key on a
chosen slot, and so on a chosen primary, give it the tag ``slot_tag(slot)``: the shortest
lowercase hexadecimal string with that slot (at most five characters). The table of all 16,384
is found once, on first use (about 300,000 CRC16s, 0.2 s).

Index names are routed like keys by the Query Engine without a coordinator (``FT.CREATE`` and
``FT.SEARCH`` name the index as their key), so an index meant to live on one primary carries the
tag of one of that primary's slots.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from redis.crc import key_slot as _crc_slot

SLOTS = 16384


def key_slot(key: str) -> int:
    """The hash slot of ``key`` (its hash tag's, when it has one)."""
    return int(_crc_slot(key.encode()))


@cache
def _tags() -> tuple[str, ...]:
    found: list[str | None] = [None] * SLOTS
    missing, candidate = SLOTS, 0
    while missing:
        tag = format(candidate, "x")
        slot = _crc_slot(tag.encode())
        if found[slot] is None:
            found[slot] = tag
            missing -= 1
        candidate += 1
    return tuple(str(tag) for tag in found)


def slot_tag(slot: int) -> str:
    """A hash tag's content whose slot is ``slot``: ``key_slot("x{" + slot_tag(s) + "}")``
    is ``s``."""
    return _tags()[slot]


def primary_tags(cluster: Any) -> dict[str, str]:
    """Node name -> the tag of the lowest slot it serves, for each primary of ``cluster`` (a
    redis-py cluster client, as its slot map last stood): a name with that tag lives on that
    primary while the slot does."""
    tags: dict[str, str] = {}
    for slot, nodes in sorted(cluster.nodes_manager.slots_cache.items()):
        tags.setdefault(nodes[0].name, slot_tag(slot))
    return tags
