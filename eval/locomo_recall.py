"""Evidence recall@k of remem's long-term search on LoCoMo conversations, with no LLM.

    python eval/locomo_recall.py --data ../shared/eval/locomo [--url http://127.0.0.1:8000]

Every turn of each conversation is stored as one memory through the REST API (id = the turn's
dia_id, one namespace per conversation). The memory's ``text`` is the turn as said
("Speaker: words [shared a photo: caption]"), its ``event_date`` the session's date, and its
``search_text`` (remem's extra field, what keyword search reads) the session date and the two
turns before and after it, and its ``entities`` the speaker (who the turn is about, as an
extractor would record it; remem boosts memories whose entities a question names). Each
category 1-4 question is then asked as a search in each mode, and we count how many of its
evidence turns are in the top 5 and top 10 (averaged over questions). ``--modes`` picks modes;
``--alphas 0.25,0.35,0.5`` asks hybrid search once per ``hybrid_alpha`` (default: the server's).

Without --url the script starts remem in-process on an embedded Redis in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

MODES = ("semantic", "keyword", "hybrid")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
CONTEXT_TURNS = 2


def _date(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y")


def _said(turn: dict[str, Any]) -> str:
    line = f"{turn['speaker']}: {turn['text']}"
    if turn.get("blip_caption"):
        line += f" [shared a photo: {turn['blip_caption']}]"
    return line


def memories_of(conversation: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    out = []
    sessions = sorted(int(k.split("_")[1]) for k in conversation if re.fullmatch(r"session_\d+", k))
    for n in sessions:
        turns = conversation[f"session_{n}"]
        when = _date(conversation[f"session_{n}_date_time"])
        for i, turn in enumerate(turns):
            around = turns[max(0, i - CONTEXT_TURNS) : i + CONTEXT_TURNS + 1]
            context = "\n".join([when.strftime("%d %B %Y"), *(_said(t) for t in around)])
            out.append(
                {
                    "id": f"{namespace}:{turn['dia_id']}",
                    "text": _said(turn),
                    "search_text": context,
                    "namespace": namespace,
                    "memory_type": "episodic",
                    "entities": [turn["speaker"]],
                    "event_date": when.isoformat() + "Z",
                    "metadata": {"dia_id": turn["dia_id"]},
                }
            )
    return out


def evidence_of(qa: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    for item in qa.get("evidence", []):
        for part in re.split(r"[;,]\s*", str(item)):
            m = re.fullmatch(r"D:?(\d+):(\d+)", part.strip())
            if m:
                ids.add(f"D{m.group(1)}:{m.group(2)}")
    return ids


@contextlib.asynccontextmanager
async def remem(url: str | None) -> AsyncIterator[httpx.AsyncClient]:
    if url:
        async with httpx.AsyncClient(base_url=url, timeout=120) as http:
            yield http
        return
    from remem.api.app import create_app
    from remem.config import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir), redis_url=None))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://remem", timeout=120
            ) as http:
                yield http


def searches(modes: tuple[str, ...], alphas: tuple[float, ...]) -> dict[str, dict[str, Any]]:
    """The searches to ask each question: a row label -> the request's mode fields."""
    out: dict[str, dict[str, Any]] = {}
    for mode in modes:
        if mode == "hybrid" and alphas:
            for alpha in alphas:
                out[f"hybrid a={alpha:g}"] = {"search_mode": mode, "hybrid_alpha": alpha}
        else:
            out[mode] = {"search_mode": mode}
    return out


async def run(
    data: Path,
    url: str | None,
    modes: tuple[str, ...] = MODES,
    ks: tuple[int, ...] = (5, 10),
    alphas: tuple[float, ...] = (),
) -> None:
    rows = searches(modes, alphas)
    files = sorted(data.glob("*.json"))
    hits: dict[tuple[str, int | str, int], list[float]] = defaultdict(list)
    latencies: dict[str, list[float]] = defaultdict(list)
    async with remem(url) as http:
        for path in files:
            conv = json.loads(path.read_text())
            conv = conv.get("conversation", conv)
            namespace = f"locomo-{path.stem}"
            memories = memories_of(conv, namespace)
            started = time.perf_counter()
            for i in range(0, len(memories), 200):
                r = await http.post(
                    "/v1/long-term-memory/",
                    json={"memories": memories[i : i + 200], "deduplicate": False},
                )
                r.raise_for_status()
            stored = time.perf_counter() - started
            qas = [
                q
                for q in json.loads(path.read_text()).get("qa", [])
                if q.get("category") in CATEGORIES
            ]
            for qa in qas:
                wanted = evidence_of(qa)
                if not wanted:
                    continue
                for mode, fields in rows.items():
                    t = time.perf_counter()
                    r = await http.post(
                        "/v1/long-term-memory/search",
                        json={
                            "text": qa["question"],
                            "namespace": {"eq": namespace},
                            **fields,
                            "limit": max(ks),
                            "recency_boost": False,
                        },
                    )
                    latencies[mode].append(time.perf_counter() - t)
                    r.raise_for_status()
                    found = [m["id"].split(":", 1)[1] for m in r.json()["memories"]]
                    for k in ks:
                        score = len(wanted & set(found[:k])) / len(wanted)
                        hits[(mode, "all", k)].append(score)
                        hits[(mode, qa["category"], k)].append(score)
            print(
                f"{path.name}: {len(memories)} turns stored in {stored:.1f}s, {len(qas)} questions",
                file=sys.stderr,
            )

    print(f"\nLoCoMo evidence recall ({len(files)} conversations, categories 1-4)\n")
    print(
        "| mode | recall@5 | recall@10 | "
        + " | ".join(f"@10 {CATEGORIES[c]}" for c in CATEGORIES)
        + " | search p50 ms |"
    )
    print("|---|--:|--:|" + "--:|" * len(CATEGORIES) + "--:|")
    for mode in rows:
        cells = [f"{_mean(hits[(mode, 'all', k)]):.3f}" for k in ks]
        cells += [f"{_mean(hits[(mode, c, 10)]):.3f}" for c in CATEGORIES]
        lat = sorted(latencies[mode])
        cells.append(f"{1000 * lat[len(lat) // 2]:.1f}" if lat else "-")
        print(f"| {mode} | " + " | ".join(cells) + " |")
    print(f"\nquestions: {len(hits[(next(iter(rows)), 'all', 10)])}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of LoCoMo JSON files")
    parser.add_argument("--url", help="a running remem (default: start one in-process)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated search modes")
    parser.add_argument("--alphas", default="", help="comma-separated hybrid_alpha values")
    args = parser.parse_args()
    modes = tuple(m for m in args.modes.split(",") if m)
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s): {', '.join(sorted(unknown))}")
    alphas = tuple(float(a) for a in args.alphas.split(",") if a)
    asyncio.run(run(args.data, args.url, modes, alphas=alphas))


if __name__ == "__main__":
    main()
