"""The one error handler: every failure leaves as `{error_code, message, details, trace_id}`."""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, jsonify
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from core import error_codes
from core.error_codes import ErrorCode
from core.errors import AlgoError, RateLimited
from core.trace import current_trace_id

log = logging.getLogger("algo.web.errors")

_HTTP_CODES: dict[int, ErrorCode] = {
    400: error_codes.VAL_MALFORMED,
    404: error_codes.SYS_NOT_FOUND,
    405: error_codes.SYS_METHOD_NOT_ALLOWED,
    413: error_codes.VAL_TOO_LARGE,
    415: error_codes.VAL_MALFORMED,
}


def error_response(code: ErrorCode, message: str | None = None, details: Any = None,
                   status: int | None = None) -> Response:
    """A JSON error body in the catalogued format."""
    response = jsonify({
        "error_code": code.code,
        "message": message or code.message,
        "details": details if details is not None else {},
        "trace_id": current_trace_id(),
    })
    response.status_code = status or code.status
    return response


def _validation_details(exc: RequestSchemaValidationError) -> list[dict[str, Any]]:
    error = exc.validation_error
    if isinstance(error, ValidationError):
        return [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"],
                 "type": e["type"]} for e in error.errors(include_input=False)]
    return [{"field": "", "message": str(error), "type": "invalid"}]


def register_error_handlers(app: Quart) -> None:
    """Map every exception to the standard error body."""

    @app.errorhandler(AlgoError)
    async def _algo_error(exc: AlgoError) -> Response:
        response = error_response(exc.code, exc.message, exc.details)
        if isinstance(exc, RateLimited):
            response.headers["Retry-After"] = str(exc.retry_after)
        if exc.status >= 500:
            log.error("request failed: %s", exc.message, extra={"error_code": exc.code.code})
        return response

    @app.errorhandler(RequestSchemaValidationError)
    async def _schema_error(exc: RequestSchemaValidationError) -> Response:
        return error_response(error_codes.VAL_INVALID, details=_validation_details(exc))

    @app.errorhandler(HTTPException)
    async def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = _HTTP_CODES.get(status, error_codes.SYS_INTERNAL)
        response = error_response(code, status=status)
        if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
            response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        return response

    @app.errorhandler(Exception)
    async def _unexpected(exc: Exception) -> Response:
        # The details stay in the log (with the trace id); the client learns nothing internal.
        log.exception("unhandled error", exc_info=exc)
        return error_response(error_codes.SYS_INTERNAL)
