"""The native API's error handlers: every error, ours or the framework's, in one body.

Body: ``{"error": {"code": "...", "message": "...", "details": ...}}``.
"""

import sqlite3
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from opendialer.errors import RETRY_AFTER_SECONDS, OpendialerError, error_body


def _render(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = error_body(code, message, details)
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _opendialer_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OpendialerError)
    return _render(exc.status_code, exc.code, exc.message, exc.details, exc.headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "type": e.get("type"), "msg": e.get("msg")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return _render(400, "malformed_json", "The request body is not valid JSON", errors)
    return _render(422, "validation_error", "The request is not valid", errors)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
        exc.status_code, "http_error"
    )
    return _render(exc.status_code, code, str(exc.detail))


async def _integrity_error(_request: Request, exc: Exception) -> JSONResponse:
    """A uniqueness race the service checks could not see: the database is the last guard."""
    return _render(409, "conflict", "The change conflicts with an existing record")


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    return _render(422, "invalid_value", "A value is out of range for its field")


async def _unexpected_error(_request: Request, _exc: Exception) -> JSONResponse:
    return _render(500, "internal_error", "An unexpected error occurred")


def _unavailable(exc: DBAPIError) -> bool:
    """The database server was lost or cannot be reached: worth retrying, unlike a bug.

    SQLite reports mistakes in SQL as operational errors too, so only a server's count.
    """
    from_server = not isinstance(exc.orig, sqlite3.Error)
    return exc.connection_invalidated or (from_server and isinstance(exc, OperationalError))


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if not _unavailable(exc):
        return await _unexpected_error(request, exc)
    message = "The database cannot be reached right now; retry in a moment"
    response = _render(503, "database_unavailable", message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(OpendialerError, _opendialer_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected_error)
