"""Request logging with a trace id per request (`X-Request-ID` in, and back out), and the
HTTP latency histogram by route and status (web/prometheus.py)."""

from __future__ import annotations

import logging
import time

from quart import Quart, Response, g, request

from core.trace import REQUEST_ID_HEADER, clean_trace_id, new_trace_id, set_trace_id
from web.prometheus import observe_request

log = logging.getLogger("algo.web.access")

_QUIET_PATHS = frozenset({"/health/live", "/metrics"})


def register_request_logging(app: Quart) -> None:
    """Give every request a trace id and log one line when it completes."""

    @app.before_request
    async def _start() -> None:
        trace_id = clean_trace_id(request.headers.get(REQUEST_ID_HEADER)) or new_trace_id()
        set_trace_id(trace_id)
        g.trace_id = trace_id
        g.started = time.perf_counter()

    @app.after_request
    async def _finish(response: Response) -> Response:
        trace_id = getattr(g, "trace_id", None)
        if trace_id:
            response.headers[REQUEST_ID_HEADER] = trace_id
        started = getattr(g, "started", None)
        elapsed = time.perf_counter() - started if started else None
        duration_ms = round(elapsed * 1000, 2) if elapsed is not None else None
        if elapsed is not None:
            rule = request.url_rule
            observe_request(request.method, rule.rule if rule is not None else "unmatched",
                            response.status_code, elapsed)
        level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
        log.log(level, "%s %s %s", request.method, request.path, response.status_code,
                extra={"method": request.method, "path": request.path,
                       "status": response.status_code, "duration_ms": duration_ms,
                       "remote_addr": request.remote_addr})
        return response
