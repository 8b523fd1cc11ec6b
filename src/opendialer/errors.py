"""One error type for the native API (its handlers are in ``opendialer.web.errors``).

Body: ``{"error": {"code": "...", "message": "...", "details": ...}}``.
Dialects catch :class:`OpendialerError` themselves and render their own vocabulary.
"""

from typing import Any

RETRY_AFTER_SECONDS = 1


class OpendialerError(Exception):
    status_code = 400
    code = "bad_request"
    headers: dict[str, str] | None = None  # e.g. Retry-After on a 429

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Any = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class BadRequest(OpendialerError):
    status_code = 400
    code = "bad_request"


class Unauthorized(OpendialerError):
    status_code = 401
    code = "unauthorized"


class Forbidden(OpendialerError):
    status_code = 403
    code = "forbidden"


class NotFound(OpendialerError):
    status_code = 404
    code = "not_found"

    def __init__(self, resource: str, key: object) -> None:
        super().__init__(f"{resource} {key} not found", details={"resource": resource, "id": key})


class Conflict(OpendialerError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(OpendialerError):
    status_code = 413
    code = "payload_too_large"


class DatabaseBusy(OpendialerError):
    """A caller waited too long for its turn at the database (503, ``Retry-After``).

    Raised by db.py's queues; every face that renders :class:`OpendialerError` answers it in
    its own vocabulary instead of a 500. The message says which wait it was."""

    status_code = 503
    code = "database_busy"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}


class InvalidPhoneNumber(OpendialerError):
    status_code = 422
    code = "invalid_phone_number"


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}
