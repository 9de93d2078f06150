"""Admin use cases across users (ADM-2, ADM-4, ADM-5): strategies, dead letters, logs."""
