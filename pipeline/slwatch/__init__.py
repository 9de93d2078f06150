"""SL watcher: stop-loss breach → exit command (RUN-4)."""
