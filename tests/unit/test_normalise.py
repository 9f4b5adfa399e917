"""What deduplication treats as the same text (memory.dedup.normalise)."""

from __future__ import annotations

import pytest

from remem.memory.sameness import hash_of, hashes_of, memory_hash, normalise


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Alice likes tea", "alice likes tea"),
        ("  Alice\tlikes \n tea!  ", "alice likes tea"),
        ("Alice likes tea.", "alice likes tea"),
        ("“Alice” likes (green) tea, a lot", "alice likes green tea a lot"),
        ("Ａｌｉｃｅ ﬁle\u00a0①", "alice file 1"),  # noqa: RUF001 (NFKC: fullwidth, ligature, no-break space)
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # case folding
        ("Version 3.5, not 35.", "version 3.5 not 35"),  # inside a number it stays
        ("The rent is $1,200; at 9:30.", "the rent is $1,200 at 9:30"),
        ("It was -5 °C, 50% less", "it was -5 °c 50% less"),  # signs, units, symbols stay
        ("can't", "can t"),
        ("can’t", "can t"),  # noqa: RUF001
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected
    assert normalise(expected) == expected  # idempotent


def test_hash_is_of_the_normalised_text_within_its_scope() -> None:
    assert memory_hash("Likes tea!", "n", "u", "semantic") == memory_hash(
        "likes  TEA", "n", "u", "semantic"
    )
    assert memory_hash("likes tea", "n", "u", "semantic") != memory_hash(
        "likes tea", "m", "u", "semantic"
    )
    plain = {"text": "likes tea", "memory_type": "semantic"}
    assert len(hashes_of(plain)) == 1  # already normalised
    assert hashes_of({**plain, "text": "Likes tea!"})[0] == memory_hash(
        "likes tea", None, None, "semantic"
    )


def test_a_managed_place_is_part_of_the_hash_and_an_unplaced_memory_keeps_its_own() -> None:
    doc = {"text": "likes tea", "namespace": "n", "user_id": "u", "memory_type": "semantic"}
    unplaced = hash_of(doc)
    assert unplaced == memory_hash("likes tea", "n", "u", "semantic")  # as before places
    here, there = hash_of({**doc, "namespace_id": "a"}), hash_of({**doc, "namespace_id": "b"})
    labelled = hash_of({**doc, "namespace_label": "Work"})
    assert len({unplaced, here, there, labelled}) == 4
    assert labelled == hash_of({**doc, "namespace_label": "WORK"})  # labels match in any case
