"""A memory's document survives the HASH layout: what is written is what is read back, a None
being no field at all."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from remem.store.longterm.layout import DEFAULTS, decode, decode_fields, encode

tag = st.text(st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=8)
json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
documents = st.fixed_dictionaries(
    {
        "id": tag,
        "text": st.text(min_size=1, max_size=20),
        "namespace": st.none() | tag,
        "user_id": st.none() | tag,
        "pinned": st.booleans(),
        "access_count": st.integers(0, 2**53 - 1),
        "created_at": st.floats(0, 2e10),
        "event_date": st.none() | st.floats(-6e10, 2e11),
        "topics": st.none() | st.lists(tag, max_size=3, unique=True),
        "entities": st.none() | st.lists(tag, max_size=3, unique=True),
        "metadata": st.none() | st.dictionaries(st.text(max_size=4), json_value, max_size=3),
        "extraction_strategy_config": st.dictionaries(st.text(max_size=4), json_value, max_size=2),
        "search_text": st.none() | st.text(min_size=1, max_size=20),
    }
)


def as_read(doc: dict[str, Any]) -> dict[str, Any]:
    """What a store read gives for ``doc``: no None fields, ``search_text`` always there."""
    out = {k: v for k, v in doc.items() if v is not None}
    out["search_text"] = out.get("search_text") or out["text"]
    return {**{k: v for k, v in DEFAULTS.items()}, **out}


def stored(doc: dict[str, Any]) -> dict[bytes, bytes]:
    return {k.encode(): v if isinstance(v, bytes) else v.encode() for k, v in encode(doc).items()}


@given(documents)
def test_a_document_reads_back_as_written(doc: dict[str, Any]) -> None:
    assert decode(stored(doc)) == as_read(doc)


@given(documents)
def test_fields_read_back_as_written(doc: dict[str, Any]) -> None:
    names = ["pinned", "topics", "created_at", "metadata", "access_count"]
    fields = stored(doc)
    values = [fields.get(n.encode()) for n in names]
    expected = {n: v for n, v in as_read(doc).items() if n in names}
    assert decode_fields(names, values) == expected


def test_the_vector_is_kept_once_in_half_precision() -> None:
    vector = np.linspace(-1, 1, 256)
    fields = encode({"id": "v", "text": "t", "embedding": vector})
    assert len(fields["embedding"]) == 512
    back = decode({b"embedding": fields["embedding"]})["embedding"]  # type: ignore[dict-item]
    assert np.max(np.abs(np.asarray(back) - vector)) < 5e-4
