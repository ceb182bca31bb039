"""The strategy API: open a session, read the book, await changes, react to fills."""

from __future__ import annotations

import asyncio

import pytest

import jango
from jango.brokers.port import OrderRequest
from jango.config import ConfigError
from jango.domain.model import OrderNotice, OrderType, Side


async def test_a_strategy_sees_changes_and_its_own_fills() -> None:
    fills: list[OrderNotice] = []
    async with jango.open_session("sim", seed=2, sim_demo="false") as session:
        session.on_fill(fills.append)
        account = session.accounts[0]
        held = sorted(session.book.held_codes())
        assert held and all(r.priced for r in session.book.rows())
        first = await asyncio.wait_for(anext(aiter(session.changes())), timeout=30)
        assert first.rows or first.accounts
        ack = await session.place(
            OrderRequest(account, Side.BUY, held[0], 1, order_type=OrderType.MARKET)
        )
        await session.wait_for(
            lambda book: any(n.order_no == ack.order_no for n in fills), timeout=30
        )
    assert fills[0].code == held[0]


def test_open_session_refuses_a_bad_setting_value_by_name() -> None:
    with pytest.raises(ConfigError, match="lang"):
        jango.open_session(lang="fr")
