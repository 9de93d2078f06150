"""Notifier: events → notifications (LIVE-4)."""
