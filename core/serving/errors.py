"""HTTP errors of the server: one JSON shape, `{"error": {"code", "message"}}`, no traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from core.base.errors import ImageDecodeError, MarqueeError, shorten

log = logging.getLogger("marquee.serve")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "undecodable_image",
    503: "overloaded",
    504: "timeout",
}


class ApiError(Exception):
    """A request the server answers with a 4xx/5xx status and a plain message."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, shorten(message, 400)
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def from_marquee_error(exc: MarqueeError) -> ApiError:
    """Core's user errors are the client's fault: bad images 422, anything else 400."""
    if isinstance(exc, ImageDecodeError):
        return ApiError(422, "undecodable_image", str(exc))
    return ApiError(400, "bad_request", str(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as `{"error": {...}}`; unknown exceptions are a logged 500."""

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(MarqueeError)
    async def _marquee_error(_request: Request, exc: MarqueeError) -> JSONResponse:
        return error_response(from_marquee_error(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        error = ApiError(exc.status_code, code, message, dict(exc.headers or {}))
        return error_response(error)

    @app.exception_handler(ClientDisconnect)
    async def _gone(_request: Request, _exc: ClientDisconnect) -> JSONResponse:
        # Nobody will read this answer; it only keeps a vanished client out of the 5xx counts.
        return error_response(ApiError(400, "client_disconnected", "The client went away."))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid value')}" if where else "invalid request"
        return error_response(ApiError(400, "bad_request", message))

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected server error", exc_info=exc)
        body = error_body("internal", "Internal server error; the details are in the server log.")
        return JSONResponse(body, status_code=500)
