"""KRX rules as dated data: tick sizes, daily price limits, business days and T+2 settlement.

PLACEHOLDER: being written (see issue 2). Public functions and their signatures are fixed:
"""

from __future__ import annotations

from datetime import date, timedelta


def is_business_day(day: date) -> bool:
    return day.weekday() < 5


def add_business_days(day: date, n: int) -> date:
    while n > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            n -= 1
    return day


def settlement_date(trade_date: date) -> date:
    return add_business_days(trade_date, 2)
