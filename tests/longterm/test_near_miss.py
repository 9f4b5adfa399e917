"""Deduplication never merges distinct facts: texts that differ in a number, a time, a day, a
date, a name, a place, a negation, a relation, a unit or an amount are all stored, whether sent
one by one or in one request; texts that are the same after normalisation (case, whitespace,
punctuation, Unicode NFKC) are stored once (the real app, the bundled embedding model, which puts
"Meeting with Anna at 3pm on Monday" 0.000005 from "... at 4pm on Monday")."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

LTM = "/v1/long-term-memory"

# Each pair states two different facts; neither may absorb the other.
NEAR_MISSES: list[tuple[str, str]] = [
    # numbers
    ("Anna has 2 cats", "Anna has 3 cats"),
    ("The team has 12 members", "The team has 21 members"),
    ("Room 101 is booked for the review", "Room 110 is booked for the review"),
    ("Test memory 1 for deletion", "Test memory 2 for deletion"),
    ("Test memory 2 for deletion", "Test memory 3 for deletion"),
    ("Version 3.5 is deployed in production", "Version 35 is deployed in production"),
    ("The flight number is BA 117", "The flight number is BA 171"),
    ("Bob ran 5 marathons last year", "Bob ran 50 marathons last year"),
    ("The locker code is 1234", "The locker code is 1243"),
    # times
    ("Meeting with Anna at 3pm on Monday", "Meeting with Anna at 4pm on Monday"),
    ("Standup is at 9:30", "Standup is at 9:45"),
    ("The gym opens at 6 am", "The gym opens at 6 pm"),
    ("The train leaves at 08:15", "The train leaves at 18:15"),
    ("Call the dentist at 2:00", "Call the dentist at 2:30"),
    ("Lunch with the team is at noon", "Lunch with the team is at midnight"),
    # days
    ("Meeting with Anna at 3pm on Tuesday", "Meeting with Anna at 3pm on Wednesday"),
    ("The meeting is on Monday at 3pm", "The meeting is on Tuesday at 3pm"),
    ("Yoga class is every Wednesday", "Yoga class is every Thursday"),
    ("The bins go out on Friday", "The bins go out on Saturday"),
    ("The office is closed on Sunday", "The office is closed on Saturday"),
    # dates
    ("Anna's birthday is on March 3", "Anna's birthday is on March 8"),
    ("The lease ends on 2025-06-30", "The lease ends on 2025-07-30"),
    ("The conference is on 12/05/2024", "The conference is on 05/12/2024"),
    ("Bob started the job in 2019", "Bob started the job in 2021"),
    ("The invoice is due on the 1st", "The invoice is due on the 15th"),
    ("The passport expires in January 2027", "The passport expires in June 2027"),
    # names
    ("Anna likes green tea", "Maria likes green tea"),
    ("The project lead is John Smith", "The project lead is John Smyth"),
    ("Send the quarterly report to Alice", "Send the quarterly report to Alicia"),
    ("The cat is called Whiskers", "The cat is called Mittens"),
    ("Bob's manager is Carol", "Bob's manager is Karen"),
    ("The user's login is jdoe", "The user's login is jdoe2"),
    # places
    ("Alice lives in Paris", "Alice lives in London"),
    ("The user was born in Austin, Texas", "The user was born in Austin, Minnesota"),
    ("The team offsite is in Lisbon", "The team offsite is in Porto"),
    ("Bob works at the Berlin office", "Bob works at the Munich office"),
    ("The keys are in the kitchen drawer", "The keys are in the bedroom drawer"),
    ("The user moved to New York", "The user moved to New Jersey"),
    # negations
    ("The user likes coffee", "The user does not like coffee"),
    ("Anna is vegetarian", "Anna is not vegetarian"),
    ("The user can drive", "The user can't drive"),
    ("Bob has a car", "Bob has no car"),
    ("The server is reachable", "The server is unreachable"),
    ("The user wants email notifications", "The user never wants email notifications"),
    ("The deadline was met", "The deadline was not met"),
    # relations
    ("Sam is my sister", "Sam is my brother"),
    ("Tom is Alice's father", "Tom is Alice's grandfather"),
    ("Carol is the user's wife", "Carol is the user's ex-wife"),
    ("Mike is the user's boss", "Mike is the user's colleague"),
    ("Lena is the user's aunt", "Lena is the user's niece"),
    ("Paul is Anna's husband", "Paul is Anna's son"),
    ("The user owes Bob $50", "Bob owes the user $50"),
    # units
    ("The table is 2 m long", "The table is 2 cm long"),
    ("The user weighs 70 kg", "The user weighs 70 lb"),
    ("Take 5 mg of the medicine", "Take 5 g of the medicine"),
    ("The morning run was 10 km", "The morning run was 10 miles"),
    ("Bake the bread at 180 °C", "Bake the bread at 180 °F"),
    ("The attachment is 4 MB", "The attachment is 4 GB"),
    ("The temperature was -5 degrees", "The temperature was 5 degrees"),
    # amounts
    ("The rent is $1,200 a month", "The rent is $1,500 a month"),
    ("Lunch cost €12", "Lunch cost £12"),
    ("The budget is 10000 dollars", "The budget is 100000 dollars"),
    ("The salary is 5k per month", "The salary is 5k per year"),
    ("Buy 2 litres of milk", "Buy 2 litres of oat milk"),
    ("The discount is 15%", "The discount is 50%"),
    ("The bus ticket costs 3.50", "The bus ticket costs 350"),
]

# Each group is one fact written several ways that normalisation makes equal.
DUPLICATES: list[list[str]] = [
    ["Anna likes green tea", "Anna likes green tea"],  # exact
    ["The user prefers window seats", "the USER prefers Window Seats"],  # case
    ["Bob plays chess on Sundays", "  Bob  plays chess\ton   Sundays \n"],  # whitespace
    ["The meeting moved to Friday", "The meeting moved to Friday.", "The meeting moved to Friday!"],
    ["Budget approved", "Ｂｕｄｇｅｔ ａｐｐｒｏｖｅｄ"],  # noqa: RUF001 (NFKC: fullwidth)
    ["The final file is ready", "The ﬁnal ﬁle is ready"],  # NFKC: ligature
    ["Alice moved to Rome", "Alice moved to\u00a0Rome"],  # NFKC: no-break space
]


def texts_of_pairs() -> list[str]:
    return list(dict.fromkeys(t for pair in NEAR_MISSES for t in pair))


async def create(client: httpx.AsyncClient, memories: list[dict[str, object]]) -> None:
    r = await client.post(f"{LTM}/", json={"memories": memories})
    assert r.status_code == 200, r.text


async def total(client: httpx.AsyncClient, namespace: str) -> int:
    r = await client.post(
        f"{LTM}/search", json={"text": "", "namespace": {"eq": namespace}, "limit": 1}
    )
    assert r.status_code == 200, r.text
    found: int = r.json()["total"]
    return found


async def text_of(client: httpx.AsyncClient, memory_id: str) -> str | None:
    r = await client.get(f"{LTM}/{quote(memory_id, safe='')}")
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    text: str = r.json()["text"]
    return text


def test_the_suite_is_large_enough() -> None:
    assert len(NEAR_MISSES) >= 60
    assert all(a != b for a, b in NEAR_MISSES)


@pytest.mark.parametrize("one_request", [False, True], ids=["one-by-one", "one-request"])
async def test_near_misses_are_all_stored(client: httpx.AsyncClient, one_request: bool) -> None:
    """No fact that differs from another in a detail is merged into it."""
    texts = texts_of_pairs()
    memories = [{"id": f"m{n}", "text": t, "namespace": "n"} for n, t in enumerate(texts)]
    if one_request:
        await create(client, memories)
    else:
        for memory in memories:
            await create(client, [memory])
    lost = [m["text"] for m in memories if await text_of(client, str(m["id"])) != m["text"]]
    assert lost == [], f"{len(lost)} of {len(texts)} facts merged away: {lost[:10]}"
    assert await total(client, "n") == len(texts)


@pytest.mark.parametrize("one_request", [False, True], ids=["one-by-one", "one-request"])
async def test_normalised_duplicates_are_stored_once(
    client: httpx.AsyncClient, one_request: bool
) -> None:
    """Case, whitespace, punctuation and NFKC forms make no new memory."""
    memories = [
        {"id": f"g{g}v{v}", "text": text, "namespace": "n", "topics": [f"t{v}"]}
        for g, group in enumerate(DUPLICATES)
        for v, text in enumerate(group)
    ]
    if one_request:
        await create(client, memories)
    else:
        for memory in memories:
            await create(client, [memory])
    assert await total(client, "n") == len(DUPLICATES)
    for g, group in enumerate(DUPLICATES):
        assert await text_of(client, f"g{g}v0") == group[0]  # the first one written stays
        assert [await text_of(client, f"g{g}v{v}") for v in range(1, len(group))] == [None] * (
            len(group) - 1
        )


async def test_same_text_in_another_namespace_or_for_another_user_is_kept(
    client: httpx.AsyncClient,
) -> None:
    text = "Anna likes green tea"
    scopes: list[dict[str, object]] = [
        {"namespace": "n"},
        {"namespace": "n2"},
        {"namespace": "n", "user_id": "u"},
        {"namespace": "n", "user_id": "v"},
    ]
    for one_request in (True, False):
        tag = "r" if one_request else "s"
        memories = [{"id": f"{tag}{n}", "text": text, **s} for n, s in enumerate(scopes)]
        if one_request:
            await create(client, memories)
        else:
            for memory in memories:
                await create(client, [memory])
        assert [await text_of(client, str(m["id"])) for m in memories] == [text] * 4
        await client.delete(LTM, params={"memory_ids": [str(m["id"]) for m in memories]})


async def test_pinned_memories_are_kept(client: httpx.AsyncClient) -> None:
    await create(client, [{"id": "p", "text": "Anna likes green tea", "pinned": True}])
    await create(client, [{"id": "q", "text": "Maria likes green tea"}])
    await create(client, [{"id": "r", "text": "anna likes green tea!"}])
    assert await text_of(client, "p") == "Anna likes green tea"
    assert await text_of(client, "q") == "Maria likes green tea"
    assert await text_of(client, "r") is None  # the pinned memory holds that fact already
    assert (await client.get(f"{LTM}/p")).json()["pinned"] is True
