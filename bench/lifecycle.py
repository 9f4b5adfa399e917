"""Extraction with an LLM over a 200-turn conversation: LLM calls, prompt tokens (in total, per
turn, against the conversation's own), and the time from a write until its memories are
searchable.

    python bench/lifecycle.py [--turns 200] [--debounce 0.5]

Starts a Redis with the Query Engine on a free port (the embedded Redis's binaries), the scripted
OpenAI-compatible server of tests/llm_server.py (one memory per user turn, citing it; "different"
to the dedup judge), and remem's app served in-process over real HTTP with its worker, the LLM
pointed at the scripted server and ``extraction_debounce_seconds`` = ``--debounce`` (0.5 s here;
the default is longer). The conversation is written exchange by exchange (a user turn and the
assistant's answer appended by ``POST /v1/working-memory/{id}/messages``); after each, the script
polls search (every 20 ms) until the user turn's memory is found, then writes the next. So every
exchange is one batch: the most batches, and the most context resent, a conversation can cost.

Tokens are estimated as characters / 4 (no tokenizer is installed; the scripted server's own
count is words, printed too). The fixed part of a call is its system messages (the schema and
the instruction); the rest is the batch (new messages and context as JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.llm_server
from migrate_ams import bench_redis
from tests.llm_server import Answer, Call, FakeLLM, llm_server
from tests.serving import served

from remem.api.app import create_app
from remem.config import Settings

EXTRACT = ("ExtractedMemories", "ExtractedSummary")
SCOPE = {"namespace": "bench", "user_id": "ana"}

PLACES = ["Lisbon", "the harbour", "Porto", "the old market", "Sintra", "the river walk"]
PEOPLE = ["my sister Rita", "my colleague Tom", "my neighbour Jo", "my friend Sam"]
THINGS = ["the ferry", "the tiles", "the bakery", "the tram", "the museum", "the castle"]
PLANS = ["book a table", "buy tickets", "rent bikes", "call the hotel", "pack light"]


def user_turn(i: int, rng: random.Random) -> str:
    return (
        f"Note {i}: yesterday I went to {rng.choice(PLACES)} with {rng.choice(PEOPLE)}; "
        f"she loved {rng.choice(THINGS)}. Next week we want to {rng.choice(PLANS)} and maybe "
        f"visit {rng.choice(PLACES)} again if the weather holds."
    )


def assistant_turn(i: int, rng: random.Random) -> str:
    return (
        f"That sounds like a lovely day. {rng.choice(THINGS).capitalize()} is a favourite for "
        f"many visitors. For next week I can help you {rng.choice(PLANS)}; mornings are quieter "
        f"at {rng.choice(PLACES)}, and it is worth checking the forecast the day before."
    )


def schema_name(call: Call) -> str | None:
    fmt = call.response_format or {}
    return fmt.get("json_schema", {}).get("name") if fmt.get("type") == "json_schema" else None


def respond(call: Call) -> Answer:

    if schema_name(call) not in EXTRACT:
        pairs = len(call.user_json.get("pairs", []))
        return Answer.json(
            {"verdicts": [{"pair": n, "verdict": "different"} for n in range(1, pairs + 1)]}
        )
    batch = json.loads(next(m for m in call.messages if m["role"] == "user")["content"])
    memories = [
        {
            "text": "User: " + m["text"][:300],
            "memory_type": "episodic",
            "topics": ["travel"],
            "entities": ["User"],
            "event_date": m["at"],
            "extracted_from": [m["id"]],
        }
        for m in batch["messages"]
        if m["role"] == "user"
    ]
    return Answer.json({"memories": memories})


def tokens(text: str) -> float:
    return len(text) / 4


def split(call: Call) -> tuple[float, float, float]:
    """(instruction, context, new messages) estimated tokens of one call: the JSON of the
    context and of the new messages, ids, roles, dates and quoting included."""
    fixed = sum(tokens(str(m["content"])) for m in call.messages if m["role"] == "system")
    sent = next(m for m in call.messages if m["role"] == "user")["content"]
    data = json.loads(sent)
    context = tokens(json.dumps(data["context"], ensure_ascii=False, separators=(",", ":")))
    return fixed, context, tokens(sent) - context


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def searchable(http: httpx.AsyncClient, text: str, message_id: str) -> bool:
    body: dict[str, Any] = {"text": text, "limit": 10, "session_id": {"eq": "talk"}}
    r = await http.post("/v1/long-term-memory/search", json=body)
    r.raise_for_status()
    return any(message_id in (m["extracted_from"] or []) for m in r.json()["memories"])


async def converse(http: httpx.AsyncClient, turns: int) -> tuple[list[float], int]:
    """Write the conversation; the seconds from each exchange's write to its memory found."""
    rng = random.Random(7)
    waits: list[float] = []
    chars = 0
    for i in range(0, turns, 2):
        said = user_turn(i, rng)
        answer = assistant_turn(i + 1, rng)
        chars += len(said) + len(answer)
        messages = [
            {"role": "user", "content": said, "id": f"m{i}"},
            {"role": "assistant", "content": answer, "id": f"m{i + 1}"},
        ]
        r = await http.post(
            "/v1/working-memory/talk/messages", json={**SCOPE, "messages": messages}
        )
        r.raise_for_status()
        written = time.monotonic()
        while not await searchable(http, said, f"m{i}"):
            if time.monotonic() - written > 30:
                sys.exit(f"exchange {i // 2}: its memory was not searchable after 30 s")
            await asyncio.sleep(0.02)
        waits.append(time.monotonic() - written)
    return waits, chars


async def main(turns: int, debounce: float) -> None:
    async with bench_redis() as (redis_url, _, _), llm_server() as llm:
        llm.respond = respond
        settings = Settings(
            redis_url=redis_url,
            llm_base_url=llm.base_url,
            llm_api_key=None,
            llm_model="bench",
            extraction_debounce_seconds=debounce,
        )
        async with served(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
            waits, chars = await converse(http, turns)
        report(llm, turns, chars, waits, debounce)


def report(llm: FakeLLM, turns: int, chars: int, waits: list[float], debounce: float) -> None:
    calls = [c for c in llm.calls if schema_name(c) in EXTRACT]
    judged = len(llm.calls) - len(calls)
    parts = [split(c) for c in calls]
    fixed = [f for f, _, _ in parts]
    context = [c for _, c, _ in parts]
    new = [n for _, _, n in parts]
    batch = [c + n for c, n in zip(context, new, strict=True)]
    conversation = chars / 4
    total = sum(fixed) + sum(batch)
    words = sum(sum(len(str(m["content"]).split()) for m in c.messages) for c in calls)
    print(f"{turns} turns, {turns // 2} exchanges written one by one; debounce {debounce} s")
    print(f"LLM calls: {len(calls)} extraction ({judged} dedup-judge calls besides)")
    print(f"conversation: {conversation:,.0f} tokens (chars/4)")
    print(
        f"prompt tokens sent: {total:,.0f} in total, {total / turns:,.0f} per turn "
        f"(the scripted server's word count: {words:,})"
    )
    print(
        f"  per call: {statistics.mean(fixed):,.0f} instruction and schema (fixed), "
        f"{statistics.mean(context):,.0f} context (at most {max(context):,.0f}: bounded)"
    )
    ratio = sum(new) / conversation
    print(
        f"  new messages as sent: {sum(new):,.0f} = {ratio:.2f}x the conversation "
        f"(goal <= 1.5x: {'met' if ratio <= 1.5 else 'MISS'}); with context "
        f"{sum(batch) / conversation:.2f}x"
    )
    for upto in (turns // 4, turns // 2, 3 * turns // 4, turns):
        n = upto // 2
        print(f"  after {upto:>3} turns: {sum(fixed[:n]) + sum(batch[:n]):>9,.0f} tokens sent")
    p50, p95 = pct(waits, 0.5), pct(waits, 0.95)
    goal = debounce + 1
    verdict = "met" if p95 <= goal else "MISS"
    print(
        f"write -> searchable: p50 {p50:.3f} s, p95 {p95:.3f} s, max {max(waits):.3f} s "
        f"(goal p95 <= debounce + 1 s = {goal:.1f} s: {verdict})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--debounce", type=float, default=0.5)
    args = parser.parse_args()
    asyncio.run(main(args.turns, args.debounce))
