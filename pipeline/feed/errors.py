"""Why the feed could not do what it was asked.

    FeedError
    ├── FeedConfigError     fatal: the configuration names something unusable; the
    │   │                   service refuses to start
    │   └── UnknownSource   a name in ALGO_FEED_SOURCES that no source answers to
    └── SourceFailed        retryable: a source broke; its runner restarts it with backoff
"""

from __future__ import annotations


class FeedError(Exception):
    """Base of the feed's own errors."""


class FeedConfigError(FeedError):
    """The feed's configuration is unusable (a fatal start-up error)."""


class UnknownSource(FeedConfigError):
    """`feed_sources` names a source that does not exist."""


class SourceFailed(FeedError):
    """A tick source broke; the runner closes, restarts and resubscribes it."""
