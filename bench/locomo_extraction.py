"""Which memories should extraction make without an LLM? LoCoMo evidence recall for three forms.

```
python bench/locomo_extraction.py --data ../shared/eval/locomo [--mode hybrid] [--forms ...]
```

Each LoCoMo conversation is stored in its own namespace, through remem's own long-term create
path (embedding, dedup, index) on an embedded Redis in a temporary directory, in one of these
forms, then every answerable question (categories 1-4) is asked as a search:

- ``message``: one memory per turn, "speaker: text" (what ``VerbatimExtractor`` makes);
- ``slide-W``: one memory per turn holding it and the W-1 turns before it (the context an
  extraction run already reads), derived from those W turns;
- ``chunk-W``: one memory per W consecutive turns of a session, no overlap;
- ``context-B``: one memory per turn, its keyword text (``search_text``) the session date and
  the B turns before it (what ``eval/locomo_recall.py`` does with two turns either side; an
  extraction run knows only the turns before a new message).

A memory counts for the turns it was derived from (the dataset README's rule). Recall is given
two ways, because a memory of three turns costs three turns of the agent's prompt:

- at k memories (5, 10): what a client asking for ``limit=k`` gets;
- at a budget of T turns (10, 20): results taken in rank order while their turns fit in T
  (a turn repeated by overlapping windows counts each time: the prompt repeats it), the fair
  comparison for a prompt of a given size.

The data is read from where it lies (CC BY-NC 4.0, evaluation only); nothing is copied.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from remem.config import Settings
from remem.models.memory import MemoryRecord, MemoryTypeEnum
from remem.models.search import NewMemoryRecord, SearchRequest, TagFilter
from remem.runtime import Resources


def turns_of(conversation: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """The sessions of a conversation in order, each a list of turns with their date."""
    sessions = []
    n = 1
    while f"session_{n}" in conversation:
        when = _date(conversation.get(f"session_{n}_date_time", ""))
        turns = []
        for turn in conversation[f"session_{n}"]:
            text = turn["text"]
            if turn.get("blip_caption"):
                text += f" [shares a photo: {turn['blip_caption']}]"
            turns.append({"id": turn["dia_id"], "text": f"{turn['speaker']}: {text}", "at": when})
        sessions.append(turns)
        n += 1
    return sessions


def _date(text: str) -> datetime:
    match = re.match(r"(\d+):(\d+) (am|pm) on (\d+) (\w+), (\d+)", text.strip())
    if not match:
        return datetime(2023, 1, 1, tzinfo=UTC)
    hour, minute, half, day, month, year = match.groups()
    parsed = datetime.strptime(f"{day} {month} {year}", "%d %B %Y")
    hour_24 = int(hour) % 12 + (12 if half == "pm" else 0)
    return parsed.replace(hour=hour_24, minute=int(minute), tzinfo=UTC)


def memories(sessions: list[list[dict[str, Any]]], form: str, namespace: str) -> list[MemoryRecord]:
    if form.startswith("context-"):
        return _with_context(sessions, int(form.split("-")[1]), namespace)
    groups: list[list[dict[str, Any]]] = []
    for turns in sessions:
        if form == "message":
            groups += [[t] for t in turns]
        elif form.startswith("slide-"):
            w = int(form.split("-")[1])
            groups += [turns[max(0, i - w + 1) : i + 1] for i in range(len(turns))]
        elif form.startswith("chunk-"):
            w = int(form.split("-")[1])
            groups += [turns[i : i + w] for i in range(0, len(turns), w)]
    return [
        MemoryRecord(
            id=f"{namespace}-{form}-{i}",
            text="\n".join(t["text"] for t in group),
            memory_type=MemoryTypeEnum.EPISODIC,
            namespace=namespace,
            event_date=group[-1]["at"],
            extracted_from=[t["id"] for t in group],
        )
        for i, group in enumerate(groups)
    ]


def _with_context(
    sessions: list[list[dict[str, Any]]], before: int, namespace: str
) -> list[MemoryRecord]:
    """One memory per turn whose keyword text (``search_text``) adds the date and the
    ``before`` turns before it: all an extraction run knows when it takes one new message."""
    out = []
    for turns in sessions:
        for i, turn in enumerate(turns):
            around = [t["text"] for t in turns[max(0, i - before) : i + 1]]
            out.append(
                NewMemoryRecord(
                    id=f"{namespace}-ctx-{turn['id']}",
                    text=turn["text"],
                    search_text="\n".join([turn["at"].strftime("%d %B %Y"), *around]),
                    memory_type=MemoryTypeEnum.EPISODIC,
                    namespace=namespace,
                    event_date=turn["at"],
                    extracted_from=[turn["id"]],
                )
            )
    return out


async def evaluate(
    res: Resources, conversation: dict[str, Any], name: str, form: str, mode: str
) -> dict[str, list[float]]:
    namespace = f"locomo-{name}-{form}"
    records = memories(turns_of(conversation), form, namespace)
    for i in range(0, len(records), 200):
        await res.long_term.create(records[i : i + 200])
    scores: dict[str, list[float]] = {"@5": [], "@10": [], "T10": [], "T20": []}
    for qa in conversation["qa"]:
        if qa.get("category") not in (1, 2, 3, 4) or not qa.get("evidence"):
            continue
        evidence = {e.strip() for e in qa["evidence"] if e.strip()}
        hits = await res.long_term.search(
            SearchRequest(
                text=qa["question"],
                search_mode=mode,  # type: ignore[arg-type]
                namespace=TagFilter(eq=namespace),
                limit=20,
            )
        )
        derived = [set(h.extracted_from or []) for h in hits.memories]
        for k in (5, 10):
            covered = set().union(*derived[:k]) if derived else set()
            scores[f"@{k}"].append(len(evidence & covered) / len(evidence))
        for budget in (10, 20):
            covered, used = set(), 0
            for turns in derived:
                if used + len(turns) > budget:  # overlapping windows repeat turns in the prompt
                    break
                covered |= turns
                used += len(turns)
            scores[f"T{budget}"].append(len(evidence & covered) / len(evidence))
    return scores


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/eval/locomo"))
    parser.add_argument("--conversations", nargs="*", default=None)
    parser.add_argument("--forms", nargs="*", default=["message", "slide-2", "slide-3", "chunk-3"])
    parser.add_argument("--mode", default="hybrid", choices=["semantic", "keyword", "hybrid"])
    args = parser.parse_args()
    names = args.conversations or sorted(p.stem for p in args.data.glob("*.json"))
    with tempfile.TemporaryDirectory() as tmp:
        async with Resources(Settings(data_dir=Path(tmp), key_prefix="locomo:")) as res:
            print(f"LoCoMo evidence recall, {args.mode} search, conversations {' '.join(names)}")
            print("| form | memories | @5 | @10 | 10 turns | 20 turns | s |")
            print("|---|---|---|---|---|---|---|")
            for form in args.forms:
                started = time.perf_counter()
                total: dict[str, list[float]] = {}
                count = 0
                for name in names:
                    conversation = json.loads((args.data / f"{name}.json").read_text())
                    count += len(memories(turns_of(conversation), form, "x"))
                    for key, values in (
                        await evaluate(res, conversation, name, form, args.mode)
                    ).items():
                        total.setdefault(key, []).extend(values)
                row = " | ".join(f"{statistics.mean(total[k]):.3f}" for k in total)
                print(f"| {form} | {count} | {row} | {time.perf_counter() - started:.0f} |")


if __name__ == "__main__":
    asyncio.run(main())
