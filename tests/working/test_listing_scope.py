"""Listing sessions within a caller's scope (namespace patterns, ``remem.auth``): exact names
and prefixes, every matching namespace counted however many there are, hostile characters
matched literally."""

from __future__ import annotations

import asyncio

from remem.models.working import UpdateWorkingMemory
from remem.runtime import Resources


async def put(res: Resources, session_id: str, namespace: str | None, user: str | None) -> None:
    body = UpdateWorkingMemory(namespace=namespace, user_id=user)
    await res.working.put(session_id, body)


async def listed(res: Resources, *patterns: str, user: str | None = None) -> tuple[int, set[str]]:
    page = await res.working.list_sessions(
        namespaces=patterns, user_id=user, limit=100, offset=0, sort="created_at", descending=True
    )
    return page.total, set(page.sessions)


async def test_a_prefix_covers_every_namespace_under_it_past_the_engines_200(
    resources: Resources,
) -> None:
    """The engine's own prefix query stops at 200 expanded values (MAXPREFIXEXPANSIONS):
    a tenant with 300 namespaces under its prefix still lists all its sessions."""
    for start in range(0, 300, 20):  # in batches: the pool holds a bounded number of connections
        await asyncio.gather(
            *(put(resources, f"s{i}", f"acme/{i}", None) for i in range(start, start + 20))
        )
    await put(resources, "other", "acmeX", None)
    await put(resources, "none", None, None)
    total, _ = await listed(resources, "acme/*")
    assert total == 300


async def test_a_one_character_prefix_and_hostile_characters(resources: Resources) -> None:
    """A one-character prefix finds its namespaces (the engine's MINPREFIX is 2); unicode and
    query-syntax characters match literally; exact names and prefixes combine."""
    layout = {
        "a1": ("a", "u1"),
        "a2": ("ab|c", "u2"),
        "b1": ("b-ü {t}|x/one", "u1"),
        "b2": ("b-ü {t}|x/two", "u2"),
        "b3": ("b-ü {t}|xylophone", "u1"),
        "c1": ("c*", "u1"),
        "n1": (None, "u1"),
    }
    for sid, (namespace, user) in layout.items():
        await put(resources, sid, namespace, user)
    assert await listed(resources, "a*") == (2, {"a1", "a2"})
    assert await listed(resources, "b-ü {t}|x/*") == (2, {"b1", "b2"})
    assert await listed(resources, "b-ü {t}|x/*", user="u1") == (1, {"b1"})
    assert await listed(resources, "b-ü {t}|xylophone", "a*") == (3, {"b3", "a1", "a2"})
    assert await listed(resources, "zzz*") == (0, set())
    assert await listed(resources, "ab|c") == (1, {"a2"})  # exact: the | is no OR
