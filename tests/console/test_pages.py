"""The console in headless Chromium against a served remem (auth off): deep links to a
namespace's sessions and to a search show what the API wrote, memory text stays text, and the
strict CSP holds with nothing blocked."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Page, expect

from remem.app import build_app
from remem.config import Settings
from tests.console.conftest import Log
from tests.serving import served

NS = "acme/support"
SESSION = "chat-42"
NEEDLE = "tangerine"
HOSTILE = '<img src=x onerror="window.pwned=1"> call me Ishmael'


@pytest.fixture
async def site(settings: Settings) -> AsyncIterator[str]:
    async with served(build_app(settings)) as url, httpx.AsyncClient(base_url=url) as http:
        session = {
            "messages": [
                {"role": "user", "content": "My favourite fruit is the tangerine"},
                {"role": "assistant", "content": "Noted: tangerines."},
            ],
            "context": "The user talked about fruit.",
            "user_id": "bob",
            "namespace": NS,
            "ttl_seconds": 3600,
        }
        r = await http.put(f"/v1/working-memory/{SESSION}", json=session)
        assert r.status_code == 200, r.text
        memories = [
            {"id": "m-fruit", "text": f"Bob likes {NEEDLE}s", "namespace": NS, "user_id": "bob"},
            {"id": "m-xss", "text": HOSTILE, "namespace": NS, "user_id": "bob"},
            {"id": "m-other", "text": f"Eve likes {NEEDLE}s too", "namespace": "elsewhere"},
        ]
        r = await http.post("/v1/long-term-memory/", json={"memories": memories})
        assert r.status_code == 200, r.text
        yield url


def clean(log: Log) -> None:
    assert not log.errors, log.errors


async def test_the_console_is_served_under_a_strict_policy(site: str) -> None:
    async with httpx.AsyncClient(base_url=site) as http:
        for path in ("/ui", "/ui/sessions", f"/ui/memories/{quote('a/b', safe='')}"):
            r = await http.get(path)
            assert r.status_code == 200 and "<script" in r.text, path
            csp = r.headers["content-security-policy"]
            assert "script-src 'self';" in csp and "unsafe-inline" not in csp, csp
        r = await http.get("/ui/static/console.js")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        r = await http.get("/ui/static/..%2F..%2Fapi%2Fheaders.py")  # the page, not the file
        assert "from __future__" not in r.text
        assert (await http.get("/ui/static/nothing.js")).status_code == 404


async def test_a_deep_link_lists_the_namespaces_sessions(site: str, page: tuple[Page, Log]) -> None:
    tab, log = page
    started = time.monotonic()
    await tab.goto(f"{site}/ui/sessions?namespace={quote(NS)}")
    row = tab.get_by_role("row").filter(has_text=SESSION)
    await expect(row).to_contain_text("bob")
    await expect(row.get_by_role("cell").nth(2)).to_have_text("2")
    await expect(row).to_contain_text(re.compile(r"59 min \d+ s|1 h 0 min"))
    await row.get_by_role("link", name=SESSION).click()
    await expect(tab.get_by_role("heading", level=1)).to_contain_text(SESSION)
    await expect(tab.locator("main")).to_contain_text("The user talked about fruit.")
    await expect(tab.locator(".message")).to_have_count(2)
    assert time.monotonic() - started < 30
    clean(log)


async def test_a_deep_link_shows_a_searchs_results(site: str, page: tuple[Page, Log]) -> None:
    tab, log = page
    await tab.goto(f"{site}/ui/memories?namespace={quote(NS)}&q={NEEDLE}")
    results = tab.locator(".result")
    await expect(results.first).to_contain_text(f"Bob likes {NEEDLE}s")
    await expect(results.first).to_contain_text("score")
    await expect(tab.locator("main")).not_to_contain_text("Eve")  # another namespace
    assert await tab.locator("input[name=q]").input_value() == NEEDLE
    clean(log)


async def test_memory_text_is_shown_as_text(site: str, page: tuple[Page, Log]) -> None:
    tab, log = page
    await tab.goto(f"{site}/ui/memories?namespace={quote(NS)}&q=Ishmael&mode=keyword")
    await expect(tab.locator(".result").first).to_contain_text(HOSTILE)
    assert await tab.locator("main img").count() == 0
    await tab.locator(".result a").first.click()
    await expect(tab.locator(".lead")).to_have_text(HOSTILE)
    assert await tab.locator("main img").count() == 0
    assert await tab.evaluate("window.pwned") is None
    clean(log)


async def test_the_search_is_typed_and_sent_with_the_keyboard(
    site: str, page: tuple[Page, Log]
) -> None:
    tab, log = page
    await tab.goto(f"{site}/ui/memories?namespace={quote(NS)}")
    await expect(tab.locator("main [role=status]")).to_contain_text("found")  # the newest, no text
    await expect(tab.locator("input[name=q]")).to_be_focused()
    await tab.keyboard.type(NEEDLE)
    await tab.keyboard.press("Enter")
    await tab.wait_for_url(f"**/ui/memories?**q={NEEDLE}**")
    await expect(tab.locator(".result").first).to_contain_text(f"Bob likes {NEEDLE}s")
    assert "namespace=acme%2Fsupport" in tab.url
    clean(log)


async def test_deleting_a_memory_asks_first(site: str, page: tuple[Page, Log]) -> None:
    tab, log = page
    answers = iter([False, True])
    asked: list[str] = []

    async def answer(dialog: object) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        await (dialog.accept() if next(answers) else dialog.dismiss())  # type: ignore[attr-defined]

    tab.on("dialog", answer)
    await tab.goto(f"{site}/ui/memories/m-fruit")
    await expect(tab.locator("main")).to_contain_text("History")
    delete = tab.get_by_role("button", name="Delete memory m-fruit")
    await delete.click()
    async with httpx.AsyncClient(base_url=site) as http:
        assert (await http.get("/v1/long-term-memory/m-fruit")).status_code == 200
        await delete.click()
        await tab.wait_for_url(f"{site}/ui/memories?namespace=*")
        assert (await http.get("/v1/long-term-memory/m-fruit")).status_code == 404
    assert len(asked) == 2 and "m-fruit" in asked[0]
    clean(log)


@pytest.mark.parametrize("path", [f"/ui/sessions?namespace={NS}", f"/ui/memories?q={NEEDLE}"])
async def test_the_pages_fit_a_phone(site: str, page: tuple[Page, Log], path: str) -> None:
    """At 390 px nothing is wider than the screen (long ids and texts wrap, tables scroll
    inside their own box)."""
    tab, log = page
    await tab.set_viewport_size({"width": 390, "height": 844})
    await tab.goto(site + path)
    await tab.locator("main table, main .result").first.wait_for()
    assert await tab.evaluate("document.documentElement.scrollWidth") <= 390
    clean(log)


async def test_a_memory_shows_its_fields_and_history(site: str, page: tuple[Page, Log]) -> None:
    tab, log = page
    async with httpx.AsyncClient(base_url=site) as http:
        old = {"id": "m-city-1", "text": "Bob lives in Lyon", "namespace": NS, "user_id": "bob"}
        new = {**old, "id": "m-city-2", "text": "Bob lives in Porto", "supersedes": ["m-city-1"]}
        for memory in (old, new):
            r = await http.post("/v1/long-term-memory/", json={"memories": [memory]})
            assert r.status_code == 200, r.text
    await tab.goto(f"{site}/ui/memories/m-city-2")
    await expect(tab.locator(".lead")).to_have_text("Bob lives in Porto")
    await expect(tab.locator(".fields")).to_contain_text("supersedes")
    versions = tab.get_by_role("table", name="Versions of this fact, oldest first")
    await expect(versions.locator("tbody tr")).to_have_count(2)
    await expect(versions.locator("tbody tr").first).to_contain_text("Bob lives in Lyon")
    await versions.get_by_role("link", name="m-city-1").click()
    await expect(tab.locator(".lead")).to_have_text("Bob lives in Lyon")
    clean(log)


async def test_the_namespaces_page_counts_and_links(site: str, page: tuple[Page, Log]) -> None:
    tab, log = page
    await tab.goto(f"{site}/ui/namespaces")
    rows = tab.get_by_role("table", name="Namespaces, by name").locator("tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text(NS)
    await expect(rows.nth(1)).to_contain_text("elsewhere")
    await expect(rows.first.get_by_role("cell").nth(1)).to_have_text("1")  # one session
    await expect(rows.first.get_by_role("cell").nth(2)).to_have_text("2")  # two memories
    await rows.first.get_by_role("cell").nth(1).get_by_role("link").click()
    await expect(tab.get_by_role("row").filter(has_text=SESSION)).to_be_visible()
    # The sessions page offers the namespaces as suggestions; any other can still be typed.
    choices = tab.locator("datalist#namespace-choices option")
    await expect(choices).to_have_count(2)
    assert await choices.first.get_attribute("value") == NS
    assert await tab.locator("input[name=namespace]").get_attribute("list") == "namespace-choices"
    clean(log)
