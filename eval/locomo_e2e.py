"""End-to-end LoCoMo evidence recall: conversations written into working memory, long-term
memories made by remem's own background extraction (no LLM), questions asked as searches.

    python eval/locomo_e2e.py --data ../shared/eval/locomo [--roles all-user,a-user] \
        [--model static|minilm] [--url http://127.0.0.1:8000]

What it does, as an agent using remem would:

1. Starts a real ``remem serve`` subprocess (embedded Redis in a temporary directory, its
   worker in-process: extraction runs on pydocket as in production) with a shortened
   ``REMEM_EXTRACTION_DEBOUNCE_SECONDS`` (0.2 s) and poll interval. ``--url`` uses a running
   server instead (whose settings are then its own).
2. Writes each conversation one LoCoMo session at a time: one ``PUT /v1/working-memory/{id}``
   per session, holding that session's turns as messages ("Speaker: text", ids the dataset's
   dia_ids, ``created_at`` the session's date), in a namespace of its own per conversation and
   role assignment. The roles (``--roles``): ``all-user``, every speaker is the user;
   ``a-user``, speaker_a is the user and speaker_b the assistant.
3. Waits until extraction has made every message searchable (a search's ``total`` in the
   namespace equals the number of messages) and records how long that took after the last
   write.
4. Asks every category 1-4 question once with no ``search_mode``, through the official
   ``agent-memory-client`` (what its users send), and once per mode (semantic, keyword, hybrid)
   over HTTP with the same body plus ``search_mode``. A memory counts for the turns named in its
   ``extracted_from`` (dia ids); recall@k is the share of a question's evidence turns in the top
   k, averaged over questions.

The data is read where it lies (CC BY-NC 4.0, evaluation only); nothing is copied.

Recall@10 on the five development conversations (760 questions; default / semantic / keyword /
hybrid; all-user and a-user alike within 0.005), static model: before issue 19 0.546 / 0.546 /
0.706 / 0.741 (the default was semantic), after 0.788 / 0.562 / 0.771 / 0.788, counting
repeated words 0.793 / 0.562 / 0.773 / 0.793; MiniLM
(``--model minilm``) before 0.482 / 0.482 / 0.706 / 0.746, after 0.786 / 0.497 / 0.771 / 0.786.
Every message is searchable about 8 s after the last PUT with the static model (0.2 s
debounce), 50-120 s with MiniLM on two shared cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

MODES = ("semantic", "keyword", "hybrid")
CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
ROLES = ("all-user", "a-user")
KS = (5, 10)


def session_date(text: str) -> datetime:
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def said(turn: dict[str, Any], captions: bool) -> str:
    line = f"{turn['speaker']}: {turn['text']}"
    if captions and turn.get("blip_caption"):
        line += f" [shared a photo: {turn['blip_caption']}]"
    return line


def sessions_of(
    conv: dict[str, Any], roles: str, captions: bool
) -> list[tuple[int, list[dict[str, Any]]]]:
    """Each session's number and its turns as working-memory messages."""
    user = {conv["speaker_a"], conv["speaker_b"]} if roles == "all-user" else {conv["speaker_a"]}
    numbers = sorted(int(k.split("_")[1]) for k in conv if re.fullmatch(r"session_\d+", k))
    out = []
    for n in numbers:
        when = session_date(conv[f"session_{n}_date_time"])
        messages = [
            {
                "id": turn["dia_id"],
                "role": "user" if turn["speaker"] in user else "assistant",
                "content": said(turn, captions),
                "created_at": when.isoformat(),
            }
            for turn in conv[f"session_{n}"]
        ]
        out.append((n, messages))
    return out


def evidence_of(qa: dict[str, Any]) -> set[str]:
    ids: set[str] = set()
    for item in qa.get("evidence", []):
        for part in re.split(r"[;,]\s*", str(item)):
            m = re.fullmatch(r"D:?(\d+):(\d+)", part.strip())
            if m:
                ids.add(f"D{m.group(1)}:{m.group(2)}")
    return ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def remem_server(url: str | None, model: str) -> AsyncIterator[str]:
    """A running remem's base URL: ``url``, or a ``remem serve`` started here."""
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory() as data_dir:
        port = _free_port()
        env = {
            **os.environ,
            "REMEM_EXTRACTION_DEBOUNCE_SECONDS": "0.2",
            "REMEM_TASK_POLL_SECONDS": "0.1",
            "REMEM_LOCAL_MODEL": model,
            "REMEM_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-c", "from remem.cli import main; main()", "serve"]
        command += ["--port", str(port), "--data-dir", data_dir]
        proc = await asyncio.create_subprocess_exec(*command, env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=base) as http:
                deadline = time.monotonic() + 120
                while True:
                    with contextlib.suppress(httpx.TransportError):
                        if (await http.get("/v1/health")).status_code == 200:
                            break
                    if proc.returncode is not None or time.monotonic() > deadline:
                        raise RuntimeError("remem serve did not start")
                    await asyncio.sleep(0.2)
            yield base
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)


async def pending(http: httpx.AsyncClient, namespace: str, sessions: list[int]) -> int:
    """How many of the namespace's messages extraction has not yet made into memories (a
    message is marked extracted only after its memory is stored, and indexing a hash is
    synchronous: marked means searchable). Counting memories would not do: extraction folds a
    message whose text repeats an earlier one ("Thanks!") into that memory."""
    left = 0
    for n in sessions:
        r = await http.get(f"/v1/working-memory/session-{n}", params={"namespace": namespace})
        r.raise_for_status()
        left += sum(m["discrete_memory_extracted"] != "t" for m in r.json()["messages"])
    return left


async def write(
    http: httpx.AsyncClient, conv: dict[str, Any], namespace: str, args: Any
) -> list[int]:
    """PUT each session's messages; the sessions written."""
    written = []
    for n, messages in sessions_of(conv, args.role, args.captions):
        r = await http.put(
            f"/v1/working-memory/session-{n}",
            params={"namespace": namespace},
            json={"messages": messages, "namespace": namespace},
        )
        r.raise_for_status()
        written.append(n)
    return written


async def run(args: argparse.Namespace) -> None:
    from agent_memory_client import MemoryAPIClient, MemoryClientConfig
    from agent_memory_client.filters import Namespace

    files = sorted(args.data.glob("*.json"))
    hybrids = {f"hybrid a={a:g}": a for a in args.alphas}
    boosts = {f"hybrid e={e:g}": e for e in args.entity_boosts}
    rows = ("default", *args.modes, *hybrids, *boosts)
    hits: dict[tuple[str, str, Any, int], list[float]] = defaultdict(list)
    latency: dict[tuple[str, str], list[float]] = defaultdict(list)
    searchable: dict[str, float] = {}
    async with (
        remem_server(args.url, args.model) as base,
        httpx.AsyncClient(base_url=base, timeout=120) as http,
    ):
        client = MemoryAPIClient(MemoryClientConfig(base_url=base, timeout=120))
        try:
            for roles in args.roles:
                args.role = roles
                wanted: dict[str, list[int]] = {}
                started = time.perf_counter()
                for path in files:
                    raw = json.loads(path.read_text())
                    conv = raw.get("conversation", raw)
                    namespace = f"locomo-{roles}-{path.stem}"
                    wanted[namespace] = await write(http, conv, namespace, args)
                written = time.perf_counter()
                while wanted:
                    for ns in list(wanted):
                        if not await pending(http, ns, wanted[ns]):
                            del wanted[ns]
                    if wanted and time.perf_counter() - written > args.timeout:
                        raise RuntimeError(f"not searchable after {args.timeout}s: {wanted}")
                    await asyncio.sleep(0.1)
                searchable[roles] = time.perf_counter() - written
                print(
                    f"{roles}: {len(files)} conversations written in "
                    f"{written - started:.1f}s, all searchable {searchable[roles]:.1f}s later",
                    file=sys.stderr,
                )
                for path in files:
                    namespace = f"locomo-{roles}-{path.stem}"
                    for qa in json.loads(path.read_text()).get("qa", []):
                        evidence = evidence_of(qa)
                        if qa.get("category") not in CATEGORIES or not evidence:
                            continue
                        for row in rows:
                            t = time.perf_counter()
                            if row == "default":
                                found = await client.search_long_term_memory(
                                    qa["question"], namespace=Namespace(eq=namespace), limit=10
                                )
                                derived = [m.extracted_from or [] for m in found.memories]
                            else:
                                body = {
                                    "text": qa["question"],
                                    "namespace": {"eq": namespace},
                                    "limit": 10,
                                    "search_mode": row.split()[0],
                                }
                                if row in hybrids:
                                    body["hybrid_alpha"] = hybrids[row]
                                if row in boosts:
                                    body["entity_boost"] = boosts[row]
                                r = await http.post("/v1/long-term-memory/search", json=body)
                                r.raise_for_status()
                                derived = [m["extracted_from"] or [] for m in r.json()["memories"]]
                            latency[(roles, row)].append(time.perf_counter() - t)
                            for k in KS:
                                covered = {d for ids in derived[:k] for d in ids}
                                score = len(evidence & covered) / len(evidence)
                                hits[(roles, row, "all", k)].append(score)
                                hits[(roles, row, qa["category"], k)].append(score)
        finally:
            await client.close()

    print(f"\nLoCoMo end to end ({len(files)} conversations, model {args.model})\n")
    head = "| roles | search | recall@5 | recall@10 | "
    head += " | ".join(f"@10 {c}" for c in CATEGORIES.values()) + " | p50 ms | searchable s |"
    print(head)
    print("|---|---|--:|--:|" + "--:|" * len(CATEGORIES) + "--:|--:|")
    for roles in args.roles:
        for row in rows:
            cells = [f"{_mean(hits[(roles, row, 'all', k)]):.3f}" for k in KS]
            cells += [f"{_mean(hits[(roles, row, c, 10)]):.3f}" for c in CATEGORIES]
            lat = sorted(latency[(roles, row)])
            cells.append(f"{1000 * lat[len(lat) // 2]:.1f}")
            cells.append(f"{searchable[roles]:.1f}")
            print(f"| {roles} | {row} | " + " | ".join(cells) + " |")
    print(f"\nquestions per row: {len(hits[(args.roles[0], 'default', 'all', 10)])}")


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of LoCoMo JSON files")
    parser.add_argument("--url", help="a running remem (default: start `remem serve` here)")
    parser.add_argument("--model", default="static", choices=["static", "minilm"])
    parser.add_argument("--roles", default=",".join(ROLES), help="all-user, a-user or both")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated modes")
    parser.add_argument("--alphas", default="", help="hybrid rows with these hybrid_alpha")
    parser.add_argument("--entity-boosts", default="", help="hybrid rows with these entity_boost")
    parser.add_argument("--captions", action="store_true", help="add photo captions to turns")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for indexing")
    args = parser.parse_args()
    args.roles = tuple(r for r in args.roles.split(",") if r)
    args.modes = tuple(m for m in args.modes.split(",") if m)
    args.alphas = tuple(float(a) for a in args.alphas.split(",") if a)
    args.entity_boosts = tuple(float(a) for a in args.entity_boosts.split(",") if a)
    if set(args.roles) - set(ROLES) or set(args.modes) - set(MODES):
        parser.error("unknown role assignment or mode")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
