"""`algo backup DIR` / `algo restore DIR` for the embedded default (TASK-176, OPS-5).

A backup directory holds `manifest.json` (what, when, sizes and SHA-256 of each file, the
schema revision, stream states, and the encryption key ids in use, never the keys),
`postgres.dump` (pg_dump custom format) and one `<STREAM>.snapshot` per file-backed stream
(COMMANDS, EVENTS, DLQ; TICKS is a memory stream of one day's prices, not backed up).
Redis is not backed up: it is runtime state rebuilt from PostgreSQL. docs/operations.md
covers real deployments.
"""
