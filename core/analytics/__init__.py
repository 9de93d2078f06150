"""Analytics (ANA-1…ANA-3): P&L and order figures of users and of the platform.

- `figures` — the answer shapes and the arithmetic over day rows;
- `service` — a user's summary, performance by period and per-strategy figures;
- `admin` — platform, user growth and order volume for admins;
- `rollup` — the idempotent daily rollup into `daily_user_stats` / `daily_broker_stats`;
- `cache` — 5-minute Redis cache, a user's answers dropped on each new fill.

The SQL lives in `core.repos.analytics_*`; P&L is `core.risk.round_trip_pnl`. Real and
simulated (playground) results are never mixed: every query takes `simulated`.
"""
