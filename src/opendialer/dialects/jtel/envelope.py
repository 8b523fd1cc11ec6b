"""The jtel response envelopes and the error that carries a status (spec 001 §1.1, G3)."""

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

Record = dict[str, Any]

# The native errors' 422 ("well formed but wrong") has no place in jtel's documented codes:
# a request the server cannot act on is a 400 there.
_STATUS_MAP = {422: 400}


class JtelError(Exception):
    """An answer other than 200: ``{"status": <code>, "message": ...}`` with that HTTP code."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.headers = headers
        self.status = _STATUS_MAP.get(status, status)
        self.message = message
        self.code = code

    def response(self) -> JSONResponse:
        body: Record = {"status": self.status, "message": self.message}
        if self.code:
            body["code"] = self.code
        headers = {"WWW-Authenticate": 'Basic realm="jtel"'} if self.status == 401 else None
        headers = {**(headers or {}), **(self.headers or {})}
        return JSONResponse(body, status_code=self.status, headers=headers)


def bad_request(message: str) -> JtelError:
    return JtelError(400, message, "bad_request")


def not_found(message: str) -> JtelError:
    return JtelError(404, message, "not_found")


def listing(records: Sequence[Record], order_by: str) -> Record:
    """(a) The "retrieve all" envelope; paging and filtering are reserved, so all rows come."""
    return {
        "filter": "",
        "limitStart": 0,
        "limitPageSize": -1,
        "records": list(records),
        "count": len(records),
        "orderBy": order_by,
        "ascending": True,
        "status": 200,
    }


def records(rows: Sequence[Record]) -> Record:
    """(b) The records envelope."""
    return {"records": list(rows), "count": len(rows), "status": 200}


def status_only() -> Record:
    """(c) The status-only envelope of delete, lock, unlock and reset."""
    return {"status": 200}
