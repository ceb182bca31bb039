"""The web page in a real browser: a task that stops shows a banner saying what and since when."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.web.live import CHROMIUM, CHROMIUM_ARGS, LiveServer

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}"
)


def test_a_task_given_up_shows_a_banner_on_the_open_page() -> None:
    with LiveServer(lang="en") as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            page.goto(server.url)
            expect(page.locator("body")).to_have_attribute("data-ws", "live")
            banner = page.locator("#degraded")
            expect(banner).to_be_hidden()

            async def spawn_failing_feed() -> None:
                async def feed() -> None:
                    raise OSError("strategy lost its data feed")

                server.session.spawn("feed", feed, restart=False)

            server.call(spawn_failing_feed())
            expect(banner).to_be_visible()
            [failure] = server.session.failures
            expect(banner).to_have_text(f"Degraded: {failure.describe()}")
            expect(page.locator("body")).to_have_attribute("data-degraded", "yes")
        finally:
            browser.close()
