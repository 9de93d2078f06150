"""The embedded default (DESIGN §9): real NATS, PostgreSQL and Redis servers from PyPI.

`algo up` and the test fixtures start them the same way, through `EmbeddedStack`.
Start them from the main thread: children are tied to the starting thread's life.
"""
