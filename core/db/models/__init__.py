"""Every table model; importing this package registers them all on `Base.metadata`."""

from core.db.models.analytics_rollup import AnalyticsRollupDay, DailyBrokerStats
from core.db.models.audit_log import AuditLog
from core.db.models.broker_credential import BrokerCredential
from core.db.models.daily_user_stats import DailyUserStats
from core.db.models.dlq_retry import DlqRetry
from core.db.models.error_log import ErrorLog
from core.db.models.halt import Halt
from core.db.models.instrument import Instrument
from core.db.models.notification import Notification, NotificationPreference
from core.db.models.order import Order
from core.db.models.order_log import OrderLog
from core.db.models.paper_order import PaperOrder
from core.db.models.password_reset import PasswordReset
from core.db.models.playground_run import PlaygroundRun
from core.db.models.refresh_token import RefreshToken
from core.db.models.strategy import Strategy
from core.db.models.trading_calendar_override import TradingCalendarOverride
from core.db.models.trading_calendar_year import TradingCalendarYear
from core.db.models.user import User

__all__ = [
    "AnalyticsRollupDay",
    "AuditLog",
    "BrokerCredential",
    "DailyBrokerStats",
    "DailyUserStats",
    "DlqRetry",
    "ErrorLog",
    "Halt",
    "Instrument",
    "Notification",
    "NotificationPreference",
    "Order",
    "OrderLog",
    "PaperOrder",
    "PasswordReset",
    "PlaygroundRun",
    "RefreshToken",
    "Strategy",
    "TradingCalendarOverride",
    "TradingCalendarYear",
    "User",
]
