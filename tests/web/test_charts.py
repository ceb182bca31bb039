"""The page's pictures: the day's valuation and P&L, allocation by holding and by market coloured
by P&L, and a sparkline per visible row, drawn by uPlot (installed by npm, served by the app)
under the page's CSP; without the library the page says so and works as before."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from jango.views.web import app as web_app
from tests.web.live import CHROMIUM, LiveServer

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}"
)
WAIT_MS = 20_000
DOCS = Path(__file__).resolve().parents[2] / "docs"
RED = "rgb(210, 0, 0)"
BLUE = "rgb(0, 70, 200)"


def open_page(browser: Browser, server: LiveServer, errors: list[str]) -> Page:
    page = browser.new_context(viewport={"width": 1400, "height": 1400}).new_page()
    page.set_default_timeout(WAIT_MS)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP: ' + e.violatedDirective))"
    )
    page.goto(f"{server.url}/?lang=en")
    expect(page.locator("body")).to_have_attribute("data-ws", "live")
    return page


def names_by_value(server: LiveServer) -> list[str]:
    """Held names, largest valuation first, the way the allocation chart orders its bars."""
    book = server.session.book
    values: dict[str, int] = {}
    for row in book.rows():
        values[row.name] = values.get(row.name, 0) + row.value
    return sorted(values, key=lambda n: -values[n])


@pytest.mark.skipif(not web_app.UPLOT.is_dir(), reason="uPlot is not installed (npm ci)")
def test_the_charts_follow_the_book_under_the_pages_csp(browser: Browser) -> None:
    errors: list[str] = []
    with LiveServer(tick_interval=0.05) as server:
        page = open_page(browser, server, errors)
        expect(page.locator("body")).to_have_attribute("data-charts", "ready")
        # uPlot draws on canvases inside each chart's box.
        for chart in ("#chart-day", "#chart-holdings", "#chart-markets"):
            expect(page.locator(f"{chart} canvas")).to_have_count(1)
        page.wait_for_function("() => jangoCharts.points() >= 3")
        page.wait_for_function("() => jangoCharts.sparkLengths().filter((n) => n >= 2).length > 0")
        bars = page.evaluate("() => jangoCharts.bars()")
        assert bars == names_by_value(server)
        markets = page.evaluate("() => jangoCharts.markets()")
        assert set(markets) == {row.market.value for row in server.session.book.rows()}
        # Every visible holding row has its own line; the totals band has none.
        lengths = page.evaluate("() => jangoCharts.sparkLengths()")
        assert lengths.count(-1) == 1 and len(lengths) == len(list(server.session.book.rows())) + 1
        trend = page.locator('#holdings-body tr.row td[data-col="trend"] canvas')
        expect(trend).to_have_count(len(list(server.session.book.rows())))
        page.locator("#charts-section").screenshot(path=str(DOCS / "screenshot-web-charts.png"))
        page.context.close()
    assert errors == []


@pytest.mark.skipif(not web_app.UPLOT.is_dir(), reason="uPlot is not installed (npm ci)")
def test_a_page_opened_late_gets_the_days_points_from_the_server() -> None:
    with LiveServer(tick_interval=0.05) as server:
        first = httpx.get(f"{server.url}/api/history").json()
        assert set(first) == {"t", "cost", "value", "pnl"}
        assert len(first["t"]) >= 1
        book = server.session.book
        cost = sum(a.totals.purchase_amount for a in book.accounts.values())
        assert first["cost"][-1] == cost
        assert first["value"][-1] - first["cost"][-1] == first["pnl"][-1]


def test_without_the_chart_library_the_page_says_so_and_still_works(
    browser: Browser, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(web_app, "UPLOT", tmp_path / "not-installed")
    errors: list[str] = []
    with LiveServer() as server:
        page = open_page(browser, server, errors)
        expect(page.locator("body")).to_have_attribute("data-charts", "unavailable")
        expect(page.locator("#charts-note")).to_contain_text("npm ci")
        expect(page.locator("#holdings-body tr.row")).to_have_count(
            len(list(server.session.book.rows()))
        )
        page.context.close()
    # What the browser complains of is the library's two missing files, and nothing else.
    assert errors and all("/static/vendor/uPlot." in e or "404" in e for e in errors), errors
