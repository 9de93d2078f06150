"""Pieces every real broker adapter shares: the classified HTTP client, request pacing,
the instrument-master store and the reconnecting WebSocket."""
