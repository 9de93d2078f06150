"""The account services of the web process, built once on top of its pools."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from nats.js import JetStreamContext
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from brokers.connectors import build_connectors
from brokers.factory import BrokerFactory
from brokers.quotes import Quotes
from core.admin.dead_letters import DeadLetterAdmin
from core.admin.logs import AdminLogs
from core.admin.strategies import AdminStrategies
from core.analytics.admin import PlatformAnalytics
from core.analytics.cache import AnalyticsCache
from core.analytics.service import UserAnalytics
from core.auth.accounts import Accounts
from core.auth.admin_users import AdminUsers
from core.auth.authenticator import Authenticator
from core.auth.resets import PasswordResets
from core.auth.tokens import TokenCodec
from core.clock import Clock
from core.commands import CommandPublisher
from core.connections.service import ConnectionService
from core.crypto import SecretBox
from core.events import EventPublisher
from core.halts import HaltStore
from core.mail import LogMailer, Mailer
from core.ratelimit import Rate, RateLimiter
from core.settings import Settings, parse_rate
from core.strategies.service import StrategyService
from core.strategies.strategy_validator import Limits


@dataclass
class Services:
    """Everything a route may call."""

    authenticator: Authenticator
    accounts: Accounts
    resets: PasswordResets
    admin_users: AdminUsers
    limiter: RateLimiter
    strategies: StrategyService
    halts: HaltStore
    brokers: BrokerFactory
    quotes: Quotes
    connections: ConnectionService
    admin_strategies: AdminStrategies
    dead_letters: DeadLetterAdmin
    admin_logs: AdminLogs
    analytics: UserAnalytics
    platform_analytics: PlatformAnalytics


def build_mailer(settings: Settings) -> Mailer:
    """The configured mail sender (MVP: log + outbox file in the data dir)."""
    return LogMailer(settings.data_dir / "outbox")


def build_services(settings: Settings, clock: Clock, sessions: async_sessionmaker[AsyncSession],
                   redis: Redis, js: JetStreamContext) -> Services:
    """Wire the services from settings and pools."""
    codec = TokenCodec(settings, clock)
    analytics_cache = AnalyticsCache(redis, clock, settings.analytics_cache_ttl_s)
    brokers = BrokerFactory(settings, sessions, redis, clock)
    authenticator = Authenticator(sessions, redis, codec, clock, settings.stream_ticket_ttl_s,
                                  user_rate=Rate(*parse_rate(settings.ratelimit_user)))
    strategies = StrategyService(sessions, redis, EventPublisher(js, clock), clock, Limits(
        max_quantity=settings.max_quantity,
        max_stop_loss_pct=Decimal(str(settings.max_stop_loss_pct)),
        max_trailing_sl_pct=Decimal(str(settings.max_trailing_sl_pct)),
        paper_always_open=settings.paper_always_open), commands=CommandPublisher(js))
    return Services(
        authenticator=authenticator,
        accounts=Accounts(sessions, codec, authenticator, clock, settings.bcrypt_rounds),
        resets=PasswordResets(sessions, build_mailer(settings), clock,
                              settings.password_reset_ttl_s, settings.bcrypt_rounds,
                              authenticator),
        admin_users=AdminUsers(sessions, clock, settings.bcrypt_rounds, authenticator,
                               strategies),
        limiter=RateLimiter(redis),
        strategies=strategies,
        halts=HaltStore(sessions, redis),
        brokers=brokers,
        quotes=Quotes(sessions, redis, brokers),
        connections=ConnectionService(
            sessions, redis, SecretBox(settings.encryption_key_map),
            build_connectors(settings, clock), clock,
            login_ttl_s=settings.broker_login_ttl_s,
            check_timeout_s=settings.broker_check_timeout_s,
            feed_credential_id=settings.feed_broker_credential),
        admin_strategies=AdminStrategies(sessions, strategies),
        dead_letters=DeadLetterAdmin(js, sessions),
        admin_logs=AdminLogs(sessions),
        analytics=UserAnalytics(sessions, analytics_cache, clock),
        platform_analytics=PlatformAnalytics(sessions, analytics_cache, clock),
    )
