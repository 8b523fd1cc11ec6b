"""How a jtel request runs: Basic auth, one transaction, and every failure in the jtel envelope.

The routes own their transaction instead of using the ``DbSession`` dependency: the native error
handlers would otherwise answer for them, and an error turned into a response inside the route
would let that dependency commit. Here the transaction is rolled back first, then the error is
rendered ``{"status": <code>, "message": ...}`` with the same HTTP code.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from opendialer.accounts.guard import Face, client_address
from opendialer.accounts.service import Tenant, authenticate_user, get_tenant
from opendialer.db import READ_METHODS, run_unit_of_work
from opendialer.dialects.jtel.envelope import JtelError, Record, bad_request
from opendialer.dialects.jtel.schemas import jtel_message
from opendialer.dialects.kit import CredentialsProblem, basic_credentials, failure_of
from opendialer.inputs import MAX_DB_INT, InputRejected, loads_json, parse_int, text_problem
from opendialer.scoping import Scope, UserRole, require_role
from opendialer.web.state import app_state, auth_guard


@dataclass
class Call:
    """One request, parsed: the tenant it acts for and its inputs."""

    session: Session
    tenant: Tenant
    scope: Scope
    path: dict[str, str]
    query: dict[str, str]  # names lower-cased: jtel renamed them over time (G9)
    body: Any
    now: datetime

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tenant.timezone)

    def path_id(self, name: str) -> int:
        return parse_id(self.path[name], name)

    def query_text(self, name: str, *, required: bool = True) -> str | None:
        value = self.query.get(name.lower())
        if value is None and required:
            raise bad_request(f"The query parameter {name} is missing")
        problem = None if value is None else text_problem(value)
        if problem is not None:
            raise bad_request(f"{name} {problem}")
        return value

    def query_int(self, name: str, *, required: bool = True) -> int | None:
        value = self.query_text(name, required=required)
        return None if value is None else parse_id(value, name)

    def query_bool(self, name: str) -> bool | None:
        value = self.query_text(name, required=False)
        if value is None or value == "":
            return None
        lowered = value.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise bad_request(f"{name} must be true or false")
        return lowered in ("true", "1")

    def json_object(self) -> dict[str, Any]:
        if not isinstance(self.body, dict):
            raise bad_request("The request body must be a JSON object")
        return self.body


def parse_id(text: str, name: str) -> int:
    try:
        return parse_int(text, 1, MAX_DB_INT)
    except InputRejected:
        raise bad_request(f"{name} must be a positive integer") from None


Handler = Callable[[Call], Record]


def _credentials(request: Request) -> tuple[str, str]:
    try:
        return basic_credentials(request)
    except CredentialsProblem as problem:
        message = "Send HTTP Basic credentials of a portal user"
        raise JtelError(
            401, message if problem.missing else "Malformed Basic credentials", "unauthorized"
        ) from None


async def _body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return loads_json(raw)
    except InputRejected as exc:
        raise bad_request(f"The request body is not valid JSON: {exc}") from None


def _as_jtel(exc: Exception) -> JtelError:
    if isinstance(exc, JtelError):
        return exc
    failure = failure_of(exc, "jtel")
    if isinstance(exc, ValidationError):
        return bad_request(jtel_message(failure.message))
    if not failure.expected:
        return JtelError(500, "An unexpected error occurred", "internal_error")
    return JtelError(failure.status, failure.message, failure.code, failure.headers)


def _run(
    session: Session, *, request: Request, handler: Handler, body: Any, credentials: tuple[str, str]
) -> Record:
    name, password = credentials
    with auth_guard(request).attempt(Face.JTEL, name, client_address(request)):
        principal = authenticate_user(session, name, password)
    require_role(principal, UserRole.SUPERVISOR)  # jtel's portal API: supervisors and admins
    call = Call(
        session=session,
        tenant=get_tenant(session, principal),
        scope=principal,
        path=dict(request.path_params),
        query={k.lower(): v for k, v in request.query_params.items()},
        body=body,
        now=datetime.now(UTC),
    )
    return handler(call)


def endpoint(handler: Handler, *, reads_body: bool = False) -> Callable[..., Any]:
    async def route(request: Request) -> JSONResponse:
        try:
            credentials = _credentials(request)
            body = await _body(request) if reads_body else None
            answer = await run_unit_of_work(
                app_state(request).sessions,
                partial(_run, request=request, handler=handler, body=body, credentials=credentials),
                writes=request.method not in READ_METHODS,
            )
        except ClientDisconnect:
            return JtelError(400, "The client disconnected").response()
        except Exception as exc:
            return _as_jtel(exc).response()
        return JSONResponse(answer)

    route.__name__ = handler.__name__
    route.__doc__ = handler.__doc__
    return route


def add(
    router: APIRouter, method: str, path: str, handler: Handler, *, reads_body: bool = False
) -> None:
    """Register ``handler``; literal paths must be added before ``{id}`` ones (spec §3 note)."""
    router.add_api_route(
        path,
        endpoint(handler, reads_body=reads_body),
        methods=[method],
        summary=(handler.__doc__ or handler.__name__).strip().splitlines()[0],
    )


def not_routed(request: Request) -> JSONResponse:
    return JtelError(404, f"No jtel function at {request.url.path}", "not_found").response()
