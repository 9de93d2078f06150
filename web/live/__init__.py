"""Live events over Server-Sent Events (LIVE-1…LIVE-3): one fan-out per web process."""
