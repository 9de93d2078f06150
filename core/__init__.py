"""Shared foundation: settings, ids, time, errors, logging, storage, NATS schemas.

`core` imports none of the other packages (DESIGN §2).
"""
