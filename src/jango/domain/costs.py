"""Commission and sell tax as dated data (krx-rules §4).

Rates are held as integers in parts per billion so that every charge is exact integer arithmetic:
``amount * rate // 1e9``, then truncated to the broker's rounding unit. A broker's own rates and
rounding are configuration (:class:`CostSchedule`), never code changes.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from jango.domain import krx
from jango.domain.model import DomainError, Market

PPB = 1_000_000_000


def rate_ppb(percent: str | Decimal) -> int:
    """Convert a percentage such as ``"0.015"`` to an exact parts-per-billion integer."""
    value = Decimal(percent) * PPB / 100
    if value != value.to_integral_value() or value < 0:
        raise DomainError(f"rate {percent}% is not a whole number of parts per billion")
    return int(value)


@dataclass(frozen=True, slots=True)
class TaxTable:
    """Sell-side tax rates (거래세 + 농특세) per market, each in force from a settlement date."""

    # market -> ascending ((settlement date from which it applies, rate in ppb), ...)
    steps: dict[Market, tuple[tuple[date, int], ...]]

    def rate(self, market: Market, settlement: date) -> int:
        """Rate in ppb for a sale of ``market`` that settles on ``settlement``."""
        steps = self.steps.get(market)
        if steps is None:
            steps = self.steps[Market.KOSPI]
        i = bisect_right([d for d, _ in steps], settlement) - 1
        if i < 0:
            raise DomainError(f"no sell-tax rate for {market} settling on {settlement}")
        return steps[i][1]


def _steps(*pairs: tuple[str, str]) -> tuple[tuple[date, int], ...]:
    return tuple((date.fromisoformat(d), rate_ppb(r)) for d, r in pairs)


_KOSPI_KOSDAQ = _steps(
    ("2023-01-01", "0.20"),
    ("2024-01-01", "0.18"),
    ("2025-01-01", "0.15"),
    ("2026-01-01", "0.20"),
)

KRX_SELL_TAX = TaxTable(
    steps={
        Market.KOSPI: _KOSPI_KOSDAQ,
        Market.KOSDAQ: _KOSPI_KOSDAQ,
        Market.KONEX: _steps(("2023-01-01", "0.10")),
        Market.ETF: _steps(("2023-01-01", "0")),
        Market.ETN: _steps(("2023-01-01", "0")),
        Market.ELW: _steps(("2023-01-01", "0")),
        Market.UNKNOWN: _KOSPI_KOSDAQ,
    }
)


@dataclass(frozen=True, slots=True)
class CostSchedule:
    """One broker's costs: commission rate and rounding, tax table and rounding.

    The default is Kiwoom's standard online plan on KRX: 0.015% truncated to 10 won; tax
    truncated to 1 won per fill.
    """

    commission_ppb: int = rate_ppb("0.015")
    commission_unit: int = 10
    tax_unit: int = 1
    taxes: TaxTable = field(default=KRX_SELL_TAX)
    # The part of a margin (신용) buy the broker lends; the rest is paid from the deposit.
    margin_loan_ppb: int = PPB

    def commission(self, amount: int) -> int:
        """Commission on one fill (or one estimated trade) of ``amount`` won."""
        raw = amount * self.commission_ppb // PPB
        return raw - raw % self.commission_unit

    def tax_rate(self, market: Market, trade_date: date) -> int:
        """Sell-tax rate in ppb for a sale executed on ``trade_date`` (looked up at T+2)."""
        return self.taxes.rate(market, krx.settlement_date(trade_date))

    def tax_at(self, amount: int, rate: int) -> int:
        """Tax on ``amount`` at ``rate`` ppb, truncated to the tax unit."""
        raw = amount * rate // PPB
        return raw - raw % self.tax_unit

    def tax(self, amount: int, market: Market, trade_date: date) -> int:
        """Sell tax on one fill of ``amount`` won executed on ``trade_date``."""
        return self.tax_at(amount, self.tax_rate(market, trade_date))

    @classmethod
    def from_config(
        cls,
        *,
        commission_percent: str = "0.015",
        commission_unit: int = 10,
        tax_unit: int = 1,
        margin_loan_percent: str = "100",
    ) -> CostSchedule:
        """A schedule from configuration values (percent as text, to stay exact)."""
        if commission_unit < 1 or tax_unit < 1:
            raise DomainError("rounding units must be at least 1 won")
        loan = rate_ppb(margin_loan_percent)
        if not 0 <= loan <= PPB:
            raise DomainError("margin_loan_percent must be between 0 and 100")
        return cls(
            commission_ppb=rate_ppb(commission_percent),
            commission_unit=commission_unit,
            tax_unit=tax_unit,
            margin_loan_ppb=loan,
        )


KIWOOM = CostSchedule()
KIS_BANKIS = CostSchedule.from_config(commission_percent="0.0140527", commission_unit=1)
