"""The error log (ADM-4): ERROR and CRITICAL records of every process, kept in `error_logs`.

    logging.Handler (caller's thread, never blocks) ─► bounded buffer ─► writer task
        (batched INSERT; CRITICAL ─► admin ERROR event + a notification for each admin)
"""

from core.errorlog.records import ErrorBuffer, ErrorEntry, ErrorLogHandler
from core.errorlog.writer import ErrorLogWriter, start_error_log

__all__ = ["ErrorBuffer", "ErrorEntry", "ErrorLogHandler", "ErrorLogWriter", "start_error_log"]
