"""``jango order``, ``amend`` and ``cancel``, with the tick-grid and price-limit check."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from jango import config
from jango.brokers.port import Broker, OrderRequest
from jango.build import build_broker
from jango.cli.common import (
    DAY,
    PRICE,
    QUANTITY,
    SECONDS,
    UserError,
    attached,
    session_arguments,
    session_of,
    settings_of,
)
from jango.client import ApiError
from jango.domain import krx
from jango.domain.book import OrderStatus
from jango.domain.model import (
    Code,
    Condition,
    Credit,
    DomainError,
    Market,
    OrderType,
    Side,
    parse_code,
)
from jango.engine import Session

if TYPE_CHECKING:
    from jango.brokers.kis.broker import KisBroker
    from jango.client import Client


async def _trade(
    settings: dict[str, str], act: Callable[[Session], Awaitable[str]], wait: float
) -> int:
    session = session_of(settings)
    async with session:
        order_no = await act(session)
        print(f"order {order_no} sent")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        seen = 0
        while loop.time() < deadline:
            notices = list(session.notices)
            for n in notices[seen:]:
                if order_no in (n.order_no, n.orig_order_no):
                    print(
                        f"{n.kind.value:<9} {n.action.value:<6} {n.side.value:<4} {n.code} "
                        f"order={n.order_no} qty={n.qty:,} price={n.price:,}"
                    )
            seen = len(notices)
            order = session.book.orders.get(order_no)
            if order is not None and order.status is not OrderStatus.OPEN:
                break
            await asyncio.sleep(0.05)
    order = session.book.orders.get(order_no)
    if order is not None and order.status is OrderStatus.REJECTED:
        raise UserError(f"order {order_no} was rejected by the exchange")
    return 0


async def _check_price(broker: Broker, code: Code, price: int) -> None:
    """Refuse a limit price off the tick grid or outside the day's limits before sending it."""
    quote = await broker.quote(code)
    market = quote.market if quote.market is not Market.UNKNOWN else Market.KOSPI
    if not krx.is_valid_price(price, market):
        tick = krx.tick_size(price, market)
        raise UserError(f"price {price:,} is not on the tick grid for {code} (tick {tick:,} won)")
    if quote.upper and not quote.lower <= price <= quote.upper:
        raise UserError(
            f"price {price:,} is outside today's limits for {code}: "
            f"{quote.lower:,} – {quote.upper:,}"
        )


def _account(session: Session, given: str | None, order_no: str = "") -> str:
    """The account named, else the one that placed ``order_no``, else the first."""
    if given:
        if given not in session.accounts:
            raise UserError(f"no such account {given}")
        return given
    known = session.book.orders.get(order_no)
    return known.account if known is not None else session.accounts[0]


def _print_notice(n: dict[str, Any]) -> None:
    print(
        f"{n['kind']:<9} {n['action']:<6} {n['side']:<4} {n['code']} "
        f"order={n['order_no']} qty={n['qty']:,} price={n['price']:,}"
    )


def _follow_attached(client: Client, order_no: str, wait: float) -> int:
    """Show the running session's notices of ``order_no`` until it is no longer open."""
    print(f"order {order_no} sent")
    deadline = time.monotonic() + wait
    seen = 0
    status = "open"
    while True:
        with contextlib.suppress(ApiError):  # not in the book until its first notice
            status = client.order(order_no)["status"]
        # Read after the status: every notice that made it so is shown.
        for n in client.notices(after=seen, order_no=order_no):
            seen = max(seen, n["seq"])
            _print_notice(n)
        if status != OrderStatus.OPEN.value or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if status == OrderStatus.REJECTED.value:
        raise UserError(f"order {order_no} was rejected by the exchange")
    return 0


def _check_quote(quote: dict[str, Any], code: Code, price: int) -> None:
    """The tick-grid and limit check of :func:`_check_price`, on the running session's quote."""
    try:
        market = Market(quote.get("market", "unknown"))
    except ValueError:
        market = Market.UNKNOWN
    if market is Market.UNKNOWN:
        market = Market.KOSPI
    if not krx.is_valid_price(price, market):
        tick = krx.tick_size(price, market)
        raise UserError(f"price {price:,} is not on the tick grid for {code} (tick {tick:,} won)")
    upper, lower = int(quote.get("upper") or 0), int(quote.get("lower") or 0)
    if upper and not lower <= price <= upper:
        raise UserError(
            f"price {price:,} is outside today's limits for {code}: {lower:,} – {upper:,}"
        )


def _attached_account(client: Client, given: str | None) -> str | None:
    if given and given not in {a["account"] for a in client.accounts()}:
        raise UserError(f"no such account {given}")
    return given


def _refused(exc: ApiError) -> UserError:
    return UserError(str(exc))


def cmd_order(args: argparse.Namespace) -> int:
    try:
        code = parse_code(args.code)
    except DomainError as exc:
        raise UserError(str(exc)) from exc
    order_type = OrderType(args.type)
    if args.price is None and order_type is OrderType.LIMIT:
        order_type = OrderType.MARKET
    loan: date | None = args.loan_date
    if loan is not None and args.credit == Credit.CASH.value:
        raise UserError("--loan-date is for credit rows; a cash order has none (see --credit)")

    def request(account: str) -> OrderRequest:
        return OrderRequest(
            account=account,
            side=Side(args.side),
            code=code,
            qty=args.qty,
            price=args.price or 0,
            order_type=order_type,
            condition=Condition(args.condition),
            credit=Credit(args.credit),
            loan_date=loan,
        )

    settings = settings_of(args)
    client = attached(settings)
    if client is not None:
        with client:
            if args.price is not None:
                _check_quote(client.quote(code), code, args.price)
            try:
                ack = client.place(
                    account=_attached_account(client, args.account),
                    side=args.side,
                    code=code,
                    qty=args.qty,
                    price=args.price or 0,
                    order_type=order_type.value,
                    condition=args.condition,
                    credit=args.credit,
                    loan_date=loan.isoformat() if loan else None,
                )
            except ApiError as exc:
                raise _refused(exc) from exc
            return _follow_attached(client, ack["order_no"], args.wait)

    if settings.get("broker") == "kis" and not config.account_entries(settings):

        async def rest_act(broker: KisBroker) -> str:
            if args.price is not None:
                await _check_price(broker, code, args.price)
            return (await broker.place(request(_kis_account(broker, args.account)))).order_no

        return asyncio.run(_kis_one_shot(settings, rest_act, args.wait))

    async def act(session: Session) -> str:
        if args.price is not None:
            await _check_price(session.broker, code, args.price)
        ack = await session.place(request(_account(session, args.account)))
        return ack.order_no

    return asyncio.run(_trade(settings, act, args.wait))


def cmd_amend(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    client = attached(settings)
    if client is not None:
        with client:
            try:
                ack = client.amend(
                    args.order_no,
                    price=args.price,
                    qty=args.qty,
                    account=_attached_account(client, args.account),
                )
            except ApiError as exc:
                raise _refused(exc) from exc
            return _follow_attached(client, ack["order_no"], args.wait)

    if settings.get("broker") == "kis" and not config.account_entries(settings):

        async def rest_act(broker: KisBroker) -> str:
            account = _kis_account(broker, args.account)
            ack = await broker.amend(account, args.order_no, price=args.price, qty=args.qty)
            return ack.order_no

        return asyncio.run(_kis_one_shot(settings, rest_act, args.wait))

    async def act(session: Session) -> str:
        account = _account(session, args.account, args.order_no)
        ack = await session.amend(account, args.order_no, price=args.price, qty=args.qty)
        return ack.order_no

    return asyncio.run(_trade(settings, act, args.wait))


def cmd_cancel(args: argparse.Namespace) -> int:
    settings = settings_of(args)
    client = attached(settings)
    if client is not None:
        with client:
            try:
                ack = client.cancel(
                    args.order_no, qty=args.qty, account=_attached_account(client, args.account)
                )
            except ApiError as exc:
                raise _refused(exc) from exc
            return _follow_attached(client, ack["order_no"], args.wait)

    if settings.get("broker") == "kis" and not config.account_entries(settings):

        async def rest_act(broker: KisBroker) -> str:
            account = _kis_account(broker, args.account)
            ack = await broker.cancel(account, args.order_no, qty=args.qty)
            return ack.order_no

        return asyncio.run(_kis_one_shot(settings, rest_act, args.wait))

    async def act(session: Session) -> str:
        account = _account(session, args.account, args.order_no)
        ack = await session.cancel(account, args.order_no, qty=args.qty)
        return ack.order_no

    return asyncio.run(_trade(settings, act, args.wait))


def _kis_account(broker: KisBroker, given: str | None) -> str:
    """The configured account (KIS keys are issued per account); another is refused."""
    if given and given.replace("-", "") != broker.config.account:
        raise UserError(f"no such account {given}")
    return broker.config.account


async def _kis_one_shot(
    settings: dict[str, str], act: Callable[[KisBroker], Awaitable[str]], wait: float
) -> int:
    """A one-shot order on KIS with no session running: REST alone, never the WebSocket (KIS
    allows one WebSocket per app key, which a ``jango run`` started later needs). Its state
    is read back from the order inquiry, since notices come only over the WebSocket."""
    from jango.brokers.kis.broker import KisBroker
    from jango.brokers.kis.ratelimit import limiter_for
    from jango.brokers.kis.rest import KisRest

    broker = build_broker(settings)
    assert isinstance(broker, KisBroker)
    # What KisBroker.connect does before it opens the WebSocket (the token, the REST client).
    broker._rest = KisRest(
        broker.config,
        broker.tuning,
        broker._client,
        broker.tokens,
        limiter_for(
            broker.config.app_key, broker.limits.quote_requests, broker.limits.window_seconds
        ),
    )
    try:
        await broker.tokens.token()
        order_no = await act(broker)
        print(f"order {order_no} sent")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        shown = ""
        state = None
        while loop.time() < deadline:
            states = await broker.orders(broker.config.account, branches=False)
            state = next((o for o in states if o.order_no == order_no), None)
            if state is not None:
                line = (
                    f"order={state.order_no} filled={state.filled:,} remaining={state.remaining:,}"
                )
                if line != shown:
                    print(line)
                    shown = line
                if state.remaining == 0:
                    break
            await asyncio.sleep(0.5)
    finally:
        await broker.close()
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``order``, ``amend`` and ``cancel``."""
    p = sub.add_parser("order", help="place an order")
    session_arguments(p)
    p.add_argument("side", choices=("buy", "sell"))
    p.add_argument("code")
    p.add_argument("qty", type=QUANTITY)
    p.add_argument("--price", type=PRICE, help="limit price (omit for a market order)")
    p.add_argument("--type", choices=[t.value for t in OrderType], default="limit")
    p.add_argument("--condition", choices=[c.value for c in Condition], default="none")
    p.add_argument("--credit", choices=[c.value for c in Credit], default="cash")
    p.add_argument("--loan-date", type=DAY, help="loan date (YYYY-MM-DD) of the credit row to sell")
    p.add_argument("--account")
    p.add_argument("--wait", type=SECONDS, default=3.0, help="seconds to show notices")
    p.set_defaults(func=cmd_order)

    p = sub.add_parser("amend", help="amend an open order")
    session_arguments(p)
    p.add_argument("order_no")
    p.add_argument("--price", type=PRICE, required=True)
    p.add_argument("--qty", type=QUANTITY)
    p.add_argument("--account")
    p.add_argument("--wait", type=SECONDS, default=3.0)
    p.set_defaults(func=cmd_amend)

    p = sub.add_parser("cancel", help="cancel an open order")
    session_arguments(p)
    p.add_argument("order_no")
    p.add_argument("--qty", type=QUANTITY)
    p.add_argument("--account")
    p.add_argument("--wait", type=SECONDS, default=3.0)
    p.set_defaults(func=cmd_cancel)
