"""Hash slots: remem's CRC16 agrees with Redis's, and every slot has a tag that lands on it."""

from __future__ import annotations

from remem.store.slots import SLOTS, key_slot, slot_tag


def test_slots_are_those_redis_documents() -> None:
    # The examples of the Redis Cluster specification (CRC16 of "123456789" is 0x31C3).
    assert key_slot("123456789") == 0x31C3 % SLOTS
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers")
    assert key_slot("foo{}{bar}") != key_slot("foo{}{bar}x")  # an empty tag: the whole key
    assert key_slot("remem:wm:{ns}:u:s") == key_slot("ns")


def test_every_slot_has_a_short_tag_of_its_own() -> None:
    tags = [slot_tag(slot) for slot in range(SLOTS)]
    assert all(key_slot(f"remem:idx:x:{{{tag}}}") == slot for slot, tag in enumerate(tags))
    assert len(set(tags)) == SLOTS and max(map(len, tags)) <= 5
