"""What the platform reports about itself: heartbeats, JetStream consumers, the NATS
server, broker connections, health verdicts and metrics (OPS-1, OPS-2, ADM-3)."""
