"""Estimated charges of an intraday equity round trip (MIS, NSE/BSE cash), in rupees.

Rates as of 2026 (all configurable, `ALGO_CHARGES_*`):

    brokerage     0.03% of each executed order, at most ₹20 per order — the discount
                  brokers' intraday rate (zerodha.com/charges, dhan.co/pricing,
                  fyers.in/pricing, angelone.in/exchange-transaction-charges)
    STT           0.025% of the sell value (Securities Transaction Tax, Finance Act 2004
                  as amended; intraday equity unchanged by the 2024 Budget)
    exchange fee  0.00297% of the turnover, NSE cash (NSE circular NSE/FA/64230, uniform
                  rate from 1 Oct 2024; BSE cash 0.00375%)
    SEBI fee      ₹10 per crore of turnover = 0.0001% (SEBI fees regulations, 2014)
    GST           18% of brokerage + exchange fee + SEBI fee (IGST on financial services)
    stamp duty    0.003% of the buy value (Indian Stamp Act as amended, from 1 Jul 2020)

Each charge is rounded to the paisa (half up), GST on the rounded parts, as contract notes do.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from core.settings import Settings

PAISA = Decimal("0.01")
ZERO = Decimal("0.00")


def paise(value: Decimal) -> Decimal:
    """Rounded to the paisa, half up."""
    return value.quantize(PAISA, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ChargeRates:
    """Fractions of the traded value (and the brokerage cap in rupees)."""

    brokerage_rate: Decimal = Decimal("0.0003")
    brokerage_cap: Decimal = Decimal("20")
    stt_sell_rate: Decimal = Decimal("0.00025")
    exchange_rate: Decimal = Decimal("0.0000297")
    sebi_rate: Decimal = Decimal("0.000001")
    gst_rate: Decimal = Decimal("0.18")
    stamp_buy_rate: Decimal = Decimal("0.00003")

    @classmethod
    def from_settings(cls, settings: Settings) -> ChargeRates:
        """The rates of `ALGO_CHARGES_*`."""
        return cls(brokerage_rate=Decimal(settings.charges_brokerage_rate),
                   brokerage_cap=Decimal(settings.charges_brokerage_cap),
                   stt_sell_rate=Decimal(settings.charges_stt_sell_rate),
                   exchange_rate=Decimal(settings.charges_exchange_rate),
                   sebi_rate=Decimal(settings.charges_sebi_rate),
                   gst_rate=Decimal(settings.charges_gst_rate),
                   stamp_buy_rate=Decimal(settings.charges_stamp_buy_rate))


@dataclass(frozen=True, slots=True)
class Charges:
    """The charges of one round trip, each in rupees."""

    brokerage: Decimal
    stt: Decimal
    exchange: Decimal
    sebi: Decimal
    gst: Decimal
    stamp: Decimal

    @property
    def total(self) -> Decimal:
        """Everything together."""
        return self.brokerage + self.stt + self.exchange + self.sebi + self.gst + self.stamp


NO_CHARGES = Charges(ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


def _brokerage(value: Decimal, rates: ChargeRates) -> Decimal:
    if value <= 0:
        return ZERO
    return paise(min(value * rates.brokerage_rate, rates.brokerage_cap))


def charges(buy_value: Decimal, sell_value: Decimal, rates: ChargeRates) -> Charges:
    """The charges of buying for `buy_value` and selling for `sell_value` (rupees; 0 for a
    leg that did not trade)."""
    turnover = buy_value + sell_value
    brokerage = _brokerage(buy_value, rates) + _brokerage(sell_value, rates)
    exchange = paise(turnover * rates.exchange_rate)
    sebi = paise(turnover * rates.sebi_rate)
    return Charges(brokerage=brokerage, stt=paise(sell_value * rates.stt_sell_rate),
                   exchange=exchange, sebi=sebi,
                   gst=paise((brokerage + exchange + sebi) * rates.gst_rate),
                   stamp=paise(buy_value * rates.stamp_buy_rate))
