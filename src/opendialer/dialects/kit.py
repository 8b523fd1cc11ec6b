"""The dialect kit: what every vendor face does the same way, so a face only translates.

- ``basic_credentials``: HTTP Basic read once (jtel, mmDial), each face words its own refusal;
- ``failure_of``: any error of the core (a service's ``OpendialerError``, a schema's
  ``ValidationError``, the database's refusals, a client that went away, a bug) as one
  ``Failure`` (HTTP status, stable code, message) that the face renders in its own envelope;
- ``answer_all_paths``: the face's catch-all, so an unknown function or a wrong method under the
  face's prefix is answered in the vendor's envelope, never the native error body;
- ``credential_acts``: a face that authenticates with a vendor credential rather than a user
  names it for the audit trail (users and API keys are named where they are checked).

The handler's one unit of work is the database's (``db.run_unit_of_work`` or the request's
``DbSession``): a failure rolls it back before the face renders the failure.
"""

import base64
import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from starlette.requests import ClientDisconnect

from opendialer.audit.context import act_with
from opendialer.errors import OpendialerError
from opendialer.scoping import Scope

log = logging.getLogger(__name__)

ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MAX_VALIDATION_ERRORS = 10


class CredentialsProblem(Exception):
    """No usable HTTP Basic credentials; ``missing`` tells none from malformed ones."""

    def __init__(self, *, missing: bool) -> None:
        super().__init__("missing" if missing else "malformed")
        self.missing = missing


def basic_credentials(request: Request) -> tuple[str, str]:
    """The user name and password of an ``Authorization: Basic`` header."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise CredentialsProblem(missing=True)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise CredentialsProblem(missing=False) from None
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise CredentialsProblem(missing=False)
    return username, password


@dataclass(frozen=True)
class Failure:
    """An error of the core, for a face to word: the native status and code, a message."""

    status: int
    code: str
    message: str
    fields: object = None  # the fields a service named as wrong, if it named them
    expected: bool = True  # False: a bug, logged here, worded by the face as its own 500
    headers: dict[str, str] | None = None  # e.g. Retry-After on a busy database's 503

    @property
    def message_with_fields(self) -> str:
        return f"{self.message}: {self.fields}" if self.fields else self.message


def failure_of(exc: BaseException, face: str) -> Failure:
    """Any exception a handler raised, as one ``Failure``; the unexpected ones are logged."""
    if isinstance(exc, OpendialerError):
        details = exc.details if isinstance(exc.details, dict) else {}
        fields = details.get("fields")
        return Failure(exc.status_code, exc.code, exc.message, fields, headers=exc.headers)
    if isinstance(exc, ValidationError):
        return Failure(422, "validation_error", validation_message(exc))
    if isinstance(exc, IntegrityError):
        return Failure(409, "conflict", "The change conflicts with an existing record")
    if isinstance(exc, DataError):
        return Failure(422, "invalid_value", "A value is out of range for its field")
    if isinstance(exc, ClientDisconnect):
        return Failure(400, "client_disconnected", "The client disconnected")
    if isinstance(exc, SQLAlchemyError):
        log.warning("%s: the database refused the change: %s", face, type(exc).__name__)
        return Failure(500, "database_error", "The database rejected the change", False)
    log.error("%s request failed", face, exc_info=exc)
    return Failure(500, "internal_error", "An unexpected error occurred", False)


def validation_message(
    exc: ValidationError, *, limit: int = MAX_VALIDATION_ERRORS, unnamed: str | None = "body"
) -> str:
    """The first ``limit`` errors of a schema, ``where: what``, joined; ``unnamed`` is the
    ``where`` of an error without a location (none: the message alone)."""
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(part) for part in error.get("loc", ())) or unnamed
        parts.append(f"{where}: {error.get('msg')}" if where else str(error.get("msg")))
    return "; ".join(parts)


def answer_all_paths(
    router: APIRouter, answer: Callable[[Request], Response], *, prefix: str = ""
) -> None:
    """Last route of a face: whatever else arrives under ``prefix`` (an unknown function, a
    method the function does not take) gets ``answer``, in the face's own envelope."""
    router.add_api_route(
        prefix + "/{path:path}", answer, methods=ANY_METHOD, include_in_schema=False
    )


def credential_acts(face: str, credential: str, scope: Scope | None = None) -> None:
    """The audit trail names ``credential`` (a safe prefix, never the secret) as the actor of
    what this request changes (in ``scope``'s tenant, where the face knows it)."""
    act_with(f"{face}:{credential}", scope)
