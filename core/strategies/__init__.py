"""Strategies: validation, lifecycle, runtime state (STR-1…STR-5)."""
