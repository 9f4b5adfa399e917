"""Hash slots of a Redis Cluster, and a hash tag for each.

A cluster sends a key to the node owning its slot: CRC16 of the key (of its hash tag, the part
between the first ``{`` and the next ``}``, when it has one) modulo 16,384. To put a key on a
chosen slot, and so on a chosen primary, give it the tag ``slot_tag(slot)``: the shortest
lowercase hexadecimal string with that slot (at most five characters). The table of all 16,384
is found once, on first use (about 300,000 CRC16s, 0.2 s).

Index names are routed like keys by the Query Engine without a coordinator (``FT.CREATE`` and
``FT.SEARCH`` name the index as their key), so an index meant to live on one primary carries the
tag of one of that primary's slots: its highest. An index does not move with the slot its name
is in (it stays on the node that built it), so when the primary gives that slot away or gains a
higher one, it needs an index under a new name (``schema.ensure_on_every_primary``, run again
when a search finds the slot map changed: ``moving.settled``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from redis.crc import key_slot as _crc_slot

from remem.store.connection import slot_map_version

SLOTS = 16384
# The tag of every index name on a cluster whose Query Engine has a coordinator: one index over
# the cluster, its names (live, alias) sharing a tag as the names of a primary's index do.
COORDINATED_TAG = "all"
_TAGS: dict[Any, tuple[int, dict[str, str]]] = {}  # slot map -> (its version, primary_tags)


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
    """Node name -> the tag of the highest slot it serves, for each primary of ``cluster`` (a
    redis-py cluster client, as its slot map last stood): a name with that tag lives on that
    primary while the slot does. Kept while the map's version (``connection.slot_map_version``)
    stays: walking the 16,384 slots took 10 ms."""
    version = slot_map_version(cluster)
    kept = _TAGS.get(cluster.nodes_manager)
    if version is not None and kept is not None and kept[0] == version:
        return dict(kept[1])
    tags: dict[str, str] = {}
    for slot, nodes in sorted(cluster.nodes_manager.slots_cache.items(), reverse=True):
        tags.setdefault(nodes[0].name, slot_tag(slot))
    if version is not None:
        _TAGS[cluster.nodes_manager] = (version, tags)
    return dict(tags)
