"""The Quart web process: REST API, SSE and the admin API (DESIGN §1)."""
