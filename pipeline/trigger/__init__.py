"""Trigger: BUY and SELL at the strategies' times (RUN-1)."""
