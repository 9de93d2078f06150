"""The playground's replay engine: a trading day through the real pipeline, in one process."""
