"""Pipeline services: feed, trigger, slwatch, executor, notifier (DESIGN §1)."""
