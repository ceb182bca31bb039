"""One way to build a session: the commands and ``jango.open_session`` read the same settings."""

from __future__ import annotations

from pathlib import Path

import pytest

import jango
from jango.brokers.port import OrderRequest
from jango.cli import build_parser
from jango.cli.common import session_of, settings_of
from jango.config import ConfigError
from jango.domain.costs import rate_ppb
from jango.domain.model import OrderNotice, OrderType, Side


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('commission_percent = "0.1"\ncommission_unit = 1\npnl = "net"\n')
    monkeypatch.setenv("JANGO_CONFIG", str(path))
    monkeypatch.setenv("JANGO_DATA_DIR", str(tmp_path / "data"))
    return path


def test_the_api_and_the_command_line_charge_the_configured_commission(config: Path) -> None:
    args = build_parser().parse_args(["--config", str(config), "balance"])
    from_cli = session_of(settings_of(args))
    from_api = jango.open_session("sim")
    assert from_api.book.costs == from_cli.book.costs
    assert from_api.book.costs.commission_ppb == rate_ppb("0.1")
    assert from_api.book.costs.commission_unit == 1
    assert from_api.book.pnl_mode is from_cli.book.pnl_mode is jango.PnlMode.NET


async def test_a_fill_through_the_api_is_charged_the_configured_commission(config: Path) -> None:
    fills: list[OrderNotice] = []
    async with jango.open_session("sim", seed=3, sim_demo="false") as session:
        session.on_fill(fills.append)
        account = session.accounts[0]
        code = next(session.book.rows()).key.code
        before = session.book.accounts[account].totals.commission
        await session.place(OrderRequest(account, Side.BUY, code, 7, order_type=OrderType.MARKET))
        await session.wait_for(lambda book: bool(fills), timeout=30)
        charged = session.book.accounts[account].totals.commission - before
    # 0.1 % of what was paid, to the won (commission_unit = 1), not the default 0.015 %.
    assert charged == sum(f.price * f.qty // 1000 for f in fills) > 0


async def test_open_session_takes_the_accounts_list(config: Path) -> None:
    entries = [{"broker": "sim", "seed": 1, "demo": False}, {"broker": "sim", "seed": 2}]
    async with jango.open_session(accounts=entries, sim_demo="false") as session:
        assert [a.split(":")[0] for a in session.accounts] == ["sim", "sim2"]
        labels = {row.key.account.split(":")[0] for row in session.book.rows()}
        assert labels == {"sim", "sim2"}
        # Two markets, one book: an order goes to the entry owning its account.
        account = session.accounts[1]
        code = next(session.book.rows(account)).key.code
        ack = await session.place(
            OrderRequest(account, Side.BUY, code, 1, order_type=OrderType.MARKET)
        )
        assert ack.order_no.startswith("sim2:")
        await session.wait_for(lambda book: ack.order_no in book.orders, timeout=30)
        assert session.book.orders[ack.order_no].account == account


def test_a_bad_accounts_entry_given_to_open_session_names_it(config: Path) -> None:
    with pytest.raises(ConfigError, match="sim takes no app_key"):
        jango.open_session(accounts=[{"broker": "sim", "app_key": "x"}])
