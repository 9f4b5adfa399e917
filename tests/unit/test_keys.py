"""Working-memory keys cannot be ambiguous."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from remem.store.keys import Keys, LegacyKeys

keys = Keys("remem:")
part = st.one_of(st.none(), st.text(min_size=1, max_size=30))


def test_namespace_and_user_never_collide() -> None:
    # The upstream layout gives working_memory:a:s for both; remem keeps them apart.
    assert LegacyKeys.working_memory("s", None, "a") == LegacyKeys.working_memory("s", "a", None)
    assert keys.working_memory("s", None, "a") != keys.working_memory("s", "a", None)


def test_namespace_is_a_hash_tag() -> None:
    assert keys.working_memory("s", "u", "ns").startswith("remem:wm:{ns}:")


@given(session=st.text(min_size=1, max_size=30), user=part, namespace=part)
def test_keys_round_trip(session: str, user: str | None, namespace: str | None) -> None:
    key = keys.working_memory(session, user, namespace)
    assert keys.parse_working_memory(key) == (namespace or None, user or None, session)


@given(a=st.tuples(st.text(min_size=1), part, part), b=st.tuples(st.text(min_size=1), part, part))
def test_distinct_parts_give_distinct_keys(
    a: tuple[str, str | None, str | None], b: tuple[str, str | None, str | None]
) -> None:
    norm = lambda t: (t[0], t[1] or None, t[2] or None)  # noqa: E731
    if norm(a) != norm(b):
        assert keys.working_memory(*a) != keys.working_memory(*b)
