"""Commission and sell tax: the worked broker samples of krx-rules §4 and §6."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jango.domain.costs import KIS_BANKIS, KIWOOM, CostSchedule, rate_ppb
from jango.domain.model import DomainError, Market

D = date.fromisoformat
TRADED_2024 = D("2024-06-03")  # settles 2024-06-05: the 0.18% year


def test_kiwoom_buy_commission_is_truncated_to_10_won() -> None:
    assert KIWOOM.commission(373_500) == 50  # floor10(56.03)


def test_kiwoom_kt00018_row_one_sell_commission_and_tax() -> None:
    assert KIWOOM.commission(177_000) == 20  # floor10(26.55)
    assert KIWOOM.tax(177_000, Market.KOSPI, TRADED_2024) == 318  # floor(318.6)


def test_kiwoom_kt00018_row_two_commissions_and_tax() -> None:
    assert KIWOOM.commission(1_673_430) == 250
    assert KIWOOM.commission(680_000) == 100
    assert KIWOOM.tax(680_000, Market.KOSPI, TRADED_2024) == 1_224


def test_kiwoom_tax_is_truncated_per_fill_then_summed() -> None:
    per_fill = [KIWOOM.tax(158_200, Market.KOSPI, TRADED_2024) for _ in range(3)]
    assert per_fill == [284, 284, 284]
    assert sum(per_fill) == 852
    assert KIWOOM.tax(3 * 158_200, Market.KOSPI, TRADED_2024) == 854  # what one record would give


def test_kiwoom_net_unrealized_pnl_matches_the_sample() -> None:
    purchase, valuation = 373_500, 177_000
    net = (
        valuation
        - purchase
        - KIWOOM.commission(purchase)
        - KIWOOM.commission(valuation)
        - KIWOOM.tax(valuation, Market.KOSPI, TRADED_2024)
    )
    assert net == -196_888
    assert round(Fraction(net * 100, purchase), 2) == Fraction("-52.71")  # 수익률 in %


@pytest.mark.parametrize(
    ("trade", "percent"),
    [
        ("2023-12-26", "0.20"),  # settles 2023-12-28
        ("2023-12-27", "0.18"),  # settles 2024-01-02 (12/29 closed)
        ("2024-12-26", "0.18"),  # settles 2024-12-30
        ("2024-12-27", "0.15"),  # settles 2025-01-02: the 2025 cut
        ("2025-12-26", "0.15"),  # settles 2025-12-30
        ("2025-12-29", "0.20"),  # settles 2026-01-02: the 2026 rise
    ],
)
def test_sell_tax_rate_follows_the_settlement_date_at_year_boundaries(
    trade: str, percent: str
) -> None:
    for market in (Market.KOSPI, Market.KOSDAQ):
        assert KIWOOM.tax_rate(market, D(trade)) == rate_ppb(percent)


def test_konex_tax_is_ten_basis_points() -> None:
    assert KIWOOM.tax(1_000_000, Market.KONEX, D("2026-03-04")) == 1_000


def test_etf_and_etn_pay_no_sell_tax() -> None:
    assert KIWOOM.tax(5_234_500, Market.ETF, D("2026-03-04")) == 0
    assert KIWOOM.tax(5_234_500, Market.ETN, D("2024-06-03")) == 0


def test_unknown_market_is_taxed_like_a_stock() -> None:
    assert KIWOOM.tax(1_000_000, Market.UNKNOWN, D("2026-03-04")) == 2_000


def test_kis_rate_is_exact_and_rounded_to_one_won() -> None:
    assert rate_ppb("0.0140527") == 140_527
    assert KIS_BANKIS.commission(1_000_000) == 140  # 140.527
    assert KIS_BANKIS.commission(10_000_000) == 1_405  # 1,405.27: 1-won, not 10-won, rounding


def test_from_config_builds_another_brokers_schedule() -> None:
    free = CostSchedule.from_config(commission_percent="0.0036396", commission_unit=1)
    assert free.commission(10_000_000) == 363  # 363.96
    assert free.tax(10_000_000, Market.KOSPI, D("2026-03-04")) == 20_000


def test_a_rate_that_is_not_a_whole_ppb_is_refused() -> None:
    with pytest.raises(DomainError):
        rate_ppb("0.00000000001")
    with pytest.raises(DomainError):
        CostSchedule.from_config(commission_percent="0.01405275")


def test_a_negative_rate_or_a_zero_rounding_unit_is_refused() -> None:
    with pytest.raises(DomainError):
        rate_ppb("-0.015")
    with pytest.raises(DomainError):
        CostSchedule.from_config(commission_unit=0)


@given(st.integers(0, 10**12))
def test_commission_never_exceeds_the_exact_amount_and_is_a_whole_unit(amount: int) -> None:
    fee = KIWOOM.commission(amount)
    assert fee % 10 == 0
    assert fee * 10**9 <= amount * KIWOOM.commission_ppb
    assert (fee + 10) * 10**9 > amount * KIWOOM.commission_ppb


@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=10))
def test_per_fill_tax_never_exceeds_tax_on_the_sum(amounts: list[int]) -> None:
    day = D("2026-03-04")
    per_fill = sum(KIWOOM.tax(a, Market.KOSPI, day) for a in amounts)
    assert per_fill <= KIWOOM.tax(sum(amounts), Market.KOSPI, day)
