"""``jango order``, ``amend`` and ``cancel``, with the tick-grid and price-limit check."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import date

from jango.brokers.port import OrderRequest
from jango.cli.common import (
    DAY,
    PRICE,
    QUANTITY,
    SECONDS,
    UserError,
    session_arguments,
    session_of,
    settings_of,
)
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


async def _check_price(session: Session, code: Code, price: int) -> None:
    """Refuse a limit price off the tick grid or outside the day's limits before sending it."""
    quote = await session.broker.quote(code)
    market = quote.market if quote.market is not Market.UNKNOWN else Market.KOSPI
    if not krx.is_valid_price(price, market):
        tick = krx.tick_size(price, market)
        raise UserError(f"price {price:,} is not on the tick grid for {code} (tick {tick:,} won)")
    if quote.upper and not quote.lower <= price <= quote.upper:
        raise UserError(
            f"price {price:,} is outside today's limits for {code}: "
            f"{quote.lower:,} – {quote.upper:,}"
        )


def _account(session: Session, given: str | None) -> str:
    if given:
        if given not in session.accounts:
            raise UserError(f"no such account {given}")
        return given
    return session.accounts[0]


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

    async def act(session: Session) -> str:
        if args.price is not None:
            await _check_price(session, code, args.price)
        ack = await session.place(
            OrderRequest(
                account=_account(session, args.account),
                side=Side(args.side),
                code=code,
                qty=args.qty,
                price=args.price or 0,
                order_type=order_type,
                condition=Condition(args.condition),
                credit=Credit(args.credit),
                loan_date=loan,
            )
        )
        return ack.order_no

    return asyncio.run(_trade(settings_of(args), act, args.wait))


def cmd_amend(args: argparse.Namespace) -> int:
    async def act(session: Session) -> str:
        account = _account(session, args.account)
        ack = await session.amend(account, args.order_no, price=args.price, qty=args.qty)
        return ack.order_no

    return asyncio.run(_trade(settings_of(args), act, args.wait))


def cmd_cancel(args: argparse.Namespace) -> int:
    async def act(session: Session) -> str:
        ack = await session.cancel(_account(session, args.account), args.order_no, qty=args.qty)
        return ack.order_no

    return asyncio.run(_trade(settings_of(args), act, args.wait))


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
