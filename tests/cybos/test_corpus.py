"""Our own corpus of CYBOS scripts, written in the styles public scripts use (docs/cybos-emulator.md
lists which public scripts each stands for), each run unchanged in a real subprocess through
``python -m jango.sandbox.cybos_run``: each ends normally, prints what it exists to print, and
shows no traceback.

The scripts are started together (one subprocess each) and checked one test per script, so the
corpus costs about as long as its slowest script.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"
TIMEOUT = 150  # a guard against hanging, not a timing expectation
SCRIPTS = {
    "plain_quotes.py": [],
    "chart_download.py": [],
    "industry_per.py": [],
    "marketeye_screen.py": [],
    "order_wrapper.py": ["--step-interval", "0.05"],
    "qt_realtime_window.py": ["--step-interval", "0.05", "--qt", "shim"],
    "etf_trader.py": ["--step-interval", "0.05", "--seed", "0"],
    "orderbook_ten.py": ["--step-interval", "0.05"],
    "helper_bot/collect.py": [],
    "supply_demand.py": ["--step-interval", "0.05"],
    "tick_history.py": ["--at", "10:00", "--step-interval", "0.05"],
    "credit_order.py": ["--step-interval", "0.05"],
}


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, tuple[int, str, str]]]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    running = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jango.sandbox.cybos_run",
                str(CORPUS / name),
                "--seconds",
                "90",
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=CORPUS,
        )
        for name, args in SCRIPTS.items()
    }
    done: dict[str, tuple[int, str, str]] = {}
    try:
        for name, process in running.items():
            out, err = process.communicate(timeout=TIMEOUT)
            done[name] = (process.returncode, out, err)
        yield done
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()


def output(results: dict[str, tuple[int, str, str]], name: str) -> list[str]:
    code, out, err = results[name]
    assert code == 0, err
    assert "Traceback" not in err and "stopped after" not in err, err
    return out.splitlines()


def line(lines: list[str], start: str) -> list[str]:
    found = [text for text in lines if text.startswith(start)]
    assert found, f"no line starting {start!r} in {lines}"
    return found[-1].split()


def test_plain_quotes_prints_listings_a_price_and_a_consistent_book(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "plain_quotes.py")
    kospi, kosdaq = (int(n) for n in line(lines, "listings")[1:])
    assert kospi > 100 and kosdaq > 20
    assert line(lines, "price")[1] == "삼성전자"
    assert len([text for text in lines if text.startswith("level")]) == 10
    assert "book ok" in lines


def test_chart_download_pages_minutes_and_reads_every_kind(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "chart_download.py")
    assert line(lines, "daily")[1] == "20"
    assert int(line(lines, "weekly since 2020")[3]) > 300
    assert line(lines, "minutes")[1:] == ["4000", "pages", "2"]
    assert line(lines, "stockweek rows")[2] == "30"


def test_industry_per_averages_each_industry(results: dict[str, tuple[int, str, str]]) -> None:
    lines = output(results, "industry_per.py")
    industries = [text.split() for text in lines if text[:3].isdigit()]
    assert len(industries) >= 10
    for code, *_name, count, average in industries:  # a name may hold a space (IT 서비스)
        assert int(count) > 0 and float(average) > 0, code
    assert int(line(lines, "electronics")[1]) > 0


def test_marketeye_screen_reads_columns_in_sorted_field_order(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "marketeye_screen.py")
    screened, cheap = int(line(lines, "screened")[1]), int(line(lines, "screened")[3])
    assert screened > 100 and 0 < cheap < screened
    first = lines[1].split()
    assert first[0].startswith("A") and float(first[2]) < 10


def test_order_wrapper_places_amends_cancels_and_sees_its_fill(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "order_wrapper.py")
    resting = line(lines, "numbers")[1]
    assert line(lines, "open [")[1] == f"[({resting},"
    assert line(lines, "notice flags")[2:] == ["['1',", "'2',", "'4']"]
    assert line(lines, "filled")[1] == "3"
    assert "open after cancel []" in lines


def test_qt_window_gets_ticks_from_app_exec(results: dict[str, tuple[int, str, str]]) -> None:
    lines = output(results, "qt_realtime_window.py")
    assert len([text for text in lines if text.startswith("holding")]) >= 5
    assert line(lines, "ticks")[1] == "5"


def test_etf_trader_buys_then_sells_what_cash_orders_can_sell(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "etf_trader.py")
    assert line(lines, "name")[1:] == ["KODEX", "200"]
    assert "매수주문이 접수되었습니다" in " ".join(line(lines, "buy"))
    # Only the demo account's margin row is left: a cash sell (CpTd0311) cannot sell a credit
    # row, and the script's market sells of every cash row filled.
    assert line(lines, "left")[1:] == ["[('A005930',", "42,", "42)]"]


def test_orderbook_ten_reads_and_follows_the_book(results: dict[str, tuple[int, str, str]]) -> None:
    lines = output(results, "orderbook_ten.py")
    ask, bid = (int(n) for n in line(lines, "snapshot")[1:3])
    assert ask > bid
    assert line(lines, "pushes")[1:] == ["3", "ordered", "True"]


def test_helper_bot_imports_its_module_and_stores_sane_bars(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "helper_bot/collect.py")
    stored, bad = int(line(lines, "stored")[1]), int(line(lines, "stored")[4])
    assert stored == 3 * (60 + 30) and bad == 0


def test_supply_demand_pages_the_analysis_objects_and_waits_out_the_quote_limit(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "supply_demand.py")
    assert line(lines, "investors")[2:] == ["balanced", "True", "last", "0"]
    assert line(lines, "short")[1:] == ["90", "within", "volume", "True"]
    marketcap = line(lines, "marketcap")
    assert int(marketcap[1]) > 900 and 99 <= int(marketcap[3]) <= 101
    assert line(lines, "kospi200")[1] == "200"
    assert int(line(lines, "waits")[1]) > 0  # 15 codes of 4 pages: the 60/15 s limit bites


def test_tick_history_reads_the_day_back_to_the_first_trade(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "tick_history.py")
    trades = line(lines, "trades")
    assert int(trades[1]) == 60 and trades[3] == "90100" and int(trades[5]) >= 100000
    assert line(lines, "agree") == ["agree", "True"]
    assert line(lines, "cumulative")[1] == "True"
    assert line(lines, "watch")[1:] == ["4", "etn", "True"]


def test_credit_order_borrows_then_repays_its_loan(
    results: dict[str, tuple[int, str, str]],
) -> None:
    lines = output(results, "credit_order.py")
    bought = line(lines, "bought")
    assert bought[2] == "02" and bought[4] == "2"  # 자기융자, 신용
    assert any(text.startswith("loan rows [('A000660', 'I'") for text in lines)
    assert line(lines, "repaid")[1] == "5"
    assert line(lines, "loan rows after") == ["loan", "rows", "after", "[]"]
