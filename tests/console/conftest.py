"""Headless Chromium for the console's tests: Debian's ``chromium`` driven by Playwright through
its executable path (no browser download). Without it the tests skip, saying so, except in CI
(``CI=true``), where a missing browser fails them: CI installs it (``.ci/run``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, async_playwright

CHROMIUM = Path(os.environ.get("REMEM_TEST_CHROMIUM", "/usr/bin/chromium"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    why = f"no Chromium at {CHROMIUM} (apt-get install chromium, or set REMEM_TEST_CHROMIUM)"
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"the console's browser tests need a browser in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    _require_chromium()
    async with async_playwright() as pw:
        # --no-sandbox: CI and this sandbox run as root, where Chromium's sandbox cannot start;
        # the browser only loads the console from a server the test started.
        chromium = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        await chromium.close()


@dataclass
class Log:
    """What the page said on its console, and the exceptions it raised."""

    errors: list[str] = field(default_factory=list)

    def csp(self) -> list[str]:
        return [e for e in self.errors if "Content Security Policy" in e]


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[tuple[Page, Log]]:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    tab = await context.new_page()
    log = Log()

    def said(message: ConsoleMessage) -> None:
        if message.type == "error":
            log.errors.append(f"{message.text} ({message.location.get('url')})")

    tab.on("console", said)
    tab.on("pageerror", lambda e: log.errors.append(f"uncaught: {e}"))
    yield tab, log
    await context.close()
