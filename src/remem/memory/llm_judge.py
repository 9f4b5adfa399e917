"""The LLM as the deduplication judge: every (new memory, similar stored memory) pair of a
create request in one chat completion, one verdict per pair (``remem.memory.dedup`` rule 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from remem.errors import LLMOutputInvalid
from remem.llm.client import LLMClient
from remem.memory.dedup import Judge, Verdict

PROMPT = """You deduplicate the long-term memories of an AI agent. For each numbered pair, say \
whether the NEW memory states:
- "same": the same fact as the STORED one (nothing new worth keeping apart);
- "refines": the same fact as the STORED one, made more precise, so the NEW text should \
replace the STORED text (nothing in the STORED one stopped being true);
- "updates": the same subject as the STORED one with a changed value: the STORED fact was \
true and is no longer (a new address, job, plan, preference, count or relationship); the \
STORED memory is kept as history and the NEW one becomes current;
- "different": a different fact (another subject, or a fact that can be true alongside the \
STORED one).
Answer {"verdicts": [{"pair": <number>, "verdict": "same" | "refines" | "updates" | \
"different"}, ...]} with exactly one verdict per pair."""


class PairVerdict(BaseModel):
    pair: int
    verdict: Literal["same", "refines", "updates", "different"]


class Verdicts(BaseModel):
    verdicts: list[PairVerdict] = Field(default_factory=list)


def _memory(doc: dict[str, Any]) -> dict[str, Any]:
    out = {"text": doc["text"], "type": doc.get("memory_type"), "topics": doc.get("topics") or []}
    if doc.get("valid_at") is not None:  # which of two versions is the later one
        out["since"] = datetime.fromtimestamp(float(doc["valid_at"]), UTC).date().isoformat()
    return out


def llm_judge(client: LLMClient) -> Judge:
    async def judge(pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Verdict]:
        listed = [
            {"pair": n, "new": _memory(new), "stored": _memory(old)}
            for n, (new, old) in enumerate(pairs, 1)
        ]
        messages = [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": json.dumps({"pairs": listed}, ensure_ascii=False)},
        ]
        answer = await client.complete_json(messages, Verdicts, purpose="dedup")
        got = {v.pair: v.verdict for v in answer.verdicts}
        missing = [n for n in range(1, len(pairs) + 1) if n not in got]
        if missing:  # an incomplete answer decides nothing: keep both, retry another time
            raise LLMOutputInvalid(f"the LLM gave no verdict for pairs {missing}")
        return [got[n] for n in range(1, len(pairs) + 1)]

    return judge
