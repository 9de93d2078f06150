"""Broker connections: credentials in, sealed at rest, checked, expired and gated (BRK-7…10)."""
