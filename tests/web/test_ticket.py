"""The order ticket in headless Chromium: the exchange's rules checked before anything is sent,
the reason in the page's language, the broker's answer, and the ticket following its order."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Request, expect

from jango.domain import krx
from tests.web.live import CHROMIUM, LiveServer

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"browser tests need Chromium at {CHROMIUM}"
)

WAIT_MS = 15_000
CODE = "005930"
# What each refusal says, by page language.
SAYS = {
    "ko": {
        "tick": "호가단위",
        "upper": "상한가",
        "lower": "하한가",
        "sellable": "매도가능수량",
        "cash": "주문가능금액",
        "unknown": "알 수 없는 종목코드",
    },
    "en": {
        "tick": "off the tick grid",
        "upper": "above the upper limit",
        "lower": "below the lower limit",
        "sellable": "sellable",
        "cash": "orderable cash",
        "unknown": "unknown stock code",
    },
}


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    with LiveServer() as live:
        yield live


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    yield page
    context.close()


def open_ticket(page: Page, server: LiveServer, lang: str) -> list[str]:
    """Open the page in ``lang``; returns the list the page's order requests are logged to."""
    sent: list[str] = []

    def log(request: Request) -> None:
        if request.method == "POST":
            sent.append(request.url)

    page.on("request", log)
    page.goto(f"{server.url}/?lang={lang}")
    expect(page.locator("body")).to_have_attribute("data-ws", "live")
    return sent


def fill(page: Page, *, side: str = "buy", code: str = CODE, qty: int, price: int) -> None:
    page.check(f'#ticket input[name="side"][value="{side}"]')
    page.fill("#ticket-code", code)
    page.fill("#ticket-qty", str(qty))
    page.fill("#ticket-price", str(price))


def sellable(server: LiveServer, code: str) -> int:
    return sum(
        r.sellable
        for r in server.session.book.rows()
        if r.key.code == code and r.key.credit == "cash"
    )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_orders_that_break_the_rules_are_refused_before_sending(
    page: Page, server: LiveServer, lang: str
) -> None:
    sent = open_ticket(page, server, lang)
    quote = server.venue.quote(CODE)
    today = server.venue.now().date()
    tick = krx.tick_size(quote.price, quote.market, today)
    orderable = server.session.book.accounts[server.account()].orderable
    cases = {
        "tick": dict(qty=1, price=quote.price + 1),
        "upper": dict(qty=1, price=quote.upper + krx.tick_size(quote.upper, quote.market, today)),
        "lower": dict(
            qty=1, price=quote.lower - krx.tick_size(quote.lower - 1, quote.market, today)
        ),
        "sellable": dict(side="sell", qty=sellable(server, CODE) + 1, price=quote.price),
        "cash": dict(qty=orderable // quote.price + 1, price=quote.price),
    }
    assert tick > 1, "the off-grid case needs a band coarser than 1 won"
    result = page.locator("#ticket-result")
    for rule, order in cases.items():
        fill(page, **order)  # type: ignore[arg-type]
        page.click("#ticket-place")
        expect(result).to_have_attribute("data-state", "refused")
        expect(result).to_contain_text(SAYS[lang][rule])
    assert sent == [], "nothing was sent"
    # Changing the order clears the old refusal.
    page.fill("#ticket-qty", "2")
    expect(result).to_have_text("")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_servers_own_errors_come_in_the_pages_language(
    page: Page, server: LiveServer, lang: str
) -> None:
    open_ticket(page, server, lang)
    fill(page, code="999999", qty=1, price=1000)
    page.click("#ticket-place")
    result = page.locator("#ticket-result")
    expect(result).to_have_attribute("data-state", "error")
    expect(result).to_contain_text(SAYS[lang]["unknown"])


def test_the_broker_answer_is_shown_and_the_ticket_follows_an_amended_order(
    page: Page, server: LiveServer
) -> None:
    open_ticket(page, server, "ko")
    quote = server.venue.quote(CODE)
    today = server.venue.now().date()
    fill(page, qty=2, price=quote.lower)
    page.click("#ticket-place")
    result = page.locator("#ticket-result")
    expect(result).to_have_attribute("data-state", "ok")
    expect(result).to_contain_text("주문 접수")
    first = result.get_attribute("data-order-no")
    assert first
    expect(page.locator("#ticket-order-no")).to_have_value(first)
    expect(page.locator(f'#orders-body tr[data-order-no="{first}"]')).to_have_count(1)

    page.fill("#ticket-price", str(quote.lower + krx.tick_size(quote.lower, quote.market, today)))
    page.click("#ticket-amend")
    expect(result).to_contain_text("정정 접수")
    expect(result).not_to_have_attribute("data-order-no", first)
    amended = result.get_attribute("data-order-no")
    assert amended
    # The ticket now names the new order, so a cancel acts on it without retyping.
    expect(page.locator("#ticket-order-no")).to_have_value(amended)
    expect(page.locator(f'#orders-body tr[data-order-no="{amended}"]')).to_have_count(1)
    page.click("#ticket-cancel")
    expect(result).to_contain_text("취소 접수")
    expect(page.locator("#orders-body tr")).to_have_count(0)


def test_arrow_keys_step_the_price_by_the_tick_of_its_band(page: Page, server: LiveServer) -> None:
    open_ticket(page, server, "ko")
    quote = server.venue.quote(CODE)
    # Across the 50,000 won edge, where the tick goes from 50 to 100 (KRX, 2023 table).
    assert quote.lower < 49_950 and quote.upper > 50_100
    page.fill("#ticket-code", CODE)
    price = page.locator("#ticket-price")
    price.fill("49950")
    for key, expected in [
        ("ArrowUp", "50000"),
        ("ArrowUp", "50100"),
        ("ArrowDown", "50000"),
        ("ArrowDown", "49950"),
    ]:
        price.press(key)
        expect(price).to_have_value(expected)
    # An off-grid price snaps onto the grid first.
    price.fill("50030")
    price.press("ArrowUp")
    expect(price).to_have_value("50100")
