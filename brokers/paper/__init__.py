"""The paper broker: fills market orders at the live LTP plus slippage; no real order can
leave it (BRK-6)."""

from brokers.paper.broker import PaperBroker
from brokers.paper.exchange import PaperConfig, PaperExchange
from brokers.paper.faults import Fault, FaultMode, PaperFaults
from brokers.paper.ticker import PaperTicker

__all__ = ["Fault", "FaultMode", "PaperBroker", "PaperConfig", "PaperExchange", "PaperFaults",
           "PaperTicker"]
