"""Broker adapters behind one BaseBroker interface (DESIGN §2)."""
