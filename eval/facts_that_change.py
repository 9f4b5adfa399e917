"""Facts that change, end to end with an LLM: does the newer fact win, with the older in its
history?

    python eval/facts_that_change.py            # prints the pass rate and each failure

48 cases (addresses, jobs, plans, preferences, counts, relationships...), each a fact a user
states in a first session and changes in a second one months later, with a question whose
answer changed. Four users hold twelve cases each, so every fact has eleven others of the same
user around it (the dedup stage must find the older version among them). The path is the one
agents take: both sessions written into working memory (``PUT /v1/working-memory/{id}``, each
message dated), memories made by remem's background extraction with an LLM, then each question
asked as ``POST /v1/long-term-memory/search`` with no ``search_mode``.

The LLM is the scripted OpenAI-compatible server the tests start (``tests/llm_server.py``),
over real HTTP, answering as a good model would from this table: extraction turns a user's
message into its fact; the judge answers ``updates`` for (new, old) versions of one case,
``same`` for a fact restated, else ``different``. What is measured is remem's part: whether the
judge is shown the older version among a user's memories, whether the verdict supersedes it,
and whether search, history and ``as_of`` then answer with the right version.

A case passes when the new fact is among the first 3 results, the old one among none of the
first 10, the new memory's history lists the old then the new, and a search ``as_of`` a date
between the sessions finds the old one first of the two.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.llm_server import Answer, Call, llm_server
from tests.serving import served


@dataclass(frozen=True)
class Case:
    said_before: str  # what the user says in the first session
    said_after: str  # ... and months later
    fact_before: str  # what extraction makes of it
    fact_after: str
    question: str


CASES = [
    Case("I live in Paris.", "I moved to Berlin last week.", "User lives in Paris",
         "User lives in Berlin", "Where does the user live?"),
    Case("I work as a pediatric nurse.", "I quit nursing and now I'm a software engineer.",
         "User works as a pediatric nurse", "User works as a software engineer",
         "What is the user's job?"),
    Case("I'm on the basic plan.", "I upgraded to the premium plan.",
         "User is on the basic subscription plan", "User is on the premium subscription plan",
         "Which subscription plan is the user on?"),
    Case("I prefer tea in the morning.", "These days I drink coffee in the morning, not tea.",
         "User prefers tea in the morning", "User prefers coffee in the morning",
         "What does the user drink in the morning?"),
    Case("I have two kids.", "We just had our third child!", "User has two children",
         "User has three children", "How many children does the user have?"),
    Case("I'm dating Sam.", "Sam and I broke up, I'm single now.", "User is dating Sam",
         "User is single after breaking up with Sam", "Is the user in a relationship?"),
    Case("I drive a Toyota Corolla.", "I sold the Corolla and bought a Tesla Model 3.",
         "User drives a Toyota Corolla", "User drives a Tesla Model 3",
         "What car does the user drive?"),
    Case("My favourite colour is blue.", "Honestly my favourite colour is green now.",
         "User's favourite colour is blue", "User's favourite colour is green",
         "What is the user's favourite colour?"),
    Case("I'm vegetarian.", "I went fully vegan this spring.", "User is vegetarian",
         "User is vegan", "What diet does the user follow?"),
    Case("I use an iPhone 12.", "I switched to a Pixel 8 phone.", "User uses an iPhone 12",
         "User uses a Pixel 8 phone", "What phone does the user use?"),
    Case("I run 10 km a week.", "I'm up to 30 km of running a week now.",
         "User runs 10 km a week", "User runs 30 km a week",
         "How far does the user run each week?"),
    Case("My manager is Priya.", "Priya left, my new manager is Tom.", "User's manager is Priya",
         "User's manager is Tom", "Who is the user's manager?"),
    Case("I'm learning Spanish.", "I stopped Spanish and started learning Japanese.",
         "User is learning Spanish", "User is learning Japanese",
         "Which language is the user learning?"),
    Case("I work from the office every day.", "My company went fully remote, I work from home.",
         "User works from the office every day", "User works from home, fully remote",
         "Where does the user work from?"),
    Case("I have a cat named Luna.", "Luna passed away, and we adopted a dog called Max.",
         "User has a cat named Luna", "User has a dog called Max (Luna the cat passed away)",
         "What pet does the user have?"),
    Case("I'm 34 years old.", "I just turned 35.", "User is 34 years old",
         "User is 35 years old", "How old is the user?"),
    Case("I bank with Chase.", "I moved my accounts from Chase to Ally Bank.",
         "User banks with Chase", "User banks with Ally Bank", "Which bank does the user use?"),
    Case("My rent is 1,800 dollars a month.", "My rent went up to 2,100 dollars a month.",
         "User's rent is 1,800 dollars a month", "User's rent is 2,100 dollars a month",
         "How much rent does the user pay?"),
    Case("I play guitar in a band.", "I left the band and now I play drums in a jazz trio.",
         "User plays guitar in a band", "User plays drums in a jazz trio",
         "What instrument does the user play?"),
    Case("I study at MIT.", "I transferred from MIT to Stanford.", "User studies at MIT",
         "User studies at Stanford", "Where does the user study?"),
    Case("My wife is called Anna.", "Anna and I divorced; I married Claire this year.",
         "User's wife is Anna", "User is married to Claire (divorced from Anna)",
         "Who is the user married to?"),
    Case("I go to bed around 11pm.", "I now go to bed at 9:30pm because of the baby.",
         "User goes to bed around 11pm", "User goes to bed at 9:30pm",
         "When does the user go to bed?"),
    Case("I'm allergic to nothing.", "Turns out I'm allergic to peanuts.",
         "User has no allergies", "User is allergic to peanuts",
         "What allergies does the user have?"),
    Case("I use Windows on my laptop.", "I switched my laptop to Linux.",
         "User uses Windows on their laptop", "User uses Linux on their laptop",
         "Which operating system does the user's laptop run?"),
    Case("My gym is Planet Fitness.", "I cancelled Planet Fitness and joined a climbing gym.",
         "User goes to Planet Fitness", "User goes to a climbing gym",
         "Which gym does the user go to?"),
    Case("I support Arsenal.", "I've switched allegiance to Tottenham, long story.",
         "User supports Arsenal", "User supports Tottenham",
         "Which football team does the user support?"),
    Case("I'm a junior developer.", "I got promoted to senior developer.",
         "User is a junior developer", "User is a senior developer",
         "What is the user's seniority at work?"),
    Case("I commute by car.", "I sold the car and commute by bike now.",
         "User commutes by car", "User commutes by bike", "How does the user commute?"),
    Case("I'm reading Dune.", "I finished Dune and started reading Middlemarch.",
         "User is reading Dune", "User is reading Middlemarch",
         "What book is the user reading?"),
    Case("My dentist is Dr. Lee.", "I changed dentist, I see Dr. Gomez now.",
         "User's dentist is Dr. Lee", "User's dentist is Dr. Gomez",
         "Who is the user's dentist?"),
    Case("I have one sister.", "My parents adopted a girl, so I have two sisters now.",
         "User has one sister", "User has two sisters", "How many sisters does the user have?"),
    Case("I'm saving for a house.", "We bought the house, now I'm saving for a car.",
         "User is saving for a house", "User is saving for a car",
         "What is the user saving for?"),
    Case("My shoe size is 42.", "My feet grew, I take a 43 now.", "User's shoe size is 42",
         "User's shoe size is 43", "What is the user's shoe size?"),
    Case("I'm team lead of the payments team.", "I moved to lead the search team.",
         "User leads the payments team", "User leads the search team",
         "Which team does the user lead?"),
    Case("I take the 8am train.", "I take the 7am train now.", "User takes the 8am train",
         "User takes the 7am train", "Which train does the user take?"),
    Case("My go-to editor is Vim.", "I've moved over to VS Code as my editor.",
         "User's editor is Vim", "User's editor is VS Code", "Which editor does the user use?"),
    Case("I live alone.", "My partner moved in with me.", "User lives alone",
         "User lives with their partner", "Who does the user live with?"),
    Case("I'm on Verizon for mobile.", "I ported my number to T-Mobile.",
         "User's mobile carrier is Verizon", "User's mobile carrier is T-Mobile",
         "Which mobile carrier does the user have?"),
    Case("I volunteer at the food bank on Saturdays.",
         "I volunteer at the animal shelter on Saturdays now.",
         "User volunteers at the food bank on Saturdays",
         "User volunteers at the animal shelter on Saturdays",
         "Where does the user volunteer?"),
    Case("My weekly budget for groceries is 100 euros.", "I cut my grocery budget to 70 euros.",
         "User's weekly grocery budget is 100 euros", "User's weekly grocery budget is 70 euros",
         "What is the user's grocery budget?"),
    Case("I'm training for a half marathon.", "I signed up for a full marathon instead.",
         "User is training for a half marathon", "User is training for a full marathon",
         "What race is the user training for?"),
    Case("My doctor prescribed 10 mg of lisinopril.", "My lisinopril dose went up to 20 mg.",
         "User takes 10 mg of lisinopril", "User takes 20 mg of lisinopril",
         "What dose of lisinopril does the user take?"),
    Case("I prefer window seats on flights.", "I've started preferring aisle seats.",
         "User prefers window seats on flights", "User prefers aisle seats on flights",
         "Which seat does the user prefer on flights?"),
    Case("I'm a night owl, I work best after midnight.", "I've become a morning person.",
         "User is a night owl who works best after midnight", "User is a morning person",
         "When does the user work best?"),
    Case("My best friend is Jordan.", "Jordan and I drifted apart; Riley is my best friend now.",
         "User's best friend is Jordan", "User's best friend is Riley",
         "Who is the user's best friend?"),
    Case("I speak two languages.", "I'm fluent in three languages now.",
         "User speaks two languages", "User speaks three languages",
         "How many languages does the user speak?"),
    Case("I work at Acme Corp.", "I left Acme Corp and joined Globex.", "User works at Acme Corp",
         "User works at Globex", "Which company does the user work for?"),
    Case("My son is in kindergarten.", "My son started first grade.",
         "User's son is in kindergarten", "User's son is in first grade",
         "What grade is the user's son in?"),
]  # fmt: skip
USERS = 4
NAMESPACE = "facts"
BEFORE, BETWEEN, AFTER = "2024-01-15T10:00:00Z", "2024-04-01T00:00:00Z", "2024-07-15T10:00:00Z"


def user_of(index: int) -> str:
    return f"user-{index % USERS}"


class Oracle:
    """The scripted LLM's answers: a good model's, from the table."""

    def __init__(self) -> None:
        self.fact_of = {}
        self.version = {}  # fact -> (case, "before" | "after")
        for n, case in enumerate(CASES):
            self.fact_of[case.said_before] = case.fact_before
            self.fact_of[case.said_after] = case.fact_after
            self.version[case.fact_before] = (n, "before")
            self.version[case.fact_after] = (n, "after")
        self.judged = 0

    def __call__(self, call: Call) -> Answer:
        data = call.user_json
        if isinstance(data, dict) and "pairs" in data:
            self.judged += 1
            return Answer.json({"verdicts": [self._verdict(p) for p in data["pairs"]]})
        if isinstance(data, dict) and "messages" in data:
            memories = [
                {"text": self.fact_of[m["text"]], "memory_type": "semantic",
                 "extracted_from": [m["id"]], "topics": [], "entities": []}
                for m in data["messages"]
                if m["role"] == "user" and m["text"] in self.fact_of
            ]  # fmt: skip
            return Answer.json({"memories": memories})
        return Answer.json({})

    def _verdict(self, pair: dict[str, Any]) -> dict[str, Any]:
        new = self.version.get(pair["new"]["text"])
        old = self.version.get(pair["stored"]["text"])
        verdict = "different"
        if new and old and new[0] == old[0]:
            verdict = "same" if new[1] == old[1] else "updates"
        return {"pair": pair["pair"], "verdict": verdict}


async def write_session(
    http: httpx.AsyncClient, user: str, session: str, said: list[str], at: str
) -> None:
    messages = []
    for n, text in enumerate(said):
        messages.append(
            {"id": f"{session}-{n}u", "role": "user", "content": text, "created_at": at}
        )
        messages.append(
            {"id": f"{session}-{n}a", "role": "assistant", "content": "Noted!", "created_at": at}
        )
    body = {"messages": messages, "user_id": user, "namespace": NAMESPACE}
    r = await http.put(f"/v1/working-memory/{session}", json=body)
    r.raise_for_status()


async def stored(http: httpx.AsyncClient) -> int:
    body = {"text": "", "namespace": {"eq": NAMESPACE}, "include_superseded": True, "limit": 1}
    r = await http.post("/v1/long-term-memory/search", json=body)
    r.raise_for_status()
    return int(r.json()["total"])


async def wait_for(http: httpx.AsyncClient, count: int, timeout: float) -> float:
    started = time.monotonic()
    while await stored(http) < count:
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"extraction made {await stored(http)} of {count} memories")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def search(http: httpx.AsyncClient, case: Case, user: str, **extra: Any) -> list[str]:
    body = {"text": case.question, "namespace": {"eq": NAMESPACE}, "user_id": {"eq": user}}
    r = await http.post("/v1/long-term-memory/search", json={**body, "limit": 10, **extra})
    r.raise_for_status()
    return [m["text"] for m in r.json()["memories"]]


async def check(http: httpx.AsyncClient, n: int, case: Case) -> str | None:
    """None when the case passes, else what went wrong."""
    user = user_of(n)
    found = await search(http, case, user)
    if case.fact_after not in found[:3]:
        return f"new fact not in the top 3: {found[:3]}"
    if case.fact_before in found:
        return f"old fact still returned at {found.index(case.fact_before) + 1}"
    then = await search(http, case, user, as_of=BETWEEN)
    if case.fact_before not in then or (
        case.fact_after in then and then.index(case.fact_after) < then.index(case.fact_before)
    ):
        return f"as_of {BETWEEN}: {then[:3]}"
    body = {"text": case.fact_after, "namespace": {"eq": NAMESPACE}, "user_id": {"eq": user}}
    r = await http.post("/v1/long-term-memory/search", json={**body, "search_mode": "keyword"})
    hit = next(m for m in r.json()["memories"] if m["text"] == case.fact_after)
    r = await http.get(f"/v1/long-term-memory/{hit['id']}/history")
    versions = [v["text"] for v in r.json()["versions"]]
    if versions != [case.fact_before, case.fact_after]:
        return f"history: {versions}"
    return None


@dataclass
class Report:
    passed: int
    failures: dict[int, str]
    judge_calls: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.passed / len(CASES)


async def run_suite(http: httpx.AsyncClient, oracle: Oracle, timeout: float = 120) -> Report:
    started = time.monotonic()
    for phase, at in (("before", BEFORE), ("after", AFTER)):
        for u in range(USERS):
            cases = [c for n, c in enumerate(CASES) if n % USERS == u]
            said = [c.said_before if phase == "before" else c.said_after for c in cases]
            await write_session(http, f"user-{u}", f"{phase}-{u}", said, at)
        await wait_for(http, len(CASES) * (1 if phase == "before" else 2), timeout)
    failures = {}
    for n, case in enumerate(CASES):
        if (problem := await check(http, n, case)) is not None:
            failures[n] = problem
    seconds = time.monotonic() - started
    return Report(len(CASES) - len(failures), failures, oracle.judged, seconds)


@asynccontextmanager
async def remem_with_llm(settings: Any = None) -> AsyncIterator[httpx.AsyncClient]:
    """remem served over real HTTP with the scripted LLM, a quick debounce, its own data."""
    from remem.api.app import create_app
    from remem.config import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        async with llm_server() as llm:
            oracle = Oracle()
            llm.respond = oracle
            base = settings or Settings(data_dir=Path(data_dir), redis_url=None)
            quick = base.model_copy(
                update={
                    "llm_base_url": llm.base_url,
                    "llm_model": "scripted",
                    "llm_api_key": None,
                    "extraction_debounce_seconds": 0.3,
                    "task_poll_seconds": 0.05,
                }
            )
            async with (
                served(create_app(quick)) as url,
                httpx.AsyncClient(base_url=url, timeout=60) as http,
            ):
                http.oracle = oracle  # type: ignore[attr-defined]
                yield http


async def main() -> None:
    async with remem_with_llm() as http:
        report = await run_suite(http, http.oracle)  # type: ignore[attr-defined]
    print(f"facts that change: {report.passed}/{len(CASES)} passed ({report.rate:.1%}), "
          f"{report.judge_calls} judge calls, {report.seconds:.1f} s")  # fmt: skip
    for n, problem in report.failures.items():
        print(f"  case {n} ({CASES[n].question}): {problem}")
    print(json.dumps({"passed": report.passed, "cases": len(CASES)}))


if __name__ == "__main__":
    asyncio.run(main())
