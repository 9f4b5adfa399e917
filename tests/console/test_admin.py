"""The admin's console pages with token auth on: background work (and, below, the tokens) for
an admin token over every namespace; a tenant's token is told it may not see them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Page, expect
from pydantic import SecretStr
from redis.asyncio import Redis

from remem.app import build_app
from remem.config import Settings
from remem.store.failures import TaskFailures
from remem.store.keys import Keys
from tests.console.conftest import Log
from tests.console.test_auth import HASH_KEY, NS_A, make_tokens, no_policy_errors
from tests.serving import served

Site = tuple[str, dict[str, str]]


@pytest.fixture
async def admin_site(settings: Settings) -> AsyncIterator[Site]:
    """Token auth on; extraction waits ten minutes, so written sessions stay due."""
    on = settings.model_copy(
        update={
            "auth_mode": "token",
            "token_hash_key": SecretStr(HASH_KEY),
            "extraction_debounce_seconds": 600.0,
        }
    )
    tokens = await make_tokens(on)
    async with served(build_app(on)) as url:
        yield url, tokens


async def write_session(url: str, token: str, session_id: str) -> None:
    async with httpx.AsyncClient(base_url=url) as http:
        body = {
            "namespace": NS_A,
            "user_id": "ann",
            "messages": [{"role": "user", "content": "hi"}],
        }
        r = await http.put(
            f"/v1/working-memory/{session_id}",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text


async def use(tab: Page, token: str) -> None:
    await tab.locator("#token").fill(token)
    await tab.locator("#token").press("Enter")


async def test_background_work_is_shown_to_an_admin(
    admin_site: Site, page: tuple[Page, Log]
) -> None:
    url, tokens = admin_site
    tab, log = page
    await write_session(url, tokens["admin"], "first")
    await tab.goto(f"{url}/ui/tasks")
    await use(tab, tokens["a"])
    await expect(tab.get_by_role("alert")).to_contain_text("may not see")
    await use(tab, tokens["admin"])
    due = tab.get_by_role("table", name="Due work, soonest first")
    row = due.locator("tbody tr").filter(has_text="first")
    await expect(row).to_contain_text("extract")
    await expect(row).to_contain_text(NS_A)
    await expect(row).to_contain_text("ann")
    # Beside the session, the continuous summary views' hourly refresh (on by default).
    await expect(due.locator("tbody tr").filter(has_text="views")).to_contain_text("periodic")
    await expect(tab.locator("main [role=status]").first).to_contain_text("2 in the due set")
    await write_session(url, tokens["admin"], "second")  # shown on Refresh, not before
    await expect(due.locator("tbody tr")).to_have_count(2)
    await tab.get_by_role("button", name="Refresh").click()
    await expect(due.locator("tbody tr").filter(has_text="second")).to_have_count(1)
    await expect(due.locator("tbody tr")).to_have_count(3)
    await due.get_by_role("link", name="first").click()
    await expect(tab.get_by_role("heading", level=1)).to_contain_text("first")
    no_policy_errors(log)


async def test_failed_runs_are_shown_as_text(
    admin_site: Site, page: tuple[Page, Log], settings: Settings
) -> None:
    url, tokens = admin_site
    tab, log = page
    redis = Redis.from_url(settings.redis_url or "")
    try:
        keys = Keys(settings.key_prefix)
        failures = TaskFailures(redis, keys)
        key = f"extract:{keys.working_memory('broken', 'ann', NS_A)}"
        error = "LLMUnavailable: <img src=x onerror=alert(1)> timed out"
        await failures.record(key, "extract_memories", error, 6, final=True)
    finally:
        await redis.aclose()
    await tab.goto(f"{url}/ui/tasks")
    await use(tab, tokens["admin"])
    failed = tab.get_by_role("table", name="Failed runs, newest first")
    row = failed.locator("tbody tr").filter(has_text="broken")
    await expect(row).to_contain_text("<img src=x onerror=alert(1)>")  # as text, not an element
    await expect(row).to_contain_text("6 (given up)")
    await expect(failed.locator("img")).to_have_count(0)
    no_policy_errors(log)


async def test_an_admin_lists_and_revokes_tokens(admin_site: Site, page: tuple[Page, Log]) -> None:
    url, tokens = admin_site
    tab, log = page
    answers = iter([False, True])
    asked: list[str] = []

    async def answer(dialog: object) -> None:
        asked.append(dialog.message)  # type: ignore[attr-defined]
        await (dialog.accept() if next(answers) else dialog.dismiss())  # type: ignore[attr-defined]

    tab.on("dialog", answer)
    await tab.goto(f"{url}/ui/tokens")
    await use(tab, tokens["a"])
    await expect(tab.get_by_role("alert")).to_contain_text("may not see")
    await use(tab, tokens["admin"])
    listed = tab.get_by_role("table", name="API tokens, oldest first")
    await expect(listed.locator("tbody tr")).to_have_count(2)
    a_id = tokens["a"][4:16]
    row = listed.locator("tbody tr").filter(has_text=a_id)
    await expect(row).to_contain_text("active")
    await expect(row).to_contain_text(NS_A)
    for secret in tokens.values():  # no secret on the page
        await expect(tab.locator("body")).not_to_contain_text(secret[17:])
    revoke = row.get_by_role("button", name=f"Revoke {a_id}")
    await revoke.click()  # dismissed: nothing happens
    await expect(row).to_contain_text("active")
    await revoke.click()
    await expect(row).to_contain_text("revoked")
    assert len(asked) == 2 and a_id in asked[0]
    async with httpx.AsyncClient(base_url=url) as http:
        r = await http.get("/v1/namespaces", headers={"Authorization": f"Bearer {tokens['a']}"})
        assert r.status_code == 401, r.text
    no_policy_errors(log)
