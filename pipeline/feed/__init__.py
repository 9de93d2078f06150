"""Feed: tick sources → `ticks.>` and the LTP cache (RUN-2)."""
