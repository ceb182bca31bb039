"""The live page end to end: headless Chromium against a real server over a SimBroker session."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import openpyxl
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from jango.brokers.port import OrderRequest
from jango.domain import krx
from jango.domain.model import Code, Side, Tick
from jango.sandbox.venue import DEMO_ACCOUNT
from jango.views.web.grid import MESSAGE_LIMIT
from tests.web.live import BIG_PAGES, CHROMIUM, LiveServer, big_venue, wide_venue

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}"
)


WAIT_MS = 15_000
RED = "rgb(210, 0, 0)"
BLUE = "rgb(0, 70, 200)"


@pytest.fixture
def server() -> Iterator[LiveServer]:
    with LiveServer() as live:
        yield live


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(accept_downloads=True, viewport={"width": 1500, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def cell(page: Page, key: str, col: str) -> Locator:
    return page.locator(f'#holdings-body tr[data-key="{key}"] td[data-col="{col}"]')


def open_page(page: Page, server: LiveServer, query: str = "") -> None:
    page.goto(f"{server.url}/{query}")
    expect(page.locator("body")).to_have_attribute("data-ws", "live")
    # The snapshot is applied; its rows are painted on the next animation frame.
    expect(page.locator("#holdings-body tr.row").first).to_have_attribute(
        "data-key", re.compile(".")
    )


def step_until_moved(server: LiveServer, code: Code) -> Tick:
    """Step the venue until ``code`` trades away from its base price; return that last tick."""
    for _ in range(2_000):
        ticks = [t for t in server.venue.step() if t.code == code and not t.expected]
        if ticks and ticks[-1].diff != 0:
            return ticks[-1]
    raise AssertionError(f"{code} never moved")


def test_page_loads_every_row_with_korean_labels_and_masked_accounts(
    page: Page, server: LiveServer
) -> None:
    open_page(page, server)
    rows = server.session.book.accounts[DEMO_ACCOUNT].rows
    expect(page.locator("#holdings-body tr.row")).to_have_count(len(rows))
    expect(page.locator('#holdings-head th[data-col="price"]')).to_have_text("현재가")
    html = page.content()
    assert DEMO_ACCOUNT not in html
    assert "******5601" in html


def test_a_price_tick_repaints_its_cell_red_up_or_blue_down(page: Page, server: LiveServer) -> None:
    open_page(page, server)
    tick = step_until_moved(server, Code("005930"))
    price = cell(page, "a0|005930|cash|", "price")
    expect(price).to_have_text(f"{tick.price:,}")
    up = tick.diff > 0
    expect(price).to_have_class("num up" if up else "num down")
    expect(price).to_have_css("color", RED if up else BLUE)
    # The margin row of the same code shows the same price.
    margin = page.locator(
        '#holdings-body tr[data-key^="a0|005930|margin_self|"] td[data-col="price"]'
    )
    expect(margin).to_have_text(f"{tick.price:,}")


def test_only_cells_whose_value_changed_are_repainted(page: Page, server: LiveServer) -> None:
    open_page(page, server)
    page.evaluate(
        """() => {
            window.touched = new Set();
            new MutationObserver((records) => {
                for (const r of records) {
                    const td = r.target.nodeType === 1 ? r.target.closest('td')
                        : r.target.parentElement.closest('td');
                    if (td) window.touched.add(td.closest('tr').dataset.key + ' ' + td.dataset.col);
                }
            }).observe(document.getElementById('holdings-body'),
                       {subtree: true, childList: true, characterData: true, attributes: true});
        }"""
    )
    tick = step_until_moved(server, Code("000660"))
    expect(cell(page, "a0|000660|cash|", "price")).to_have_text(f"{tick.price:,}")
    touched: list[str] = page.evaluate("() => [...window.touched]")
    assert touched, "the tick repainted nothing"
    for entry in touched:
        # Other codes may have ticked in the same steps, but a tick changes only these.
        assert entry.split(" ")[1] in {"price", "diff", "value", "pnl", "pnl_rate"}, entry


def test_an_order_from_the_ticket_shows_its_notices_and_changes_the_row(
    page: Page, server: LiveServer
) -> None:
    open_page(page, server)
    qty = cell(page, "a0|035420|cash|", "qty")
    before = int(qty.inner_text().replace(",", ""))
    upper = server.venue.quote("035420").upper
    page.fill("#ticket-code", "035420")
    page.fill("#ticket-qty", "1")
    page.fill("#ticket-price", str(upper))
    page.click("#ticket-place")
    result = page.locator("#ticket-result")
    expect(result).to_have_attribute("data-state", "ok")
    order_no = result.get_attribute("data-order-no")
    expect(
        page.locator(f'#notices li[data-order-no="{order_no}"][data-kind="filled"]')
    ).to_have_count(1)
    expect(
        page.locator(f'#notices li[data-order-no="{order_no}"][data-kind="accepted"]')
    ).to_have_count(1)
    expect(qty).to_have_text(f"{before + 1:,}")


def test_an_open_order_can_be_amended_and_cancelled_from_the_ticket(
    page: Page, server: LiveServer
) -> None:
    open_page(page, server)
    quote = server.venue.quote("005380")
    page.fill("#ticket-code", "005380")
    page.fill("#ticket-qty", "2")
    page.fill("#ticket-price", str(quote.lower))
    page.click("#ticket-place")
    result = page.locator("#ticket-result")
    expect(result).to_have_attribute("data-state", "ok")
    first = result.get_attribute("data-order-no")
    open_row = page.locator(f'#orders-body tr[data-order-no="{first}"]')
    expect(open_row).to_have_count(1)

    open_row.locator("button").click()
    expect(page.locator("#ticket-order-no")).to_have_value(str(first))
    step = krx.tick_size(quote.lower, quote.market, server.venue.now().date())
    page.fill("#ticket-price", str(quote.lower + step))
    page.click("#ticket-amend")
    # The ticket clears its answer (and order number) on the click, then shows the new one.
    expect(result).to_have_attribute("data-state", "ok")
    amended = result.get_attribute("data-order-no")
    assert amended and amended != first
    expect(open_row).to_have_count(0)
    expect(page.locator(f'#orders-body tr[data-order-no="{amended}"]')).to_have_count(1)

    page.fill("#ticket-order-no", str(amended))
    page.click("#ticket-cancel")
    expect(page.locator("#orders-body tr")).to_have_count(0)
    expect(page.locator('#notices li[data-kind="confirmed"]')).to_have_count(2)


def test_a_refused_order_says_why_on_the_ticket(page: Page, server: LiveServer) -> None:
    open_page(page, server)
    page.fill("#ticket-code", "999999")
    page.fill("#ticket-qty", "1")
    page.click("#ticket-place")
    expect(page.locator("#ticket-result")).to_have_attribute("data-state", "error")


def test_the_download_is_an_excel_workbook_of_the_book(
    page: Page, server: LiveServer, tmp_path: Path
) -> None:
    open_page(page, server)
    with page.expect_download() as download:
        page.click("#download")
    assert download.value.suggested_filename.endswith(".xlsx")
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    book = openpyxl.load_workbook(path)
    text = " ".join(str(c.value) for ws in book.worksheets for r in ws.iter_rows() for c in r)
    assert "005930" in text


def test_a_dropped_websocket_reconnects_and_resyncs_from_a_fresh_snapshot(
    page: Page, server: LiveServer
) -> None:
    open_page(page, server)
    body = page.locator("body")
    expect(body).to_have_attribute("data-snapshots", "1")
    qty = cell(page, "a0|069500|cash|", "qty")
    before = int(qty.inner_text().replace(",", ""))

    server.call(server._stop_serving())
    expect(body).to_have_attribute("data-ws", "reconnecting")
    # While the page is cut off, the book changes.
    upper = server.venue.quote("069500").upper
    order = OrderRequest(server.account(), Side.BUY, Code("069500"), 1, upper)
    server.call(server.session.place(order))
    server.call(server.session.wait_for(lambda book: cash_qty(server, "069500") == before + 1))
    server.call(server._serve())

    expect(body).to_have_attribute("data-ws", "live")
    expect(body).to_have_attribute("data-snapshots", "2")
    expect(qty).to_have_text(f"{before + 1:,}")
    tick = step_until_moved(server, Code("069500"))
    expect(cell(page, "a0|069500|cash|", "price")).to_have_text(f"{tick.price:,}")


def cash_qty(server: LiveServer, code: str) -> int:
    rows = server.session.book.rows()
    return sum(r.qty for r in rows if r.key.code == code and r.key.credit == "cash")


def total_value(server: LiveServer) -> int:
    async def total() -> int:
        return sum(a.totals.value for a in server.session.book.accounts.values())

    return server.call(total())


def eventually(condition: Callable[[], bool], timeout: float = WAIT_MS / 1000) -> None:
    """Wait until ``condition()`` holds, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_a_reloaded_page_starts_again_from_a_snapshot(page: Page, server: LiveServer) -> None:
    open_page(page, server)
    step_until_moved(server, Code("005930"))
    page.reload()
    expect(page.locator("body")).to_have_attribute("data-ws", "live")
    expect(page.locator("body")).to_have_attribute("data-snapshots", "1")
    expect(page.locator("#holdings-body tr.row")).to_have_count(
        len(list(server.session.book.rows()))
    )


def test_english_labels_by_query_and_by_the_toggle(page: Page, server: LiveServer) -> None:
    open_page(page, server, "?lang=en")
    head = page.locator('#holdings-head th[data-col="price"]')
    expect(head).to_have_text("Price")
    page.click("#lang-toggle")
    expect(head).to_have_text("현재가")
    expect(page.locator('#holdings-body td[data-col="credit"]').first).to_have_text("현금")


def test_clicking_a_header_sorts_the_rows(page: Page, server: LiveServer) -> None:
    open_page(page, server)
    # The sort is painted on the next animation frame: wait for the order, don't sample it.
    in_order = """(direction) => {
        const v = [...document.querySelectorAll('#holdings-body tr.row td[data-col="value"]')]
            .map((td) => Number(td.textContent.replaceAll(",", "")));
        return v.length > 1 && v.every((x, i) => i === 0 || (x - v[i - 1]) * direction >= 0);
    }"""
    page.click('#holdings-head th[data-col="value"]')
    page.wait_for_function(in_order, arg=1)
    page.click('#holdings-head th[data-col="value"]')
    page.wait_for_function(in_order, arg=-1)


def test_1200_rows_are_kept_in_the_page_but_only_the_visible_ones_are_in_the_dom(
    browser: Browser,
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    with LiveServer(big_venue()) as server:
        rows = len(list(server.session.book.rows()))
        assert rows >= 1_000
        open_page(page, server)
        assert page.evaluate("() => window.jango.modelSize()") == rows
        in_dom = page.locator("#holdings-body tr.row").count()
        assert 0 < in_dom < 100
        for _ in range(50):
            server.venue.step()
        tick = step_until_moved(server, Code("005930"))
        # Scrolled to the end, the last account's rows and its band are there, with live prices.
        page.fill("#filter", "005930")
        expect(cell(page, "a4|005930|margin_self|2024-05-07", "price")).to_have_text(
            f"{tick.price:,}"
        )
        page.fill("#filter", "")
        eventually(lambda: visible_cells_match_the_book(page, server))
        page.locator("#grid-wrap").evaluate("(el) => { el.scrollTop = el.scrollHeight; }")
        eventually(lambda: visible_cells_match_the_book(page, server))
        expect(page.locator('#holdings-body tr[data-key="total:a4"]')).to_have_count(1)
        grand = page.locator('#holdings-foot tr[data-key="total:all"] td[data-col="value"]')
        # The last ticks may still be on their way; once applied, the page shows their sum.
        eventually(lambda: grand.inner_text() == f"{total_value(server):,}")
    context.close()


def visible_cells_match_the_book(page: Page, server: LiveServer) -> bool:
    """Whether every row in the DOM shows what ``/api/book`` says, cell by cell."""
    book = httpx.get(server.url + "/api/book").json()
    expected = {
        r["key"]: {
            "qty": f"{r['qty']:,}",
            "price": f"{r['price']:,}" if r["price"] else "-",
            "value": f"{r['value']:,}",
            "pnl": f"{r['pnl']:,}",
            "pnl_rate": rate_text(r["pnl_rate"]),
        }
        for a in book["accounts"]
        for r in a["rows"]
    }
    shown: dict[str, dict[str, str]] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#holdings-body tr.row')]
            .map((tr) => [tr.dataset.key, Object.fromEntries([...tr.children]
                .map((td) => [td.dataset.col, td.textContent]))]))"""
    )
    assert shown
    return all(
        {c: cells[c] for c in want} == want
        for key, cells in shown.items()
        for want in [expected[key]]
    )


def rate_text(rate: str) -> str:
    whole, _, fraction = rate.partition(".")
    return (
        f"{int(whole):,}.{(fraction + '00')[:2]}"
        if not whole.startswith("-")
        else (f"-{int(whole[1:]):,}.{(fraction + '00')[:2]}")
    )


def test_5000_rows_over_3_accounts_stay_exact_in_the_browser_in_messages_under_64_kb(
    browser: Browser,
) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    with LiveServer(wide_venue(), limits=BIG_PAGES) as server:
        rows = len(list(server.session.book.rows()))
        assert rows >= 5_000
        open_page(page, server)
        assert page.evaluate("() => window.jango.modelSize()") == rows
        assert page.locator("#holdings-body tr.row").count() < 100
        for _ in range(10):
            server.venue.step(10_000)  # every code moves: the sim at its busiest
        eventually(lambda: visible_cells_match_the_book(page, server))
        page.locator("#grid-wrap").evaluate("(el) => { el.scrollTop = el.scrollHeight / 2; }")
        eventually(lambda: visible_cells_match_the_book(page, server))
        largest = page.evaluate("() => window.jango.stats.largest")
        assert 0 < largest <= MESSAGE_LIMIT
        assert server.hub.largest_message <= MESSAGE_LIMIT
    context.close()
