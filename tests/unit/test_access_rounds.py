"""The access flush's rounds: each id once a round, with the namespace it was hit in."""

from __future__ import annotations

from remem.memory.access import rounds


def test_an_id_hit_in_two_namespaces_is_written_in_two_rounds() -> None:
    batch = {("a", "x"): (2, 5.0), ("b", None): (1, 3.0), ("a", "y"): (1, 4.0)}
    assert rounds(batch) == [
        ({"a": (2, 5.0), "b": (1, 3.0)}, {"a": "x", "b": None}),
        ({"a": (1, 4.0)}, {"a": "y"}),
    ]
    assert rounds({}) == []
