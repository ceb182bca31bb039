"""The balance screen's layout in headless Chromium: 1400×900 and a 390×844 phone.

Three accounts of 240 rows each, a few orders and fills, as a trader's screen would hold. The
screenshots are saved to docs/ for the README.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from jango.brokers.port import OrderRequest
from jango.domain.model import Code, Side
from tests.web.live import CHROMIUM, LiveServer, big_venue

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}"
)

DOCS = Path(__file__).resolve().parents[2] / "docs"
WAIT_MS = 15_000
IDENTITY = ("account", "code", "name")
CONSOLE_ERRORS: list[str] = []


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer(big_venue(accounts=3)) as live:
        for _ in range(30):
            live.venue.step()
        account = live.account()
        fill = OrderRequest(account, Side.BUY, Code("000660"), 1, live.venue.quote("000660").upper)
        live.call(live.session.place(fill))
        rest = OrderRequest(account, Side.BUY, Code("005930"), 5, live.venue.quote("005930").lower)
        live.call(live.session.place(rest))
        yield live


def record_error(message: ConsoleMessage) -> None:
    if message.type == "error":
        CONSOLE_ERRORS.append(message.text)


def open_at(browser: Browser, server: LiveServer, width: int, height: int) -> Page:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    # The page lives under its own Content-Security-Policy: Chromium reports any breach.
    page.on("console", record_error)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) =>"
        " console.error('CSP: ' + e.violatedDirective))"
    )
    page.goto(server.url + "/")
    expect(page.locator("body")).to_have_attribute("data-ws", "live")
    expect(page.locator("#orders-body tr")).to_have_count(1)
    return page


def box(page: Page, selector: str) -> dict[str, float]:
    found: dict[str, float] | None = page.locator(selector).first.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return not (
        a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
        or a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
    )


def rects(page: Page, selector: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)].map((el) => {
            const r = el.getBoundingClientRect();
            return {key: el.dataset.key || el.dataset.col, x: r.x, y: r.y, width: r.width,
                    height: r.height};
        })""",
        selector,
    )
    return found


def test_at_1400_every_column_fits_with_a_korean_font(browser: Browser, server: LiveServer) -> None:
    page = open_at(browser, server, 1400, 900)
    wrap = box(page, "#grid-wrap")
    heads = rects(page, "#holdings-head th")
    assert len(heads) == 16  # 15 figures and the trend line
    for head in heads:
        assert head["x"] >= wrap["x"] - 0.5, head
        assert head["x"] + head["width"] <= wrap["x"] + wrap["width"] + 0.5, head
    # Nothing to scroll sideways, and no header or cell is cut to an ellipsis.
    assert page.locator("#grid-wrap").evaluate("(el) => el.scrollWidth <= el.clientWidth")
    cut = page.evaluate(
        """() => [...document.querySelectorAll('#holdings-head th, #holdings-body td, #cash th')]
            .filter((el) => el.scrollWidth > el.clientWidth)
            .map((el) => el.dataset.col + ': ' + el.textContent)"""
    )
    assert cut == []
    # Hangul is drawn with a Korean font, not boxes: the name column's glyphs have width.
    font = page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "Noto Sans KR" in font and "Malgun Gothic" in font
    assert page.evaluate("() => getComputedStyle(document.body).fontVariantNumeric") in (
        "normal",
        "tabular-nums",
    )
    assert "tabular-nums" in page.evaluate(
        "() => getComputedStyle(document.querySelector('#holdings')).fontVariantNumeric"
    )
    page.screenshot(path=str(DOCS / "screenshot-web.png"))
    assert CONSOLE_ERRORS == []
    page.context.close()


def test_the_header_sticks_and_the_identity_columns_stay_when_scrolled(
    browser: Browser, server: LiveServer
) -> None:
    # Narrower than the columns, so the grid scrolls both ways.
    page = open_at(browser, server, 1000, 800)
    wrap = page.locator("#grid-wrap")
    wrap.evaluate("(el) => { el.scrollLeft = 400; el.scrollTop = 2000; }")
    page.wait_for_timeout(100)  # one frame for the rows in view to be drawn
    outer = box(page, "#grid-wrap")
    head = box(page, '#holdings-head th[data-col="price"]')
    assert abs(head["y"] - outer["y"]) <= 2, "the header stays at the top"
    first = page.locator("#holdings-body tr.row").nth(8)
    left = outer["x"]
    for col in IDENTITY:
        cell = first.locator(f'td[data-col="{col}"]').bounding_box()
        assert cell is not None
        assert left - 1 <= cell["x"] <= left + 1, col
        left = cell["x"] + cell["width"]
    assert first.locator('td[data-col="name"]').inner_text()
    # Scrolled right, the last column is reachable.
    wrap.evaluate("(el) => { el.scrollLeft = el.scrollWidth; }")
    page.wait_for_timeout(100)
    last = box(page, '#holdings-head th[data-col="loan_amount"]')
    assert last["x"] + last["width"] <= outer["x"] + outer["width"] + 1
    page.context.close()


def test_one_totals_band_per_account_and_an_overall_band_that_never_overlap(
    browser: Browser, server: LiveServer
) -> None:
    page = open_at(browser, server, 1400, 900)
    # Three rows of one code per account: every band of the grid is in view at once.
    page.fill("#filter", "005930")
    expect(page.locator("#holdings-body tr.band")).to_have_count(3)
    bands = rects(page, "#holdings-body tr.band, #holdings-foot tr")
    assert [b["key"] for b in bands] == ["total:a0", "total:a1", "total:a2", "total:all"]
    for i, a in enumerate(bands):
        for b in bands[i + 1 :]:
            assert not overlap(a, b), (a, b)
    summary = rects(page, "#cash-body tr")
    assert [s["key"] for s in summary] == ["total:a0", "total:a1", "total:a2", "total:all"]
    for i, a in enumerate(summary):
        for b in summary[i + 1 :]:
            assert not overlap(a, b), (a, b)
    value = page.locator('#holdings-foot tr[data-key="total:all"] td[data-col="value"]')
    assert (
        value.inner_text()
        == page.locator('#cash-body tr[data-key="total:all"] td:nth-child(3)').inner_text()
    )
    page.context.close()


def test_on_a_phone_rows_are_two_lines_and_the_ticket_works_by_thumb(
    browser: Browser, server: LiveServer
) -> None:
    page = open_at(browser, server, 390, 844)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
    row = page.locator("#holdings-body tr.row").first
    shown = {}
    for col in ("name", "qty", "price", "pnl", "pnl_rate"):
        cell = row.locator(f'td[data-col="{col}"]')
        expect(cell).to_be_visible()
        rect = cell.bounding_box()
        assert rect is not None and rect["x"] >= 0 and rect["x"] + rect["width"] <= 390, col
        shown[col] = rect
    assert shown["name"]["y"] < shown["qty"]["y"], "two lines: name above quantity"
    for col in ("purchase_amount", "avg_price", "sellable"):
        expect(row.locator(f'td[data-col="{col}"]')).to_be_hidden()
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "screenshot-web-phone.png"))

    # Tapping a row opens the ticket at the bottom of the screen, prefilled.
    row.locator('td[data-col="name"]').click()
    sheet = page.locator("#ticket-section")
    expect(page.locator("body")).to_have_attribute("data-sheet", "open")
    page.wait_for_timeout(250)  # the sheet slides in
    rect = box(page, "#ticket-section")
    assert rect["x"] >= 0 and rect["x"] + rect["width"] <= 390
    assert rect["y"] + rect["height"] <= 844 + 1
    for selector in ("#ticket-place", "#ticket-amend", "#ticket-cancel", "#ticket-qty"):
        target = box(page, selector)
        assert target["height"] >= 44, selector
        assert target["y"] + target["height"] <= 844, selector
    code = page.locator("#ticket-code").input_value()
    assert code
    upper = server.venue.quote(code).upper
    page.locator("#ticket-qty").fill("1")
    page.locator("#ticket-price").fill(str(upper))
    page.locator("#ticket-place").click()
    expect(page.locator("#ticket-result")).to_have_attribute("data-state", "ok")
    page.screenshot(path=str(DOCS / "screenshot-web-phone-ticket.png"))
    expect(sheet).to_be_visible()
    page.context.close()
