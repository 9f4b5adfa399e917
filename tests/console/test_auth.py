"""The console with token auth on: it asks for a token, keeps it for the tab only, and shows
what that token may see; another tenant's session and memory never appear."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio
from playwright.async_api import Browser, Page, expect
from pydantic import SecretStr

from remem.app import build_app
from remem.auth.tokens import TokenStore
from remem.config import Settings
from remem.store.keys import Keys
from tests.console.conftest import Log
from tests.serving import served

HASH_KEY = "console-" + "k" * 32
NS_A, NS_B = "team-a", "team-b"
KEY = "remem.console.token"

Site = tuple[str, dict[str, str]]


async def make_tokens(settings: Settings) -> dict[str, str]:
    client = redis.asyncio.Redis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        store = TokenStore(client, Keys(settings.key_prefix), HASH_KEY)
        a, _ = await store.create([NS_A], role="write")
        admin, _ = await store.create(["*"], role="admin")
    finally:
        await client.aclose()
    return {"a": a, "admin": admin}


@pytest.fixture
async def secured(settings: Settings) -> AsyncIterator[Site]:
    """Token auth on; team-a and team-b each hold a session and a memory, written by an admin."""
    on = settings.model_copy(update={"auth_mode": "token", "token_hash_key": SecretStr(HASH_KEY)})
    tokens = await make_tokens(on)
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    async with served(build_app(on)) as url, httpx.AsyncClient(base_url=url) as http:
        for ns, word in ((NS_A, "alpha"), (NS_B, "BRAVO")):
            body = {"namespace": ns, "messages": [{"role": "user", "content": f"{word} hello"}]}
            r = await http.put(f"/v1/working-memory/sess-{ns}", json=body, headers=admin)
            assert r.status_code == 200, r.text
            memory = {"id": f"m-{ns}", "text": f"{word} secret plan", "namespace": ns}
            r = await http.post("/v1/long-term-memory/", json={"memories": [memory]}, headers=admin)
            assert r.status_code == 200, r.text
        yield url, tokens


async def never_b(tab: Page) -> None:
    main = tab.locator("main")
    await expect(main).not_to_contain_text(f"sess-{NS_B}")
    await expect(main).not_to_contain_text("BRAVO")


def no_policy_errors(log: Log) -> None:
    """Refused calls are logged by the browser (status 401, 403); nothing else may be."""
    bad = [e for e in log.errors if "Failed to load resource" not in e]
    assert not bad, bad


async def test_a_tenant_token_sees_its_own_namespace_only(
    secured: Site, page: tuple[Page, Log]
) -> None:
    url, tokens = secured
    tab, log = page
    await tab.goto(f"{url}/ui/sessions")
    await expect(tab.get_by_role("alert")).to_contain_text("needs an API token")
    await expect(tab.locator("#token")).to_be_focused()
    await tab.keyboard.type(tokens["a"])
    await tab.keyboard.press("Enter")
    await expect(tab.get_by_role("row").filter(has_text=f"sess-{NS_A}")).to_be_visible()
    await never_b(tab)
    assert await tab.evaluate(f"sessionStorage.getItem('{KEY}')") == tokens["a"]
    assert await tab.evaluate("localStorage.length") == 0

    await tab.goto(f"{url}/ui/sessions?namespace={NS_B}")  # naming the other tenant
    await expect(tab.get_by_role("alert")).to_contain_text("may not see")
    await never_b(tab)
    await tab.goto(f"{url}/ui/sessions/sess-{NS_B}?namespace={NS_B}")
    await expect(tab.get_by_role("alert")).to_contain_text("may not see")
    await never_b(tab)
    await tab.goto(f"{url}/ui/memories?q=secret")  # everything it may see: team-a's
    await expect(tab.locator(".result")).to_have_count(1)
    await expect(tab.locator(".result")).to_contain_text("alpha secret plan")
    await never_b(tab)
    await tab.goto(f"{url}/ui/memories/m-{NS_B}")  # another tenant's id does not exist
    await expect(tab.get_by_role("alert")).to_contain_text("404")
    await never_b(tab)
    no_policy_errors(log)


async def test_the_token_stays_with_its_tab(secured: Site, browser: Browser) -> None:
    url, tokens = secured
    context = await browser.new_context()
    try:
        first = await context.new_page()
        await first.goto(f"{url}/ui/sessions")
        await first.locator("#token").fill(tokens["a"])
        await first.locator("#token").press("Enter")
        await expect(first.get_by_role("row").filter(has_text=f"sess-{NS_A}")).to_be_visible()
        other = await context.new_page()  # a new tab of the same browser: asked again
        await other.goto(f"{url}/ui/sessions")
        await expect(other.get_by_role("alert")).to_contain_text("needs an API token")
        await first.get_by_role("button", name="Forget").click()
        await expect(first.get_by_role("alert")).to_contain_text("needs an API token")
        assert await first.evaluate(f"sessionStorage.getItem('{KEY}')") is None
    finally:
        await context.close()


async def test_the_audit_log_is_for_an_admin(secured: Site, page: tuple[Page, Log]) -> None:
    url, tokens = secured
    tab, log = page
    async with httpx.AsyncClient(base_url=url) as http:  # a refusal the log records
        bogus = {"Authorization": "Bearer rmm_000000000000_forged"}
        assert (await http.get("/v1/working-memory/", headers=bogus)).status_code == 401
    await tab.goto(f"{url}/ui/audit")
    await tab.locator("#token").fill(tokens["a"])
    await tab.locator("#token").press("Enter")
    await expect(tab.get_by_role("alert")).to_contain_text("may not see")
    await tab.locator("#token").fill(tokens["admin"])
    await tab.locator("#token").press("Enter")
    entries = tab.get_by_role("table", name="Audit log, newest first")
    await expect(entries.locator("tbody tr").filter(has_text="auth.failure")).not_to_have_count(0)
    await expect(entries).to_contain_text("000000000000")  # the token's public id, no secret
    await expect(entries).not_to_contain_text("forged")
    no_policy_errors(log)


async def test_a_tenant_is_offered_its_own_namespaces(
    secured: Site, page: tuple[Page, Log]
) -> None:
    url, tokens = secured
    tab, log = page
    await tab.goto(f"{url}/ui/namespaces")
    await tab.locator("#token").fill(tokens["a"])
    await tab.locator("#token").press("Enter")
    rows = tab.get_by_role("table", name="Namespaces, by name").locator("tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text(NS_A)
    await tab.goto(f"{url}/ui/memories")
    choices = tab.locator("datalist#namespace-choices option")
    await expect(choices).to_have_count(1)
    assert await choices.first.get_attribute("value") == NS_A
    await never_b(tab)
    await expect(tab.locator("body")).not_to_contain_text(NS_B)
    no_policy_errors(log)
