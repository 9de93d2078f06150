"""Fake broker servers that speak each broker's real wire protocol (DESIGN §10)."""
