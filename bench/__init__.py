"""Benchmarks: each script starts its own servers and prints one JSON object last."""
