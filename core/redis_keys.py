"""Every Redis key the platform uses, built in one place (DESIGN §5)."""

from __future__ import annotations


def strategy_state(user_id: str, strategy_id: str) -> str:
    """The runtime copy of a running strategy."""
    return f"user:{user_id}:strategy:{strategy_id}"


RUNNING_STRATEGIES = "strategies:running"
"""Set of `{user_id}:{strategy_id}` of every running strategy (the runtime index)."""


def ltp(exchange: str, symbol: str) -> str:
    """The last traded price of a symbol, in paise."""
    return f"ltp:{exchange}:{symbol}"


def order_lock(strategy_id: str, action: str) -> str:
    """The executor's short lock on one order intent."""
    return f"lock:order:{strategy_id}:{action}"


def rate_limit(scope: str, key: str) -> str:
    """A rate-limit bucket."""
    return f"ratelimit:{scope}:{key}"


def denylisted_jti(jti: str) -> str:
    """An access token revoked before its expiry."""
    return f"denylist:jti:{jti}"


def auth_epoch(user_id: str) -> str:
    """A random value replaced whenever the user's account changes (core/auth/view_cache)."""
    return f"auth:epoch:{user_id}"


def revoked_session(session_id: str) -> str:
    """A session ended before its access tokens expired (logout, reset, reuse, admin)."""
    return f"revoked:session:{session_id}"


def stream_ticket(ticket_hash: str) -> str:
    """A single-use SSE ticket (stored by hash, consumed with GETDEL)."""
    return f"stream_ticket:{ticket_hash}"


HALT_GLOBAL = "halt:global"
HALTS_RESTORED = "halts:restored"
"""Set when Redis holds the halts of PostgreSQL; its absence means Redis lost them."""


def halt_user(user_id: str) -> str:
    """The per-user kill switch."""
    return f"halt:user:{user_id}"


def heartbeat(role: str, instance: str) -> str:
    """A live service's heartbeat, expiring when it stops beating."""
    return f"heartbeat:{role}:{instance}"


HEARTBEAT_PATTERN = "heartbeat:*"


PAPER_FAULTS = "paper:faults"
"""Hash of the paper broker's fault switches: `mode` or `mode:{account}` → remaining count."""


def trigger_fired(trading_day: str) -> str:
    """The set of `{strategy_id}:{action}` the trigger has fired on one trading day."""
    return f"trigger:fired:{trading_day}"


def trigger_missed(trading_day: str) -> str:
    """The set of triggers reported as missed on one trading day (one report each)."""
    return f"trigger:missed:{trading_day}"


def broker_login_state(state: str) -> str:
    """A pending broker login (OAuth `state`): who started it, for which connection."""
    return f"broker:login:{state}"


def broker_health(credential_id: str) -> str:
    """The last reachability probe of a broker connection (JSON, expires after a day)."""
    return f"broker:health:{credential_id}"


def trigger_held(trading_day: str) -> str:
    """The set of BUYs the readiness gate held on one trading day (one ERROR event each)."""
    return f"trigger:held:{trading_day}"


def analytics_user(user_id: str) -> str:
    """Hash of a user's cached analytics answers (field: query and its parameters)."""
    return f"analytics:user:{user_id}"


def analytics_generation(user_id: str) -> str:
    """A user's analytics generation, bumped by every new fill: an answer computed under an
    older generation is never served."""
    return f"analytics:gen:{user_id}"


def analytics_admin(query: str) -> str:
    """A cached platform-wide analytics answer (query and its parameters)."""
    return f"analytics:admin:{query}"


def trigger_decided(trading_day: str) -> str:
    """Hash `{strategy_id}:{action}` → `fire` or `missed`: the one decision on an entry that
    came late or was held (HSETNX: the first replica's decision stands)."""
    return f"trigger:decided:{trading_day}"


def trigger_held_reasons(trading_day: str) -> str:
    """Hash `{strategy_id}:{action}` → why the readiness gate first held that BUY that day."""
    return f"trigger:held_reasons:{trading_day}"
