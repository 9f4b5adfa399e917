"""The console's screenshots in the docs (docs/images/console-*.png), remade with
``python -m tests.console.screenshots``: a remem on a throwaway embedded Redis holds a few
sessions and memories, and headless Chromium photographs the pages at 1280x800."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

from remem.app import build_app
from remem.config import Settings
from remem.store.embedded import EmbeddedRedis
from tests.console.conftest import CHROMIUM
from tests.serving import served

OUT = Path(__file__).resolve().parents[2] / "docs" / "images"
NS = "acme/support"
CHATS = {
    "refund-1042": ("alice", ["I was charged twice for order 1042", "Refunded the second charge."]),
    "onboarding-7": ("bob", ["How do I invite my team?", "Settings, then Members, then Invite."]),
    "shipping-88": ("carol", ["Can you ship to Norway?", "Yes, in 3 to 5 working days."]),
}
MEMORIES = [
    ("alice", "Alice was charged twice for order 1042; the second charge was refunded"),
    ("alice", "Alice prefers answers by email rather than by phone"),
    ("bob", "Bob's team uses the Pro plan with 12 seats"),
    ("carol", "Carol ships orders to Oslo, Norway"),
    ("carol", "Carol asked for invoices in NOK"),
]
PAGES = {
    "console-sessions.png": f"/ui/sessions?namespace={NS}",
    "console-session.png": f"/ui/sessions/refund-1042?namespace={NS}&user_id=alice",
    "console-memories.png": f"/ui/memories?namespace={NS}&q=charged+twice+refund",
}


async def seed(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        for session, (user, turns) in CHATS.items():
            messages = [
                {"role": role, "content": text}
                for role, text in zip(("user", "assistant"), turns, strict=True)
            ]
            body = {"namespace": NS, "user_id": user, "messages": messages, "ttl_seconds": 86400}
            if session == "refund-1042":
                body["context"] = "Alice reported a double charge on order 1042; refunded."
            (await http.put(f"/v1/working-memory/{session}", json=body)).raise_for_status()
        memories = [{"text": text, "namespace": NS, "user_id": user} for user, text in MEMORIES]
        r = await http.post("/v1/long-term-memory/", json={"memories": memories})
        r.raise_for_status()


async def main() -> None:
    with tempfile.TemporaryDirectory() as data:
        redis = EmbeddedRedis(Path(data))
        settings = Settings(redis_url=redis.acquire(), key_prefix="shots:", run_worker=False)
        try:
            async with served(build_app(settings)) as url, async_playwright() as pw:
                await seed(url)
                browser = await pw.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
                )
                tab = await browser.new_page(viewport={"width": 1280, "height": 800})
                for name, path in PAGES.items():
                    await tab.goto(url + path)
                    await tab.locator("main table, main .result, main .message").first.wait_for()
                    await tab.screenshot(path=OUT / name)
                    print(OUT / name)
                await browser.close()
        finally:
            redis.release()


if __name__ == "__main__":
    asyncio.run(main())
